package mqtt

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
)

// scanned is one part handed to the fake scanner.
type scanned struct {
	dir   inspect.Dir
	where string
	data  string
}

// recordingScanner keeps a copy of every part it is handed.
type recordingScanner struct{ parts []scanned }

func (s *recordingScanner) ScanPayload(_ *inspect.Flow, dir inspect.Dir, where string, b []byte, _ inspect.Cut) {
	s.parts = append(s.parts, scanned{dir, where, string(b)})
}

func (s *recordingScanner) where(where string) []string {
	var out []string
	for _, p := range s.parts {
		if p.where == where {
			out = append(out, p.data)
		}
	}
	return out
}

// weakClassifier calls the password "pass" weak, as a real one would.
type weakClassifier struct{}

func (weakClassifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if string(l.Secret) == "pass" {
		return inspect.ClassWeak, inspect.DefaultMatch{}
	}
	return "", inspect.DefaultMatch{}
}

func TestCorpus(t *testing.T) {
	tests := []struct {
		file      string
		logins    int
		user      string // redacted
		class     string
		accepted  string
		clientIDs []string
		version   string
		topics    []string // scanned topics, in order; nil: not checked
	}{
		{"zeek-mqtt.pcap", 0, "", "", "", []string{"paho/34AAE54A75D839566E", "paho/DDE4DDAF4108D3E363"}, "3.1",
			[]string{"SampleTopic", "SampleTopic", "SampleTopic"}},
		{"sv-mqtt31-pub-userpass.pcap", 1, "u***", "weak", "yes", []string{"myvoiceismypassport"}, "3.1", []string{"topicX"}},
		{"sv-mqtt311-pub-userpass.pcap", 1, "u***", "weak", "yes", []string{"myvoiceismypassport"}, "3.1.1", []string{"topicX"}},
		{"sv-mqtt5-pub-userpass.pcap", 1, "u***", "weak", "yes", []string{"myvoiceismypassport"}, "5.0", []string{"topicX"}},
		// The PUBLISH with QoS 3 is malformed: skipped, no crash.
		{"sv-mqtt-events-invalid-qos.pcap", 1, "u***", "weak", "yes", []string{"myvoiceismypassport"}, "3.1.1", []string{}},
		{"sv-mqtt-frames-truncated.pcap", 1, "u***", "weak", "yes", []string{""}, "5.0", nil},
		// A user name without the password flag: an empty secret.
		{"arkime-mqtt_big.pcap", 1, "te***", "empty", "yes", []string{"test-client-123"}, "3.1.1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			sc := &recordingScanner{}
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), weakClassifier{}, New(sc))
			if err != nil {
				t.Fatal(err)
			}
			logins := c.Findings()
			if len(logins) != tt.logins {
				t.Fatalf("got %d findings, want %d: %v", len(logins), tt.logins, c.Events)
			}
			for _, l := range logins {
				ev := l.Evidence
				if ev["protocol"] != "mqtt" || ev["user"] != tt.user || ev["password_class"] != tt.class || ev["accepted"] != tt.accepted {
					t.Errorf("evidence %v, want user %s class %s accepted %s", ev, tt.user, tt.class, tt.accepted)
				}
			}
			banners := c.Kind(event.KindBanner)
			if len(banners) != len(tt.clientIDs) {
				t.Fatalf("got %d client observations, want %d", len(banners), len(tt.clientIDs))
			}
			for i, b := range banners {
				if b.Evidence["client_id"] != tt.clientIDs[i] || b.Evidence["mqtt_version"] != tt.version || b.Type != event.TypeObservation {
					t.Errorf("observation %v, want client_id %s version %s", b.Evidence, tt.clientIDs[i], tt.version)
				}
			}
			if tt.topics != nil {
				if got := sc.where("mqtt_topic"); strings.Join(got, ",") != strings.Join(tt.topics, ",") {
					t.Errorf("scanned topics %q, want %q", got, tt.topics)
				}
			}
			for _, p := range sc.parts {
				if len(p.data) > maxPayload {
					t.Errorf("scanner handed %d bytes of %s", len(p.data), p.where)
				}
			}
			if inspecttest.Leaks(t, c.Events, `"pass"`) || inspecttest.Leaks(t, c.Events, "testuser") {
				t.Error("a secret or user name leaked into an event")
			}
		})
	}
}

// TestCorpusBigPayloads checks that framing survives PUBLISH packets far
// larger than the kept prefix: topics after the big ones are still found.
func TestCorpusBigPayloads(t *testing.T) {
	sc := &recordingScanner{}
	if _, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "arkime-mqtt_big.pcap"), nil, New(sc)); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(sc.where("mqtt_topic"), ",")
	// The engine's 16 KiB byte budget per direction ends inspection in the
	// middle of the capture; everything before it is framed correctly.
	// The Will topic of the CONNECT comes first; the topic of every
	// PUBLISH sits in its first bytes, before the byte budget runs out.
	want := "will/topic,test/small,test/qos1,test/qos2,test/bigdata,test/afterbig,server/bigdata,server/interrupt,test/interleaved"
	if got != want {
		t.Errorf("topics %q, want %q", got, want)
	}
}

