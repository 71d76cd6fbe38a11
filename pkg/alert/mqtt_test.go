package alert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotgw/iotgw/pkg/store"
)

// broker is a Debian mosquitto started by the test on 127.0.0.1 with a
// password file.
type broker struct {
	t    *testing.T
	addr string
	conf string
	cmd  *exec.Cmd
}

const (
	brokerUser = "iotgw"
	brokerPass = "br0ker-Pa55"
)

func startBroker(t *testing.T) *broker {
	t.Helper()
	return startBrokerWith(t, "")
}

// startBrokerWith adds extra to the broker's configuration (a second
// listener).
func startBrokerWith(t *testing.T, extra string) *broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // sbin is not on every user's PATH
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("mosquitto is missing: install the Debian package mosquitto (scripts/deps.sh test)")
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, err := exec.Command("mosquitto_passwd", "-c", "-b", pw, brokerUser, brokerPass).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if err := os.Chmod(pw, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	// user root: started as root, mosquitto would otherwise switch to its
	// own user, who cannot read the test's temporary directory.
	text := fmt.Sprintf("user root\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\nlog_dest stderr\n%s", port, pw, extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, addr: addr, conf: conf}
	b.cmd = exec.Command(bin, "-c", conf)
	b.start()
	t.Cleanup(b.stop)
	return b
}

// freeAddr is a loopback address with a port no one listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (b *broker) start() {
	b.t.Helper()
	b.cmd = exec.Command(b.cmd.Path, b.cmd.Args[1:]...)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	waitListening(b.t, b.addr)
}

func (b *broker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
}

// subscriber collects messages on a topic filter, retained ones included.
type subscriber struct {
	mu   sync.Mutex
	msgs map[string][]mqttMsg
	got  chan struct{}
	c    paho.Client
}

type mqttMsg struct {
	payload  string
	retained bool
}

func subscribe(t *testing.T, addr string, filters ...string) *subscriber {
	t.Helper()
	s := &subscriber{msgs: map[string][]mqttMsg{}, got: make(chan struct{}, 1000)}
	o := paho.NewClientOptions().AddBroker("mqtt://" + addr).SetClientID(fmt.Sprintf("test-sub-%d", time.Now().UnixNano())).
		SetUsername(brokerUser).SetPassword(brokerPass).SetAutoReconnect(false)
	s.c = paho.NewClient(o)
	if tok := s.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(0) })
	for _, f := range filters {
		tok := s.c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			s.mu.Lock()
			s.msgs[m.Topic()] = append(s.msgs[m.Topic()], mqttMsg{string(m.Payload()), m.Retained()})
			s.mu.Unlock()
			s.got <- struct{}{}
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	return s
}

// wait returns once n messages arrived in all.
func (s *subscriber) wait(t *testing.T, n int) map[string][]mqttMsg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-s.got:
		case <-timeout:
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("received %d of %d messages: %v", i, n, s.msgs)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]mqttMsg{}
	for k, v := range s.msgs {
		out[k] = append([]mqttMsg(nil), v...)
	}
	return out
}

