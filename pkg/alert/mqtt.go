package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/internal/mqttpub"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// MQTT publishes to a broker for Home Assistant: per device, retained
// discovery configs for a "quarantined" binary sensor and a "security
// state" sensor, a retained state topic, and every alert on
// <topic_prefix>/alert. It keeps one connection and opens a new one when
// it was idle for the keep alive interval or the broker closed it.
type MQTT struct {
	opts            mqttpub.Options
	discoveryPrefix string
	topicPrefix     string

	mu        sync.Mutex // one publish sequence at a time
	conn      *mqttpub.Conn
	announced map[string]uint64 // object id → hash of the discovery config published
}

// maxAnnounced bounds the devices whose discovery config is remembered;
// beyond it the memory is cleared and configs are published again.
const maxAnnounced = 4096

func newMQTT(s *settings) *MQTT {
	o := mqttpub.Options{ClientID: s.ClientID, Username: s.Username, Password: s.Password,
		KeepAlive: 60 * time.Second, Timeout: 15 * time.Second}
	if u, err := url.Parse(s.URL); err == nil { // checked by validate
		port := u.Port()
		switch u.Scheme {
		case "mqtts", "ssl", "tls":
			o.TLS = s.tlsConfig(u.Hostname())
			port = cmp.Or(port, "8883")
		default:
			port = cmp.Or(port, "1883")
		}
		o.Addr = net.JoinHostPort(u.Hostname(), port)
	}
	return &MQTT{opts: o, discoveryPrefix: s.DiscoveryPrefix, topicPrefix: s.TopicPrefix, announced: map[string]uint64{}}
}

// Send implements Sender. A digest is published part by part, so each
// device's state stays right.
func (m *MQTT) Send(ctx context.Context, a Alert) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.connect(ctx); err != nil {
		return err
	}
	parts := []Alert{a}
	if a.Kind == KindDigest {
		parts = a.Parts
	}
	for _, p := range parts {
		if err := m.publishAlert(ctx, p); err != nil {
			m.disconnect()
			return err
		}
	}
	return nil
}

// Close disconnects from the broker.
func (m *MQTT) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disconnect()
	return nil
}

func (m *MQTT) disconnect() {
	if m.conn != nil {
		_ = m.conn.Close()
		m.conn = nil
	}
}

func (m *MQTT) connect(ctx context.Context) error {
	if m.conn != nil && m.conn.Usable() {
		return nil
	}
	m.disconnect()
	clear(m.announced) // a new session: publish the configs again
	c, err := mqttpub.Dial(ctx, m.opts)
	if err != nil {
		err = fmt.Errorf("mqtt: %w", err)
		if re := (*mqttpub.RefusedError)(nil); errors.As(err, &re) && re.Permanent() || errors.Is(err, mqttpub.ErrOptions) {
			return permanent(err)
		}
		return err
	}
	m.conn = c
	return nil
}

func (m *MQTT) publish(ctx context.Context, topic string, retained bool, payload []byte) error {
	if err := m.conn.Publish(ctx, topic, payload, retained); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}

// mqttState is the retained per-device state.
type mqttState struct {
	State     string    `json:"state"`
	MAC       string    `json:"mac"`
	Name      string    `json:"name,omitempty"`
	LastAlert string    `json:"last_alert"`
	Kind      Kind      `json:"kind"`
	Severity  string    `json:"severity"`
	Time      time.Time `json:"time"`
	URL       string    `json:"url,omitempty"`
}

func (m *MQTT) publishAlert(ctx context.Context, a Alert) error {
	if a.Device != nil {
		if mac, err := hwaddr.Parse(a.Device.MAC); err == nil {
			id := objectID(mac)
			if err := m.announce(ctx, mac, id, a.Device); err != nil {
				return err
			}
			st := mqttState{State: orWord(a.Device.State, StateOK), MAC: mac.String(), Name: displayName(*a.Device),
				LastAlert: a.Title, Kind: a.Kind, Severity: a.Severity.String(), Time: a.Time.UTC(), URL: a.URL}
			payload, _ := json.Marshal(st)
			if err := m.publish(ctx, m.stateTopic(id), true, payload); err != nil {
				return err
			}
		}
	}
	payload, _ := json.Marshal(a)
	return m.publish(ctx, m.topicPrefix+"/alert", false, payload)
}