// TestLongFieldsRecording reads testdata/mqtt-long-fields.pcap,
// recorded by scripts/detection/record-mqtt-long.sh between Debian's
// mosquitto 2.0.11 and mosquitto_pub: CONNECTs whose client identifier
// (3000 characters), Will topic and Will payload (3000 each) and, at 5.0,
// a user property (3000) come before the user name and password, which
// the broker refuses (wrong password) or accepts. Each login is read.
func TestLongFieldsRecording(t *testing.T) {
	sc := &recordingScanner{}
	col, err := inspecttest.RunFile(t, "testdata/mqtt-long-fields.pcap", nil, New(sc))
	if err != nil {
		t.Fatal(err)
	}
	type login struct{ user, accepted, device string }
	var got []login
	for _, l := range col.Findings() {
		got = append(got, login{l.Evidence["user"], l.Evidence["accepted"], l.Device.IP})
	}
	want := []login{
		{"a***", "no", "192.168.55.10"},  // 3.1.1, long client identifier
		{"a***", "yes", "192.168.55.10"}, // the same, the right password
		{"a***", "yes", "192.168.55.10"}, // 3.1.1, long Will topic and payload
		{"a***", "no", "192.168.55.10"},  // 5.0, all of them and a long user property
		{"a***", "yes", "192.168.55.10"}, // the same, the right password
	}
	if !slices.Equal(got, want) {
		t.Errorf("logins %v, want %v", got, want)
	}
	long := "plug-" + strings.Repeat("i", 59)
	var ids []string
	for _, b := range col.Kind(event.KindBanner) {
		ids = append(ids, b.Evidence["client_id"]+"/"+b.Evidence["mqtt_version"])
	}
	wantIDs := []string{long + "/3.1.1", long + "/3.1.1", "plug-01/3.1.1", long + "/5.0", long + "/5.0"}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("client observations %q, want %q", ids, wantIDs)
	}
	willTopic := "plug/" + strings.Repeat("t", maxTopic-5)
	if n := strings.Count(strings.Join(sc.where("mqtt_topic"), ","), willTopic); n != 3 {
		t.Errorf("Will topic scanned %d times, want 3 (one per CONNECT with a Will)", n)
	}
	if inspecttest.Leaks(t, col.Events, "Orchid-Basalt-19") || inspecttest.Leaks(t, col.Events, "admin") {
		t.Error("a password or user name leaked into an event")
	}
}

// Wire builders for synthetic sessions.

func s16(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func packet(header byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	out := []byte{header}
	n := len(body)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			out = append(out, c|0x80)
			continue
		}
		out = append(out, c)
		break
	}
	return append(out, body...)
}

type connectOpts struct {
	name, clientID         string
	level                  byte
	user, pass             *string
	willTopic, willPayload string
	will                   bool
	props, willProps       []byte // 5.0 property blocks, length included
}

func str(s string) *string { return &s }

func connect(o connectOpts) []byte {
	if o.name == "" {
		o.name = "MQTT"
	}
	if o.level == 0 {
		o.level = 4
	}
	var flags byte = 0x02
	if o.will {
		flags |= flagWill
	}
	if o.user != nil {
		flags |= flagUser
	}
	if o.pass != nil {
		flags |= flagPassword
	}
	parts := [][]byte{s16(o.name), {o.level, flags, 0, 60}}
	if o.level == 5 {
		parts = append(parts, o.props)
	}
	parts = append(parts, s16(o.clientID))
	if o.will {
		if o.level == 5 {
			parts = append(parts, o.willProps)
		}
		parts = append(parts, s16(o.willTopic), s16(o.willPayload))
	}
	if o.user != nil {
		parts = append(parts, s16(*o.user))
	}
	if o.pass != nil {
		parts = append(parts, s16(*o.pass))
	}
	return packet(0x10, parts...)
}

// inSegments sends b from the client in segments of at most n bytes.
func inSegments(c *inspecttest.Conv, b []byte, n int) *inspecttest.Conv {
	for len(b) > 0 {
		k := min(len(b), n)
		c.ClientBytes(b[:k])
		b = b[k:]
	}
	return c
}

// userProperty is a 5.0 property block, length included, of one User
// Property (0x26) whose name and value together are about n bytes.
func userProperty(n int) []byte {
	prop := append([]byte{0x26}, s16(strings.Repeat("k", n/2))...)
	prop = append(prop, s16(strings.Repeat("v", n/2))...)
	return packet(0, prop)[1:] // a packet's remaining length is a property block's
}

func connack(code byte) []byte { return packet(0x20, []byte{0, code}) }

func connack5(code byte) []byte { return packet(0x20, []byte{0, code, 3, 0x22, 0, 10}) }

func publish(qos byte, topic, payload string) []byte {
	parts := [][]byte{s16(topic)}
	if qos > 0 {
		parts = append(parts, []byte{0, 1})
	}
	return packet(0x30|qos<<1, append(parts, []byte(payload))...)
}

func publish5(topic string, props []byte, payload string) []byte {
	return packet(0x30, s16(topic), props, []byte(payload))
}

const secret = "s3cret-Pass"