func mqttSender(t *testing.T, addr, password string) *MQTT {
	t.Helper()
	s := buildSender(t, ChannelConfig{Type: TypeMQTT, URL: "mqtt://" + addr, Username: brokerUser, Password: password, ClientID: "iotgw-test"}).(*MQTT)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestMQTTHomeAssistantDiscovery(t *testing.T) {
	b := startBroker(t)
	live := subscribe(t, b.addr, "iotgw/alert")
	s := mqttSender(t, b.addr, brokerPass)
	finding := sampleAlert()
	q := FromQuarantine(store.Quarantine{MAC: mac(1), Mode: "block", Since: testClockNow(), By: store.ActorPolicy, Reason: "default credentials"},
		Device{Name: "Hall camera", Vendor: "Xiongmai"})
	q.ID = "alert-0002"
	for _, a := range []Alert{finding, q} {
		if err := s.Send(sendCtx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	alerts := live.wait(t, 2)["iotgw/alert"]
	if len(alerts) != 2 {
		t.Fatalf("alert topic got %v", alerts)
	}
	var first Alert
	if err := json.Unmarshal([]byte(alerts[0].payload), &first); err != nil || first.ID != "alert-0001" || first.Kind != KindDefaultCredentials || alerts[0].retained {
		t.Errorf("first alert message %v (%v)", alerts[0], err)
	}

	// Someone subscribing later (Home Assistant starting) gets the
	// retained discovery configs and the latest state.
	late := subscribe(t, b.addr, "homeassistant/#", "iotgw/+/state")
	got := late.wait(t, 3)
	const id = "iotgw_c056e3000001"
	bin := got["homeassistant/binary_sensor/"+id+"/quarantine/config"]
	sensor := got["homeassistant/sensor/"+id+"/state/config"]
	state := got["iotgw/c056e3000001/state"]
	if len(bin) != 1 || len(sensor) != 1 || len(state) != 1 || !bin[0].retained || !state[0].retained {
		t.Fatalf("retained messages: %v", got)
	}
	wantDevice := map[string]any{"identifiers": []any{id}, "connections": []any{[]any{"mac", "c0:56:e3:00:00:01"}},
		"name": "Hall camera", "manufacturer": "Xiongmai"}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(bin[0].payload), &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "Quarantined", "unique_id": id + "_quarantine", "object_id": id + "_quarantine",
		"state_topic": "iotgw/c056e3000001/state", "json_attributes_topic": "iotgw/c056e3000001/state",
		"value_template": "{{ 'ON' if value_json.state == 'quarantined' else 'OFF' }}", "device_class": "problem",
		"device": wantDevice, "origin": map[string]any{"name": "iotgw"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("binary sensor config\n got %v\nwant %v", cfg, want)
	}
	if err := json.Unmarshal([]byte(sensor[0].payload), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["value_template"] != "{{ value_json.state }}" || cfg["device_class"] != "enum" || !reflect.DeepEqual(cfg["device"], wantDevice) ||
		!reflect.DeepEqual(cfg["options"], []any{"ok", "alert", "quarantined"}) {
		t.Errorf("state sensor config %v", cfg)
	}
	var st mqttState
	if err := json.Unmarshal([]byte(state[0].payload), &st); err != nil {
		t.Fatal(err)
	}
	if st.State != StateQuarantined || st.MAC != "c0:56:e3:00:00:01" || st.Kind != KindQuarantined || st.LastAlert != "Hall camera quarantined" {
		t.Errorf("state %+v", st)
	}
}

func TestMQTTDigestUpdatesEachDevice(t *testing.T) {
	b := startBroker(t)
	s := mqttSender(t, b.addr, brokerPass)
	parts := []Alert{
		FromNewDevice(Device{MAC: "02:00:00:00:00:0a", Name: "Plug"}, testClockNow()),
		FromRelease(mac(1), Device{Name: "Hall camera"}, testClockNow(), "released by you"),
	}
	if err := s.Send(sendCtx(t), digest(parts)); err != nil {
		t.Fatal(err)
	}
	got := subscribe(t, b.addr, "iotgw/+/state").wait(t, 2)
	for topic, name := range map[string]string{"iotgw/02000000000a/state": "Plug", "iotgw/c056e3000001/state": "Hall camera"} {
		var st mqttState
		if msgs := got[topic]; len(msgs) != 1 || json.Unmarshal([]byte(msgs[0].payload), &st) != nil || st.State != StateOK || st.Name != name {
			t.Errorf("%s: %v", topic, got[topic])
		}
	}
}

func TestMQTTBadPasswordIsPermanent(t *testing.T) {
	b := startBroker(t)
	err := mqttSender(t, b.addr, "wrong").Send(sendCtx(t), sampleAlert())
	var se *SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Errorf("bad credentials gave %v; want a permanent error", err)
	}
}

func TestMQTTBrokerRestart(t *testing.T) {
	b := startBroker(t)
	s := mqttSender(t, b.addr, brokerPass)
	if err := s.Send(sendCtx(t), sampleAlert()); err != nil {
		t.Fatal(err)
	}
	b.stop()
	err := s.Send(sendCtx(t), sampleAlert())
	var se *SendError
	if err == nil || (errors.As(err, &se) && se.Permanent) {
		t.Fatalf("with the broker down Send gave %v; want a retryable error", err)
	}
	b.start()
	live := subscribe(t, b.addr, "homeassistant/#", "iotgw/#")
	a := sampleAlert()
	a.ID = "after-restart"
	if err := s.Send(sendCtx(t), a); err != nil {
		t.Fatalf("after the broker came back: %v", err)
	}
	// A fresh broker lost the retained configs (no persistence): the
	// channel publishes them again on its new connection.
	got := live.wait(t, 4)
	if len(got["homeassistant/binary_sensor/iotgw_c056e3000001/quarantine/config"]) != 1 || len(got["iotgw/alert"]) != 1 {
		t.Errorf("after reconnect: %v", got)
	}
}

// TestMQTTHostileMACPublishesNoState: a device address that is not a MAC
// (a wildcard, a slash) never becomes part of a topic.
func TestMQTTHostileMACPublishesNoState(t *testing.T) {
	b := startBroker(t)
	sub := subscribe(t, b.addr, "#")
	s := mqttSender(t, b.addr, brokerPass)
	hostile := FromNewDevice(Device{MAC: "c0:56:e3:00:00:01/#"}, testClockNow())
	hostile.ID = "hostile"
	good := FromNewDevice(Device{MAC: "02:00:00:00:00:0b"}, testClockNow())
	good.ID = "good"
	for _, a := range []Alert{hostile, good} {
		if err := s.Send(sendCtx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	// One publisher, QoS 1, in order: once the good alert's four
	// messages are in, the hostile one's would have been too.
	got := sub.wait(t, 5)
	if len(got) != 4 || len(got["iotgw/alert"]) != 2 || len(got["iotgw/02000000000b/state"]) != 1 {
		t.Errorf("topics %v", got)
	}
}

// TestMQTTOverTLS: an mqtts:// broker is reached over TLS, verified
// against the channel's ca_file; a broker whose certificate is not
// trusted gets nothing.
func TestMQTTOverTLS(t *testing.T) {
	cert, caFile := selfSigned(t)
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsAddr := freeAddr(t)
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	b := startBrokerWith(t, fmt.Sprintf("listener %s 127.0.0.1\ncertfile %s\nkeyfile %s\n", tlsPort, certFile, keyFile))
	waitListening(t, tlsAddr)
	live := subscribe(t, b.addr, "iotgw/alert")

	channel := ChannelConfig{Type: TypeMQTT, URL: "mqtts://" + tlsAddr, Username: brokerUser, Password: brokerPass, CAFile: caFile}
	s := buildSender(t, channel).(*MQTT)
	defer s.Close()
	// The second alert goes over the same TLS session, after the check
	// that the broker has not closed it.
	for range 2 {
		if err := s.Send(sendCtx(t), sampleAlert()); err != nil {
			t.Fatal(err)
		}
	}
	if got := live.wait(t, 2)["iotgw/alert"]; len(got) != 2 {
		t.Errorf("alert topic got %v", got)
	}

	channel.CAFile = ""
	untrusting := buildSender(t, channel).(*MQTT)
	defer untrusting.Close()
	var ce *tls.CertificateVerificationError
	if err := untrusting.Send(sendCtx(t), sampleAlert()); !errors.As(err, &ce) {
		t.Errorf("a broker with an untrusted certificate gave %v", err)
	}
}

// waitListening returns once addr accepts connections; a broker that
// never listens fails the test rather than hanging it.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if i == 200 {
			t.Fatalf("mosquitto never listened on %s: %v", addr, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