func objectID(mac hwaddr.MAC) string {
	return "iotgw_" + strings.ReplaceAll(mac.String(), ":", "")
}

func (m *MQTT) stateTopic(id string) string {
	return m.topicPrefix + "/" + strings.TrimPrefix(id, "iotgw_") + "/state"
}

// haDevice is Home Assistant's device block of a discovery config.
type haDevice struct {
	Identifiers  []string    `json:"identifiers"`
	Connections  [][2]string `json:"connections"`
	Name         string      `json:"name"`
	Manufacturer string      `json:"manufacturer,omitempty"`
	Model        string      `json:"model,omitempty"`
}

type haConfig struct {
	Name                string            `json:"name"`
	UniqueID            string            `json:"unique_id"`
	ObjectID            string            `json:"object_id"`
	StateTopic          string            `json:"state_topic"`
	ValueTemplate       string            `json:"value_template"`
	JSONAttributesTopic string            `json:"json_attributes_topic"`
	DeviceClass         string            `json:"device_class,omitempty"`
	Options             []string          `json:"options,omitempty"`
	Icon                string            `json:"icon,omitempty"`
	Device              haDevice          `json:"device"`
	Origin              map[string]string `json:"origin"`
}

// discoveryConfigs are the retained Home Assistant discovery messages
// for a device: topic → payload.
func (m *MQTT) discoveryConfigs(mac hwaddr.MAC, id string, d *Device) [][2]string {
	state := m.stateTopic(id)
	dev := haDevice{Identifiers: []string{id}, Connections: [][2]string{{"mac", mac.String()}},
		Name: displayName(*d), Manufacturer: devname.Isolate(d.Vendor), Model: devname.Isolate(d.Model)}
	origin := map[string]string{"name": "iotgw"}
	quarantine := haConfig{Name: "Quarantined", UniqueID: id + "_quarantine", ObjectID: id + "_quarantine",
		StateTopic: state, JSONAttributesTopic: state, DeviceClass: "problem", Device: dev, Origin: origin,
		ValueTemplate: "{{ 'ON' if value_json.state == 'quarantined' else 'OFF' }}"}
	status := haConfig{Name: "Security state", UniqueID: id + "_state", ObjectID: id + "_state",
		StateTopic: state, JSONAttributesTopic: state, DeviceClass: "enum",
		Options: []string{StateOK, StateAlert, StateQuarantined}, Icon: "mdi:shield-home", Device: dev, Origin: origin,
		ValueTemplate: "{{ value_json.state }}"}
	q, _ := json.Marshal(quarantine)
	s, _ := json.Marshal(status)
	return [][2]string{
		{m.discoveryPrefix + "/binary_sensor/" + id + "/quarantine/config", string(q)},
		{m.discoveryPrefix + "/sensor/" + id + "/state/config", string(s)},
	}
}

// announce publishes the device's discovery configs when they are new or
// changed (a new name) in this session.
func (m *MQTT) announce(ctx context.Context, mac hwaddr.MAC, id string, d *Device) error {
	cfgs := m.discoveryConfigs(mac, id, d)
	h := fnv.New64a()
	for _, cfg := range cfgs {
		h.Write([]byte(cfg[1]))
	}
	sum := h.Sum64()
	if m.announced[id] == sum {
		return nil
	}
	for _, cfg := range cfgs {
		if err := m.publish(ctx, cfg[0], true, []byte(cfg[1])); err != nil {
			return err
		}
	}
	if len(m.announced) >= maxAnnounced {
		clear(m.announced)
	}
	m.announced[id] = sum
	return nil
}