func TestSynthetic(t *testing.T) {
	v311 := connect(connectOpts{clientID: "cam-01", user: str("admin"), pass: str(secret)})
	v5 := connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
		props: []byte{5, 0x11, 0, 0, 0, 60}, will: true, willProps: []byte{2, 0x01, 1},
		willTopic: "dev/cam-05/status", willPayload: "offline"})
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW0ifQ.c2lnbmF0dXJlLWJ5dGVz"
	tests := []struct {
		name     string
		script   func(c *inspecttest.Conv)
		logins   int
		accepted string
		class    string
		user     string
		topics   string // scanned topics joined with ","
		payloads string // scanned payloads joined with ","
	}{
		{"v311_accepted", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "", ""},
		{"v311_bad_password", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(4))
		}, 1, "no", "unique", "a***", "", ""},
		{"v311_not_authorised", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(5))
		}, 1, "no", "unique", "a***", "", ""},
		{"v311_server_unavailable_says_nothing", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(3))
		}, 1, "unknown", "unique", "a***", "", ""},
		{"v31_mqisdp", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{name: "MQIsdp", level: 3, clientID: "x", user: str("admin"), pass: str(secret)})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "", ""},
		{"v5_properties_and_will_accepted", func(c *inspecttest.Conv) {
			c.ClientBytes(v5).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", "dev/cam-05/status", "offline"},
		{"v5_bad_user_or_password", func(c *inspecttest.Conv) {
			c.ClientBytes(v5).ServerBytes(connack5(0x86))
		}, 1, "no", "unique", "a***", "dev/cam-05/status", "offline"},
		{"v5_not_authorized", func(c *inspecttest.Conv) {
			c.ClientBytes(v5).ServerBytes(connack5(0x87))
		}, 1, "no", "unique", "a***", "dev/cam-05/status", "offline"},
		{"v5_password_without_user", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{level: 5, props: []byte{0}, pass: str(secret)})).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "", "", ""},
		// Before 5.0 a password needs a user name (3.1.1 section
		// 3.1.2.9): a broker closes the connection on one without. One
		// that answers it all the same may have read it as anonymous,
		// the password unread: it accepts or refuses an anonymous
		// client (mosquitto 1.x under 3.1), or refuses the malformed
		// CONNECT (3.1.1's code 4 says the user name or password is
		// malformed), none of which judges the password.
		{"v311_password_without_user_accepted_says_nothing", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", pass: str(secret)})).ServerBytes(connack(0))
		}, 1, "unknown", "unique", "", "", ""},
		{"v31_password_without_user_accepted_says_nothing", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{name: "MQIsdp", level: 3, clientID: "x", pass: str(secret)})).ServerBytes(connack(0))
		}, 1, "unknown", "unique", "", "", ""},
		{"v311_password_without_user_refused_malformed", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", pass: str(secret)})).ServerBytes(connack(4))
		}, 1, "unknown", "unique", "", "", ""},
		{"v31_password_without_user_refused_anonymous", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{name: "MQIsdp", level: 3, clientID: "x", pass: str(secret)})).ServerBytes(connack(5))
		}, 1, "unknown", "unique", "", "", ""},
		// A user name, empty or not, makes the password the broker's to judge.
		{"v311_empty_user_and_password_refused", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", user: str(""), pass: str(secret)})).ServerBytes(connack(5))
		}, 1, "no", "unique", "", "", ""},
		{"v311_password_without_user_closed", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", pass: str(secret)}))
		}, 1, "unknown", "unique", "", "", ""},
		{"user_without_password", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", user: str("admin")})).ServerBytes(connack(0))
		}, 1, "yes", "empty", "a***", "", ""},
		{"jwt_password_is_a_token", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x", user: str("admin"), pass: str(jwt)})).ServerBytes(connack(0))
		}, 1, "yes", "token", "a***", "", ""},
		{"anonymous_no_login", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "x"})).ServerBytes(connack(0))
		}, 0, "", "", "", "", ""},
		{"no_connack_before_close", func(c *inspecttest.Conv) {
			c.ClientBytes(v311)
		}, 1, "unknown", "unique", "a***", "", ""},
		{"one_byte_per_segment", func(c *inspecttest.Conv) {
			c.ClientChars(string(v311) + string(publish(1, "home/temp", "21.5"))).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "home/temp", "21.5"},
		{"pipelined_connect_and_publishes", func(c *inspecttest.Conv) {
			c.ClientBytes(bytes.Join([][]byte{v311, publish(0, "a/b", "one"), publish(2, "c/d", "two")}, nil)).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "a/b,c/d", "one,two"},
		{"split_remaining_length", func(c *inspecttest.Conv) {
			big := publish(0, "big/one", strings.Repeat("x", 300))
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes(big[:2]).ClientBytes(big[2:])
		}, 1, "yes", "unique", "a***", "big/one", strings.Repeat("x", 300)},
		{"server_to_client_publish", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(append(connack(0), publish(1, "cmd/cam-01", "reboot")...))
		}, 1, "yes", "unique", "a***", "cmd/cam-01", "reboot"},
		{"v5_publish_properties_skipped", func(c *inspecttest.Conv) {
			c.ClientBytes(v5).ServerBytes(connack5(0)).ClientBytes(publish5("t/5", []byte{2, 0x01, 1}, "payload5"))
		}, 1, "yes", "unique", "a***", "dev/cam-05/status,t/5", "offline,payload5"},
		{"huge_publish_skipped_then_framing_resumes", func(c *inspecttest.Conv) {
			huge := publish(0, "big", strings.Repeat("y", 5000))
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes(huge[:1000]).ClientBytes(huge[1000:3000]).ClientBytes(huge[3000:]).ClientBytes(publish(0, "after", "z"))
		}, 1, "yes", "unique", "a***", "big,after", strings.Repeat("y", maxPayload) + ",z"},
		{"invalid_qos_skipped", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes(publish(3, "bad", "q3")).ClientBytes(publish(0, "good", "q0"))
		}, 1, "yes", "unique", "a***", "good", "q0"},
		{"five_byte_remaining_length_kills_direction", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}).ClientBytes(publish(0, "lost", "x"))
		}, 1, "yes", "unique", "a***", "", ""},
		{"oversized_remaining_length_kills_direction", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ClientBytes([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}).ClientBytes(publish(0, "lost", "x")).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "", ""},
		{"reserved_type_zero_kills_direction", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes([]byte{0x00, 0x00}).ClientBytes(publish(0, "lost", "x"))
		}, 1, "yes", "unique", "a***", "", ""},
		{"second_connect_flushes_first", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ClientBytes(v311).ServerBytes(connack(0))
		}, 2, "", "unique", "a***", "", ""},
		{"truncated_connect", func(c *inspecttest.Conv) {
			c.ClientBytes(packet(0x10, v311[2:len(v311)-4]))
		}, 0, "", "", "", "", ""},
		{"unknown_protocol_name", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{name: "MQTX", clientID: "x", user: str("admin"), pass: str(secret)})).ServerBytes(connack(0))
		}, 0, "", "", "", "", ""},
		// A Will payload longer than the kept prefix: the login after it
		// is read, and the payload's front is scanned as cut.
		{"long_will_payload", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "cam-01", user: str("admin"), pass: str(secret), will: true,
				willTopic: "dev/cam-01/lwt", willPayload: strings.Repeat("w", 2100)})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "dev/cam-01/lwt", strings.Repeat("w", willKept)},
		{"long_will_payload_v5_in_small_segments", func(c *inspecttest.Conv) {
			b := connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
				props: []byte{0}, will: true, willProps: []byte{0}, willTopic: "t", willPayload: strings.Repeat("v", 6000)})
			inSegments(c, b, 1400).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", "t", strings.Repeat("v", willKept)},
		// 5.0 property blocks longer than the kept prefix (user
		// properties a client may add, kilobytes of them): the login
		// after them is read all the same, and the client's identifier.
		{"long_connect_properties_v5", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
				props: userProperty(3000)})).ServerBytes(connack5(0x86))
		}, 1, "no", "unique", "a***", "", ""},
		{"long_will_properties_v5", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
				props: []byte{0}, will: true, willProps: userProperty(2500), willTopic: "t", willPayload: "gone"})).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", "t", "gone"},
		// The buffer fills 11 bytes into the Will payload, after will
		// properties it holds whole: they make the room for the login,
		// and for the payload, read on rather than cut to those 11.
		{"will_payload_starting_at_the_buffer_end", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
				props: []byte{0}, will: true, willProps: userProperty(2000), willTopic: "dev/lwt", willPayload: strings.Repeat("y", 300)})).ServerBytes(connack5(0x87))
		}, 1, "no", "unique", "a***", "dev/lwt", strings.Repeat("y", 300)},
		// The buffer fills inside the Will payload, after a long topic:
		// the topic is cut to what is scanned, which makes room for the
		// payload, read on whole.
		{"long_will_topic_and_payload_v311", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "cam-01", user: str("admin"), pass: str(secret), will: true,
				willTopic: "dev/" + strings.Repeat("t", 1900), willPayload: strings.Repeat("w", 400)})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "dev/" + strings.Repeat("t", maxTopic-4), strings.Repeat("w", 400)},
		{"long_properties_and_will_payload_v5", func(c *inspecttest.Conv) {
			b := connect(connectOpts{level: 5, clientID: "cam-05", user: str("admin"), pass: str(secret),
				props: userProperty(4000), will: true, willProps: userProperty(2100), willTopic: "t", willPayload: strings.Repeat("v", 3000)})
			inSegments(c, b, 1400).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", "t", strings.Repeat("v", willKept)},
		// A client identifier or Will topic longer than the kept prefix
		// (a device naming itself with a certificate or a JSON blob):
		// only their fronts are kept, and the login after them is read.
		{"long_client_id_v311", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: strings.Repeat("i", 3000), user: str("admin"), pass: str(secret)})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", "", ""},
		{"long_client_id_v31_in_small_segments", func(c *inspecttest.Conv) {
			b := connect(connectOpts{name: "MQIsdp", level: 3, clientID: strings.Repeat("i", 5000), user: str("admin"), pass: str(secret)})
			inSegments(c, b, 536).ServerBytes(connack(4))
		}, 1, "no", "unique", "a***", "", ""},
		{"long_client_id_v5", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{level: 5, clientID: strings.Repeat("i", 3000), user: str("admin"), pass: str(secret),
				props: userProperty(100)})).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", "", ""},
		{"long_will_topic_v311", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: "cam-01", user: str("admin"), pass: str(secret), will: true,
				willTopic: strings.Repeat("t", 3000), willPayload: "offline"})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", strings.Repeat("t", maxTopic), "offline"},
		{"long_client_id_will_topic_and_payload_v5", func(c *inspecttest.Conv) {
			b := connect(connectOpts{level: 5, clientID: strings.Repeat("i", 2500), user: str("admin"), pass: str(secret),
				props: userProperty(2100), will: true, willProps: userProperty(2100), willTopic: strings.Repeat("t", 2500), willPayload: strings.Repeat("v", 2500)})
			inSegments(c, b, 1400).ServerBytes(connack5(0))
		}, 1, "yes", "unique", "a***", strings.Repeat("t", maxTopic), strings.Repeat("v", willKept)},
		// A client identifier the buffer holds whole, then a Will topic
		// that fills the buffer: the identifier is cut for room.
		{"client_id_then_will_topic_fill_the_buffer", func(c *inspecttest.Conv) {
			c.ClientBytes(connect(connectOpts{clientID: strings.Repeat("i", 1500), user: str("admin"), pass: str(secret), will: true,
				willTopic: strings.Repeat("t", 1500), willPayload: "offline"})).ServerBytes(connack(0))
		}, 1, "yes", "unique", "a***", strings.Repeat("t", maxTopic), "offline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			sc := &recordingScanner{}
			e := inspecttest.Engine(t, col, nil, New(sc))
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:1883")
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Findings()
			if len(got) != tt.logins {
				t.Fatalf("got %d logins, want %d: %v", len(got), tt.logins, got)
			}
			for _, l := range got {
				ev := l.Evidence
				if tt.accepted != "" && ev["accepted"] != tt.accepted {
					t.Errorf("accepted = %q, want %q", ev["accepted"], tt.accepted)
				}
				if ev["password_class"] != tt.class || ev["user"] != tt.user || ev["mechanism"] != "CONNECT" {
					t.Errorf("evidence %v, want class %s user %s", ev, tt.class, tt.user)
				}
				if l.Device.IP != "192.168.1.20" {
					t.Errorf("device %v, want the LAN broker", l.Device)
				}
			}
			if g := strings.Join(sc.where("mqtt_topic"), ","); g != tt.topics {
				t.Errorf("topics %q, want %q", g, tt.topics)
			}
			if g := strings.Join(sc.where("mqtt_payload"), ","); g != tt.payloads {
				t.Errorf("payloads %q, want %q", g, tt.payloads)
			}
			if inspecttest.Leaks(t, col.Events, secret) || inspecttest.Leaks(t, col.Events, jwt) || inspecttest.Leaks(t, col.Events, "admin") {
				t.Error("a secret or user name leaked into an event")
			}
		})
	}
}

// TestLongFieldsSplitAtEveryOffset sends CONNECTs whose client
// identifier, property blocks, Will topic and Will payload are each
// longer than the kept prefix, in two segments cut at every offset: the
// login after them is read whatever the cut, with the client observed
// and the fronts of the Will's topic and payload scanned.
func TestLongFieldsSplitAtEveryOffset(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	tests := []struct {
		name    string
		connect []byte
		connack []byte
	}{
		{"v311", connect(connectOpts{clientID: long("i", 2100), user: str("admin"), pass: str(secret), will: true,
			willTopic: long("t", 2100), willPayload: long("v", 2100)}), connack(0)},
		{"v5", connect(connectOpts{level: 5, clientID: long("i", 2100), user: str("admin"), pass: str(secret),
			props: userProperty(2100), will: true, willProps: userProperty(2100), willTopic: long("t", 2100), willPayload: long("v", 2100)}), connack5(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for cut := 1; cut < len(tt.connect); cut++ {
				col := &inspecttest.Collector{}
				sc := &recordingScanner{}
				e := inspecttest.Engine(t, col, nil, New(sc))
				c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:1883")
				c.ClientBytes(tt.connect[:cut]).ClientBytes(tt.connect[cut:]).ServerBytes(tt.connack)
				c.Close()
				e.Flush()
				got := col.Findings()
				if len(got) != 1 || got[0].Evidence["user"] != "a***" || got[0].Evidence["accepted"] != "yes" {
					t.Fatalf("cut at %d: logins %v, want one of a*** accepted", cut, got)
				}
				if obs := col.Kind(event.KindBanner); len(obs) != 1 || obs[0].Evidence["client_id"] != long("i", 64) {
					t.Fatalf("cut at %d: client observations %v", cut, obs)
				}
				topics, payloads := sc.where("mqtt_topic"), sc.where("mqtt_payload")
				if len(topics) != 1 || topics[0] != long("t", maxTopic) || len(payloads) != 1 ||
					len(payloads[0]) == 0 || len(payloads[0]) > willKept || strings.Trim(payloads[0], "v") != "" {
					t.Fatalf("cut at %d: scanned topics %q, payloads %q", cut, topics, payloads)
				}
			}
		})
	}
}

// TestFieldHeldShortIsNotCut: a field that the buffer ends in a few
// bytes into, once a long field before it was cut for room, is read on,
// not cut to those few bytes: a client identifier cut there would have
// the front of a number or an address it holds shown (Scrubbed hides
// only what it sees whole), and a Will topic would be scanned cut.
func TestFieldHeldShortIsNotCut(t *testing.T) {
	// propsOfLen is a 5.0 property block of exactly n bytes.
	propsOfLen := func(n int) []byte {
		for k := 0; k < n; k++ {
			if p := userProperty(k); len(p) == n {
				return p
			}
		}
		t.Fatalf("no property block of %d bytes", n)
		return nil
	}
	const held = 13 // bytes of the field in the buffer when it fills
	imei := "imei-356938035643809"
	tests := []struct {
		name     string
		connect  []byte
		clientID string // observed
		topics   []string
	}{
		// The properties before the identifier fill the buffer up to
		// its 13th byte: they are dropped and the identifier read whole.
		{"client_id_after_properties", connect(connectOpts{level: 5, clientID: imei, user: str("admin"), pass: str(secret),
			props: propsOfLen(capture - 12 - held)}), "imei-***", nil},
		{"client_id_email_after_properties", connect(connectOpts{level: 5, clientID: "anna.schmidt@example.com", user: str("admin"), pass: str(secret),
			props: propsOfLen(capture - 12 - held)}), "***", nil},
		// A long identifier is cut to its front, and the buffer ends 13
		// bytes into the Will topic after it.
		{"will_topic_after_long_client_id", connect(connectOpts{clientID: strings.Repeat("i", capture-14-held), user: str("admin"), pass: str(secret),
			will: true, willTopic: "home/anna.schmidt@example.com/status", willPayload: "offline"}),
			strings.Repeat("i", 64), []string{"home/anna.schmidt@example.com/status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			sc := &recordingScanner{}
			e := inspecttest.Engine(t, col, nil, New(sc))
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:1883")
			c.ClientBytes(tt.connect).ServerBytes(connack(0))
			c.Close()
			e.Flush()
			if got := col.Findings(); len(got) != 1 || got[0].Evidence["user"] != "a***" {
				t.Fatalf("logins %v, want one of a***", got)
			}
			var ids []string
			for _, ev := range col.Kind(event.KindBanner) {
				ids = append(ids, ev.Evidence["client_id"])
			}
			if !slices.Equal(ids, []string{tt.clientID}) {
				t.Errorf("client observations %q, want %q", ids, tt.clientID)
			}
			if got := sc.where("mqtt_topic"); !slices.Equal(got, tt.topics) {
				t.Errorf("scanned topics %q, want %q", got, tt.topics)
			}
		})
	}
}

// TestCutNumberIsNotACard: a topic or payload handed to the scanner cut
// short (by maxTopic, maxPayload or the packet capture) may end in the
// front of a long number, which is no payment card; a card that ends
// within what is scanned is still found.
func TestCutNumberIsNotACard(t *testing.T) {
	const (
		card = "4111111111111111"
		more = "3947203948572039" // with card, a 32-digit number that is no card
	)
	text := func(n int) string { return strings.Repeat("w", n-1) + " " }
	longTopic := strings.Repeat("t/", 750) // 1500 bytes: the capture keeps 546 of the payload
	tests := []struct {
		name string
		pub  []byte
		want int
	}{
		{"payload_cut_at_max_payload", publish(0, "dev/report", text(maxPayload-len(card))+card+more+" end"), 0},
		{"payload_cut_by_capture", publish(0, longTopic, text(capture-2-len(longTopic)-len(card))+card+more+" end"), 0},
		{"topic_cut_at_max_topic", publish(0, text(maxTopic-len(card))+card+more, "x"), 0},
		{"whole_payload", publish(0, "dev/report", "card "+card), 1},
		{"whole_in_long_payload", publish(0, "dev/report", "card "+card+" "+text(3000)), 1},
	}
	v311 := connect(connectOpts{clientID: "cam-01"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			conv := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:1883")
			conv.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes(tt.pub)
			conv.Close()
			e.Flush()
			if got := c.Kind(event.KindPersonalData); len(got) != tt.want {
				t.Fatalf("%d findings, want %d: %v", len(got), tt.want, c.Events)
			}
		})
	}
}

func TestClientObservation(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	long := strings.Repeat("c", 100) + "\x01"
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.9:1883")
	c.ClientBytes(connect(connectOpts{clientID: long})).ClientBytes(connect(connectOpts{clientID: "again"}))
	c.Close()
	e.Flush()
	obs := col.Kind(event.KindBanner)
	if len(obs) != 1 {
		t.Fatalf("got %d observations, want one per flow", len(obs))
	}
	ev := obs[0]
	if ev.Evidence["client_id"] != strings.Repeat("c", 64) || ev.Evidence["mqtt_version"] != "3.1.1" || ev.Evidence["protocol"] != "mqtt" {
		t.Errorf("evidence %v", ev.Evidence)
	}
	if ev.Device.IP != "192.168.1.10" || ev.Severity != event.SeverityInfo {
		t.Errorf("observation about %v severity %v, want the client, info", ev.Device, ev.Severity)
	}
}

func TestMatch(t *testing.T) {
	v311 := connect(connectOpts{clientID: "x"})
	tests := []struct {
		name   string
		server string
		dir    inspect.Dir
		data   []byte
		want   inspect.Confidence
	}{
		{"connect_on_1883", "192.168.1.20:1883", inspect.ToServer, v311, inspect.ContentMatch},
		{"connect_on_other_port", "192.168.1.20:7000", inspect.ToServer, v311, inspect.ContentMatch},
		{"mqisdp_on_other_port", "192.168.1.20:7000", inspect.ToServer, connect(connectOpts{name: "MQIsdp", level: 3}), inspect.ContentMatch},
		{"partial_connect_on_1883", "192.168.1.20:1883", inspect.ToServer, v311[:3], inspect.PortMatch},
		{"partial_connect_elsewhere", "192.168.1.20:7000", inspect.ToServer, v311[:3], inspect.NoMatch},
		{"mid_stream_publish_on_1883", "192.168.1.20:1883", inspect.ToClient, publish(0, "a", "b"), inspect.PortMatch},
		{"http_on_1883", "192.168.1.20:1883", inspect.ToServer, []byte("GET / HTTP/1.1\r\n"), inspect.PortMatch},
		{"tls_on_1883", "192.168.1.20:1883", inspect.ToServer, []byte{0x16, 0x03, 0x01, 0x00}, inspect.NoMatch},
		{"reserved_type_on_1883", "192.168.1.20:1883", inspect.ToServer, []byte{0x00, 0x00}, inspect.NoMatch},
		{"http_elsewhere", "192.168.1.20:8080", inspect.ToServer, []byte("GET / HTTP/1.1\r\n"), inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			p := &inspecttest.MatchProbe{Protocol: New(nil)}
			e := inspecttest.Engine(t, col, nil, p)
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server)
			if tt.dir == inspect.ToServer {
				c.ClientBytes(tt.data)
			} else {
				c.ServerBytes(tt.data)
			}
			c.Close()
			if p.Got != tt.want {
				t.Errorf("Match = %d, want %d", p.Got, tt.want)
			}
		})
	}
}

func TestUDPNeverMatches(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New(nil))
	inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.20:1883").ClientBytes(connect(connectOpts{user: str("admin"), pass: str(secret)}))
	e.Flush()
	if len(col.Events) != 0 {
		t.Errorf("UDP datagram read as MQTT: %v", col.Events)
	}
}

// countingScanner counts parts without keeping them, so that it does not
// allocate.
type countingScanner struct{ n int }

func (s *countingScanner) ScanPayload(*inspect.Flow, inspect.Dir, string, []byte, inspect.Cut) {
	s.n++
}

// steadyFlow feeds segments of a TCP connection into an engine through one
// reused Packet, so that an allocation counted is the analyzer's.
type steadyFlow struct {
	e              *inspect.Engine
	p              *inspect.Packet
	seq            [2]uint32
	client, server netip.Addr
	sent           [2]int    // payload bytes of this connection per direction
	login          [2][]byte // CONNECT and CONNACK, sent again on a new connection
}

func newSteadyFlow(tb testing.TB, p inspect.Protocol) *steadyFlow {
	tb.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.ByteBudget = inspect.MaxByteBudget
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{p}, Sink: &inspecttest.Collector{}})
	if err != nil {
		tb.Fatal(err)
	}
	return &steadyFlow{e: e, p: &inspect.Packet{}, seq: [2]uint32{1000, 5000},
		client: netip.MustParseAddr("192.168.1.10"), server: netip.MustParseAddr("192.168.1.20")}
}

// logIn sends a CONNECT and its CONNACK and keeps them for reconnecting.
func (s *steadyFlow) logIn(connect, connack []byte) {
	s.login = [2][]byte{connect, connack}
	s.sent = [2]int{}
	s.send(inspect.ToServer, connect)
	s.send(inspect.ToClient, connack)
}

func (s *steadyFlow) send(dir inspect.Dir, data []byte) {
	// Past the byte budget the engine stops reading a connection, so a
	// long benchmark goes on with a new one, as a client would.
	if s.login[0] != nil && s.sent[dir]+len(data) > inspect.MaxByteBudget {
		s.segment(inspect.ToServer, nil, inspect.TCPFlagRST)
		s.logIn(s.login[0], s.login[1])
	}
	s.sent[dir] += len(data)
	s.segment(dir, data, inspect.TCPFlagACK)
}

func (s *steadyFlow) segment(dir inspect.Dir, data []byte, flags uint8) {
	client, server := s.client, s.server
	*s.p = inspect.Packet{Kind: inspect.KindTCP, IPProto: 6, TCPFlags: flags, Payload: data,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Seq: s.seq[dir],
		Src: client, Dst: server, SrcPort: 40000, DstPort: Port}
	if dir == inspect.ToClient {
		s.p.Src, s.p.Dst, s.p.SrcPort, s.p.DstPort = server, client, Port, 40000
	}
	s.seq[dir] += uint32(len(data))
	s.e.HandlePacket(s.p)
}

// TestGapEndsDirection: after lost bytes the packet boundaries in that
// direction are unknown, so nothing more is parsed there; the other
// direction still delivers the broker's verdict.
func TestGapEndsDirection(t *testing.T) {
	col := &inspecttest.Collector{}
	sc := &recordingScanner{}
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{New(sc)}, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	s := &steadyFlow{e: e, p: &inspect.Packet{}, seq: [2]uint32{1000, 5000},
		client: netip.MustParseAddr("192.168.1.10"), server: netip.MustParseAddr("192.168.1.20")}
	s.send(inspect.ToServer, connect(connectOpts{clientID: "x", user: str("admin"), pass: str(secret)}))
	s.seq[inspect.ToServer] += 100 // a lost segment
	s.send(inspect.ToServer, publish(0, "after/gap", "x"))
	s.send(inspect.ToClient, connack(0))
	e.Flush()
	if got := col.Findings(); len(got) != 1 || got[0].Evidence["accepted"] != "yes" {
		t.Fatalf("findings %v, want one accepted login", got)
	}
	if len(sc.parts) != 0 {
		t.Errorf("parsed after a gap: %v", sc.parts)
	}
}

func TestPublishDoesNotAllocate(t *testing.T) {
	sc := &countingScanner{}
	s := newSteadyFlow(t, New(sc))
	s.logIn(connect(connectOpts{clientID: "x", user: str("admin"), pass: str(secret)}), connack(0))
	pub := publish(1, "home/livingroom/temperature", `{"t":21.5,"h":40}`)
	allocs := testing.AllocsPerRun(1000, func() { s.send(inspect.ToServer, pub) })
	if allocs != 0 {
		t.Errorf("%v allocations per PUBLISH segment, want 0", allocs)
	}
	if sc.n < 2000 {
		t.Errorf("scanner saw %d parts: the publishes were not parsed", sc.n)
	}
}

func BenchmarkPublish(b *testing.B) {
	sc := &countingScanner{}
	s := newSteadyFlow(b, New(sc))
	s.logIn(connect(connectOpts{clientID: "x", user: str("admin"), pass: str(secret)}), connack(0))
	pub := publish(1, "home/livingroom/temperature", strings.Repeat(`{"t":21.5,"h":40}`, 8))
	b.SetBytes(int64(len(pub)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.send(inspect.ToServer, pub)
	}
	if s.e.Stats.BudgetStops != 0 || sc.n < 2*b.N {
		b.Errorf("the byte budget stopped inspection %d times, %d parts scanned of %d publishes: the benchmark measured the engine idle", s.e.Stats.BudgetStops, sc.n, b.N)
	}
}

func FuzzStream(f *testing.F) {
	v5 := connect(connectOpts{level: 5, clientID: "c", user: str("u"), pass: str("p"), props: []byte{0}, will: true, willProps: []byte{0}, willTopic: "w", willPayload: "x"})
	f.Add(connect(connectOpts{clientID: "c", user: str("u"), pass: str("p")}), connack(0), publish(1, "t", "p"), uint8(3))
	f.Add(v5, connack5(0x86), publish5("t", []byte{0}, "p"), uint8(1))
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{0x20}, []byte{0x36, 0x02, 0x00}, uint8(0))
	long := connect(connectOpts{level: 5, clientID: strings.Repeat("i", 2100), user: str("u"), pass: str("p"), props: userProperty(300),
		will: true, willProps: []byte{0}, willTopic: strings.Repeat("t", 2100), willPayload: strings.Repeat("x", 2100)})
	f.Add(long, connack5(0), publish5("t", []byte{0}, "p"), uint8(200))
	f.Fuzz(func(t *testing.T, client, server, more []byte, split uint8) {
		col := &inspecttest.Collector{}
		sc := &recordingScanner{}
		e := inspecttest.Engine(t, col, nil, New(sc))
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:1883")
		cut := 0
		if len(client) > 0 {
			cut = int(split) % (len(client) + 1)
		}
		c.ClientBytes(client[:cut]).ServerBytes(server).ClientBytes(client[cut:]).ClientBytes(more).ServerBytes(more)
		c.Close()
		e.Flush()
		// At most one login per CONNECT header byte sent by the client.
		connects := bytes.Count(client, []byte{0x10}) + bytes.Count(more, []byte{0x10})
		if n := len(col.Findings()); n > connects {
			t.Fatalf("%d logins from %d possible CONNECTs", n, connects)
		}
		if n := len(col.Kind(event.KindBanner)); n > 1 {
			t.Fatalf("%d client observations in one flow", n)
		}
		for _, p := range sc.parts {
			if len(p.data) > maxPayload || (p.where == "mqtt_topic" && len(p.data) > maxTopic) {
				t.Fatalf("scanner handed %d bytes of %s", len(p.data), p.where)
			}
		}
		for _, ev := range col.Findings() {
			// A login without a user (MQTT 5 allows a password alone) has
			// no user field; a user is always redacted.
			if u, ok := ev.Evidence["user"]; ev.Kind != event.KindPlaintextCredentials || ok && !strings.HasSuffix(u, "***") {
				t.Fatalf("unexpected finding %v", ev)
			}
		}
	})
}

// TestNoSecretKept checks that the bytes kept of a packet are wiped once
// they are of no more use: a CONNECT's password must not wait in the
// capture for a later packet to overwrite it (a PINGREQ writes none) or for
// the flow to close, which may be days away.
func TestNoSecretKept(t *testing.T) {
	v311 := connect(connectOpts{clientID: "cam-01", user: str("admin"), pass: str(secret)})
	unfinished := bytes.Clone(v311)
	unfinished[1]++ // one body byte more announced than sent
	pingreq := []byte{0xc0, 0}
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		logins int
	}{
		{"handled_then_pingreq", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes(pingreq)
		}, 1},
		{"framing_lost_after_connect", func(c *inspecttest.Conv) {
			c.ClientBytes(v311).ServerBytes(connack(0)).ClientBytes([]byte{0x00, 0x00})
		}, 1},
		{"gap_inside_connect", func(c *inspecttest.Conv) {
			c.ClientBytes(unfinished).Lose(inspect.ToServer, 1).ClientBytes(pingreq).Server("") // the broker's ACK says the byte is gone
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := inspecttest.NewSession(t, New(nil), "192.168.1.20:1883")
			tt.script(s.Conv)
			_, an := s.Analyzer(t)
			a := an.(*analyzer)
			if a.proto == nil {
				t.Fatal("the analyzer was closed: nothing checked")
			}
			for dir := range a.dirs {
				if buf := &a.dirs[dir].buf; *buf != [capture]byte{} {
					t.Errorf("direction %d keeps %q", dir, bytes.TrimRight(buf[:], "\x00"))
				}
			}
			if got := s.End().Findings(); len(got) != tt.logins {
				t.Errorf("got %d logins, want %d", len(got), tt.logins)
			}
		})
	}
}

// TestTasmotaCommands: a command published to a Tasmota device
// ("cmnd/<device>/<Command>") that sets a Wi-Fi key or one of its
// passwords sends that secret in clear. It is reported as personal data
// without a character of it; a command that sets none, a mask or a
// placeholder is not.
func TestTasmotaCommands(t *testing.T) {
	const key = "hunter2hunter2"
	type found struct{ kind, field string }
	wifi := []found{{"wifi_credentials", "password"}}
	device := []found{{"device_password", "password"}}
	tests := []struct {
		name string
		pubs [][]byte
		want []found
	}{
		{"backlog_ssid_and_key", [][]byte{publish(0, "cmnd/tasmota_5E3C1A/Backlog", "SSID1 MyHome; Password1 "+key)}, wifi},
		{"backlog0", [][]byte{publish(1, "cmnd/plug/Backlog0", "SSId1 MyHome;Password1 "+key)}, wifi},
		{"backlog_any_case_second_network", [][]byte{publish(1, "cmnd/plug/Backlog", "ssid2 Cafe Net;PASSWORD2 "+key+" ;Restart 1")}, wifi},
		{"separate_publishes", [][]byte{publish(0, "cmnd/plug/SSID1", "MyHome"), publish(0, "cmnd/plug/Password1", key)}, wifi},
		{"password2_alone", [][]byte{publish(0, "cmnd/plug/password2", key)}, wifi},
		{"password_without_index", [][]byte{publish(0, "cmnd/plug/Password", key)}, wifi},
		{"backlog_without_indexes", [][]byte{publish(0, "cmnd/plug/Backlog", "SSId MyHome; Password "+key)}, wifi},
		{"prefix_second_in_full_topic", [][]byte{publish(0, "kitchen/plug/cmnd/Password1", key)}, wifi},
		{"group_topic", [][]byte{publish(0, "cmnd/tasmotas/Backlog", "SSId1 MyHome;Password1 "+key)}, wifi},
		{"web_password", [][]byte{publish(0, "cmnd/plug/WebPassword", "s3cretWeb")}, device},
		{"mqtt_password_in_backlog", [][]byte{publish(0, "cmnd/plug/Backlog", "MqttHost 192.168.1.5; MqttUser plug; MqttPassword brokerPw")}, device},
		{"wifi_and_web_password", [][]byte{publish(0, "cmnd/plug/Backlog", "SSID1 MyHome; Password1 "+key+"; WebPassword s3cretWeb")},
			[]found{{"device_password", "password"}, {"wifi_credentials", "password"}}},

		// Commands that send no secret.
		{"power_on", [][]byte{publish(0, "cmnd/x/Power", "ON")}, nil},
		{"backlog_without_password", [][]byte{publish(0, "cmnd/x/Backlog", "SSID1 MyHome; Power ON; Restart 1")}, nil},
		{"password1_empty", [][]byte{publish(0, "cmnd/x/Password1", " ")}, nil},
		{"password1_query", [][]byte{publish(0, "cmnd/x/Password1", "")}, nil},
		{"password1_mask", [][]byte{publish(0, "cmnd/x/Password1", "****")}, nil},
		{"password1_quote_placeholder", [][]byte{publish(0, "cmnd/x/Password1", `"`)}, nil},
		{"password1_firmware_default", [][]byte{publish(0, "cmnd/x/Password1", "1")}, nil},
		{"password1_too_short_for_wpa", [][]byte{publish(0, "cmnd/x/Password1", "secret")}, nil},
		{"web_password_cleared", [][]byte{publish(0, "cmnd/x/WebPassword", "0")}, nil},
		{"web_password_placeholders", [][]byte{publish(0, "cmnd/x/Backlog", `WebPassword "; MqttPassword ****; WebPassword 1`)}, nil},
		{"password3_is_no_command", [][]byte{publish(0, "cmnd/x/Password3", key)}, nil},
		{"ssid_alone", [][]byte{publish(0, "cmnd/x/SSID1", "MyHome")}, nil},
		{"backlog_key_of_another_network", [][]byte{publish(0, "cmnd/x/Backlog", "SSID1 MyHome; Password2 "+key)}, nil},
		// Not commands: a device's answer shows a mask, a telemetry
		// topic is no command, and "cmnd" must be a level of its own.
		{"result_with_mask", [][]byte{publish(0, "stat/x/RESULT", `{"Password1":"****"}`)}, nil},
		{"telemetry_topic", [][]byte{publish(0, "tele/x/Password1", key)}, nil},
		{"cmnd_not_a_level", [][]byte{publish(0, "mycmnd/x/Password1", key)}, nil},
		{"command_is_the_device", [][]byte{publish(0, "x/cmnd", "Password1 "+key)}, nil},
	}
	v311 := connect(connectOpts{clientID: "DVES_5E3C1A"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			conv := inspecttest.NewTCP(e, inspecttest.LANClient, "203.0.113.5:1883")
			conv.ClientBytes(v311).ServerBytes(connack(0))
			for _, p := range tt.pubs {
				conv.ClientBytes(p)
			}
			conv.Close()
			e.Flush()
			var got []found
			for _, ev := range c.Kind(event.KindPersonalData) {
				got = append(got, found{ev.Evidence["data_kind"], ev.Evidence["field"]})
				if ev.Evidence["sample"] != "***" || ev.Evidence["where"] != inspect.WhereMQTTCommand || ev.Severity != event.SeverityHigh {
					t.Errorf("evidence %v, severity %v: want sample ***, where %s, high", ev.Evidence, ev.Severity, inspect.WhereMQTTCommand)
				}
			}
			slices.SortFunc(got, func(a, b found) int { return strings.Compare(a.kind, b.kind) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
			for _, s := range []string{key, "s3cretWeb", "brokerPw"} {
				if inspecttest.Leaks(t, c.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
		})
	}
}

func TestCommandPublishDoesNotAllocate(t *testing.T) {
	sc := &countingScanner{}
	s := newSteadyFlow(t, New(sc))
	s.logIn(connect(connectOpts{clientID: "x"}), connack(0))
	pub := publish(0, "cmnd/plug/Backlog", "SSID1 MyHome; Password1 hunter2hunter2")
	allocs := testing.AllocsPerRun(1000, func() { s.send(inspect.ToServer, pub) })
	if allocs != 0 {
		t.Errorf("%v allocations per command PUBLISH segment, want 0", allocs)
	}
	if sc.n < 2000 {
		t.Errorf("scanner saw %d parts: the publishes were not parsed", sc.n)
	}
}
