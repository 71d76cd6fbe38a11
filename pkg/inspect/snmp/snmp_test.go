package snmp

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestCorpus(t *testing.T) {
	tests := []struct {
		file      string
		accepted  map[string]int // findings per "accepted" value
		mechanism string
		password  string // redacted shape
		device    string // IP of the device the findings are about
		secrets   []string
	}{
		// 30 requests on 30 source ports; two were never answered,
		// which SNMP's silent refusal makes "no".
		{"zeek-snmp-snmpv1_get.pcap", map[string]int{"yes": 28, "no": 2}, "community v1", "pu***", "172.31.19.73", []string{"public"}},
		{"zeek-snmp-snmpv1_get_short.pcap", map[string]int{"yes": 1}, "community v1", "pu***", "129.94.135.39", []string{"public"}},
		// A trap is about its sender, the agent.
		{"zeek-snmp-snmpv1_trap.pcap", map[string]int{"unknown": 1}, "community v1", "pu***", "127.0.0.1", []string{"public"}},
		{"zeek-snmp-snmpv2_get.pcap", map[string]int{"yes": 1}, "community v2c", "pu***", "10.10.3.109", []string{"public"}},
		{"zeek-snmp-snmpv2_get_next.pcap", map[string]int{"yes": 4}, "community v2c", "[R***", "10.144.246.161", []string{"[R0_C@cti!]", "R0_C@cti"}},
		{"zeek-snmp-oid-subidentifier-too-long.pcap", map[string]int{"no": 1}, "community v1", "pu***", "10.0.0.1", []string{"public"}},
		{"sv-snmp-v3-get-bulk-unauth.pcap", map[string]int{}, "", "", "", []string{"noAuthUser"}},
		{"tcpdump-snmp-heapoverflow-1.pcap", map[string]int{}, "", "", "", nil},
		{"tcpdump-snmp-heapoverflow-2.pcap", map[string]int{}, "", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, ev := range c.Findings() {
				got[ev.Evidence["accepted"]]++
				e := ev.Evidence
				if ev.Kind != event.KindPlaintextCredentials || e["protocol"] != "snmp" || e["mechanism"] != tt.mechanism ||
					e["password"] != tt.password || e["password_class"] != "unique" {
					t.Errorf("finding %s %v, want mechanism %s password %s", ev.Kind, e, tt.mechanism, tt.password)
				}
				if ev.Device.IP != tt.device {
					t.Errorf("finding about %s, want %s", ev.Device.IP, tt.device)
				}
			}
			if len(got) != len(tt.accepted) {
				t.Errorf("findings by verdict %v, want %v", got, tt.accepted)
			}
			for k, n := range tt.accepted {
				if got[k] != n {
					t.Errorf("findings by verdict %v, want %v", got, tt.accepted)
				}
			}
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, c.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
			if len(tt.accepted) == 0 && tt.file != "sv-snmp-v3-get-bulk-unauth.pcap" && len(c.Events) != 0 {
				t.Errorf("events from garbage: %v", c.Events)
			}
		})
	}
}

// TestCorpusV3 checks the SNMPv3 noAuthNoPriv capture: engine discovery
// says nothing, and each request by the unknown user noAuthUser is
// refused with a Report.
func TestCorpusV3(t *testing.T) {
	c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "sv-snmp-v3-get-bulk-unauth.pcap"), nil, New())
	if err != nil {
		t.Fatal(err)
	}
	obs := c.Kind(event.KindBanner)
	if len(obs) != 2 || len(c.Findings()) != 0 {
		t.Fatalf("got %d observations and %d findings, want 2 and 0", len(obs), len(c.Findings()))
	}
	for _, ev := range obs {
		want := event.Evidence{"protocol": "snmp", "snmp_version": "3", "security_model": "usm",
			"security_level": "noAuthNoPriv", "user": "no***", "accepted": "no"}
		if !equalEvidence(ev.Evidence, want) || ev.Type != event.TypeObservation || ev.Device.Port != 161 {
			t.Errorf("observation %v about %v, want %v about the agent", ev.Evidence, ev.Device, want)
		}
	}
}

// TestV3Recording reads testdata/snmpv3-usm.pcap, recorded by
// scripts/detection/record-snmpv3.sh between net-snmp's snmpd and
// snmpget (5.9.3), one flow per snmpget: at authPriv (SHA, AES) the
// right pass phrases, answered by an encrypted Response; a wrong
// authentication pass phrase, refused by a usmStatsWrongDigests Report;
// a wrong privacy pass phrase, which the agent drops without a word; at
// authNoPriv the right pass phrase, answered in clear; and an unknown
// user, refused by a usmStatsUnknownUserNames Report.
func TestV3Recording(t *testing.T) {
	c, err := inspecttest.RunFile(t, "testdata/snmpv3-usm.pcap", nil, New())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range c.Kind(event.KindBanner) {
		got = append(got, ev.Evidence["security_level"]+"/"+ev.Evidence["accepted"])
		if ev.Evidence["user"] != "na***" || ev.Device.IP != "192.168.54.10" || ev.Device.Port != 161 {
			t.Errorf("observation %v about %v, want user na*** about the agent", ev.Evidence, ev.Device)
		}
	}
	slices.Sort(got)
	want := []string{"authNoPriv/yes", "authPriv/no", "authPriv/no", "authPriv/unknown", "authPriv/yes"}
	if !slices.Equal(got, want) || len(c.Findings()) != 0 {
		t.Errorf("observations %v and %d findings, want %v and none", got, len(c.Findings()), want)
	}
	for _, s := range []string{"nas-monitor", "nas-backup"} {
		if inspecttest.Leaks(t, c.Events, s) {
			t.Errorf("%q leaked into an event", s)
		}
	}
}

func equalEvidence(a, b event.Evidence) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// defaultClassifier knows "public" as a factory default.
type defaultClassifier struct{}

func (defaultClassifier) Classify(l *inspect.Login) (inspect.PasswordClass, inspect.DefaultMatch) {
	if string(l.Secret) == "public" && l.Kind == inspect.SecretCommunity {
		return inspect.ClassDefault, inspect.DefaultMatch{Source: "test"}
	}
	return "", inspect.DefaultMatch{}
}

func TestCorpusDefaultCommunity(t *testing.T) {
	c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "zeek-snmp-snmpv2_get.pcap"), defaultClassifier{}, New())
	if err != nil {
		t.Fatal(err)
	}
	got := c.Kind(event.KindDefaultCredentials)
	if len(got) != 1 || got[0].Evidence["accepted"] != "yes" || got[0].Device.IP != "10.10.3.109" {
		t.Fatalf("default-community findings %v, want one accepted, about the agent", c.Events)
	}
	if !strings.Contains(got[0].Summary, "community string") {
		t.Errorf("summary %q", got[0].Summary)
	}
}

// BER builders for synthetic datagrams.

func octets(s string) []byte { return inspecttest.BER(tagOctets, []byte(s)) }

func integ(v byte) []byte { return inspecttest.BER(tagInteger, []byte{v}) }

// pdu is a request or response PDU with one variable binding
// (sysDescr.0 = NULL), request-id 42.
func pdu(tag byte) []byte { return pduID(tag, 42) }

// pduID is pdu with request-id id, one byte.
func pduID(tag, id byte) []byte { return pduRawID(tag, []byte{id}) }

// pduRawID is pdu with the request-id's contents as given.
func pduRawID(tag byte, id []byte) []byte {
	vb := inspecttest.BER(tagSequence, inspecttest.BER(tagSequence, inspecttest.BER(tagOID, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), []byte{0x05, 0}))
	return inspecttest.BER(tag, inspecttest.BER(tagInteger, id), integ(0), integ(0), vb)
}

// usmStats counters a Report carries (RFC 3414 section 5).
const (
	usmUnsupportedSecLevels = 1
	usmNotInTimeWindows     = 2
	usmUnknownUserNames     = 3
	usmUnknownEngineIDs     = 4
	usmWrongDigests         = 5
)

// usmReport is a Report PDU with request-id 42 whose one variable binding
// is the usmStats counter n, as agents send it.
func usmReport(n byte) []byte {
	oid := inspecttest.BER(tagOID, []byte{0x2b, 6, 1, 6, 3, 15, 1, 1, n, 0})
	vb := inspecttest.BER(tagSequence, inspecttest.BER(tagSequence, oid, inspecttest.BER(0x41, []byte{1})))
	return inspecttest.BER(pduReport, integ(42), integ(0), integ(0), vb)
}

func trapV1() []byte {
	return inspecttest.BER(pduTrapV1, inspecttest.BER(tagOID, []byte{0x2b, 6, 1, 4, 1}), inspecttest.BER(0x40, []byte{192, 168, 1, 20}),
		integ(6), integ(1), inspecttest.BER(0x43, []byte{1}), inspecttest.BER(tagSequence))
}

func community(version byte, comm string, p []byte) []byte {
	return inspecttest.BER(tagSequence, integ(version), octets(comm), p)
}

// v3 is an SNMPv3 message with msgID 7.
func v3(flags byte, user string, scoped []byte) []byte { return v3ID(7, flags, user, scoped) }

// v3ID is v3 with msgID id, one byte.
func v3ID(id, flags byte, user string, scoped []byte) []byte {
	usm := inspecttest.BER(tagSequence, octets("\x80\x00\x1f\x88\x80"), integ(3), integ(36), octets(user), octets(""), octets(""))
	global := inspecttest.BER(tagSequence, integ(id), inspecttest.BER(tagInteger, []byte{0x00, 0xff, 0xe3}), octets(string([]byte{flags})), integ(modelUSM))
	return inspecttest.BER(tagSequence, integ(versionV3), global, inspecttest.BER(tagOctets, usm), scoped)
}

func scoped(p []byte) []byte {
	return inspecttest.BER(tagSequence, octets("\x80\x00\x1f\x88\x80"), octets(""), p)
}

const comm = "s3cret-Comm"

func TestSynthetic(t *testing.T) {
	get := community(versionV2c, comm, pdu(pduGet))
	resp := community(versionV2c, comm, pdu(pduResponse))
	type want struct {
		accepted string
		device   string
	}
	tests := []struct {
		name     string
		server   string
		script   func(c *inspecttest.Conv)
		findings []want
		observed []string // "security_level/accepted" of v3 observations
	}{
		{"get_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(resp)
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"get_unanswered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get)
		}, []want{{"no", "192.168.1.20"}}, nil},
		{"v1_set_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV1, comm, pdu(pduSet))).ServerBytes(community(versionV1, comm, pdu(pduResponse)))
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"polling_reports_once", "192.168.1.20:161", func(c *inspecttest.Conv) {
			for range 20 {
				c.ClientBytes(get).ServerBytes(resp)
			}
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"two_communities_one_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV2c, "wrong-Comm1", pdu(pduGet))).ClientBytes(get).ServerBytes(resp)
		}, []want{{"yes", "192.168.1.20"}, {"no", "192.168.1.20"}}, nil},
		// One datagram any LAN host can send in the agent's name: the
		// community is told, but nothing was seen accepting it.
		{"response_without_request", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(resp)
		}, []want{{"unknown", "192.168.1.20"}}, nil},
		{"response_to_another_request_id", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(community(versionV2c, comm, pduID(pduResponse, 43)))
		}, []want{{"unknown", "192.168.1.20"}}, nil},
		{"response_with_another_community", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(community(versionV2c, "wrong-Comm1", pdu(pduResponse)))
		}, []want{{"no", "192.168.1.20"}, {"unknown", "192.168.1.20"}}, nil},
		{"response_sent_the_way_the_request_went", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ClientBytes(resp)
		}, []want{{"unknown", "192.168.1.20"}}, nil},
		{"lone_response_then_a_request_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(resp).ClientBytes(get).ServerBytes(resp)
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"walk_answered_in_turn", "192.168.1.20:161", func(c *inspecttest.Conv) {
			for id := range byte(5) {
				c.ClientBytes(community(versionV2c, comm, pduID(pduGetNext, id))).ServerBytes(community(versionV2c, comm, pduID(pduResponse, id)))
			}
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"request_id_encoded_unsigned", "192.168.1.20:161", func(c *inspecttest.Conv) {
			id := []byte{0x00, 0xff, 0xff, 0xff, 0xfe}
			c.ClientBytes(community(versionV2c, comm, pduRawID(pduGet, id))).ServerBytes(community(versionV2c, comm, pduRawID(pduResponse, id)))
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"request_id_encoded_longer", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV2c, comm, pduRawID(pduGet, []byte{0, 0, 42}))).ServerBytes(resp)
		}, []want{{"yes", "192.168.1.20"}}, nil},
		// The table of requests is bounded: the oldest is forgotten,
		// and its answer proves nothing; the newest is still there.
		{"oldest_request_forgotten", "192.168.1.20:161", func(c *inspecttest.Conv) {
			for id := range byte(maxRequests + 1) {
				c.ClientBytes(community(versionV2c, comm, pduID(pduGet, id)))
			}
			c.ServerBytes(community(versionV2c, comm, pduID(pduResponse, 0)))
		}, []want{{"unknown", "192.168.1.20"}}, nil},
		{"newest_request_kept", "192.168.1.20:161", func(c *inspecttest.Conv) {
			for id := range byte(maxRequests + 1) {
				c.ClientBytes(community(versionV2c, comm, pduID(pduGet, id)))
			}
			c.ServerBytes(community(versionV2c, comm, pduID(pduResponse, maxRequests)))
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"trap_v2_about_sender", "192.168.1.1:162", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV2c, comm, pdu(pduTrapV2))).ClientBytes(community(versionV2c, comm, pdu(pduTrapV2)))
		}, []want{{"unknown", "192.168.1.10"}}, nil},
		{"trap_v1_about_sender", "192.168.1.1:162", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV1, comm, trapV1()))
		}, []want{{"unknown", "192.168.1.10"}}, nil},
		{"inform_acknowledged", "192.168.1.1:162", func(c *inspecttest.Conv) {
			c.ClientBytes(community(versionV2c, comm, pdu(pduInform))).ServerBytes(community(versionV2c, comm, pdu(pduResponse)))
		}, []want{{"yes", "192.168.1.10"}}, nil},
		{"port_10161", "192.168.1.20:10161", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(resp)
		}, []want{{"yes", "192.168.1.20"}}, nil},
		{"not_an_snmp_port", "192.168.1.20:5000", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(resp)
		}, nil, nil},
		{"v3_noauth_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x04, "", scoped(pdu(pduGet)))).ServerBytes(v3(0, "", scoped(pdu(pduReport))))
			c.ClientBytes(v3(0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3(0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/yes"}},
		{"v3_noauth_unanswered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x04, "monitor", scoped(pdu(pduGetBulk))))
		}, nil, []string{"noAuthNoPriv/unknown"}},
		// At authPriv the scoped PDU is encrypted both ways, but the
		// header tells: the agent's answer to a request seen (its msgID,
		// the reportable flag clear) at the request's level is
		// authenticated and encrypted with the user's keys. A refusal
		// would have been a Report in clear.
		{"v3_authpriv_encrypted_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03"))).ServerBytes(v3(0x03, "monitor", octets("\x04\x05")))
		}, nil, []string{"authPriv/yes"}},
		{"v3_authpriv_encrypted_unanswered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03")))
		}, nil, []string{"authPriv/unknown"}},
		{"v3_authpriv_encrypted_reply_without_request", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(v3(0x03, "monitor", octets("\x04\x05")))
		}, nil, []string{"authPriv/unknown"}},
		{"v3_authpriv_encrypted_reply_to_another_msgid", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x07, "monitor", octets("\x01\x02\x03"))).ServerBytes(v3ID(8, 0x03, "monitor", octets("\x04\x05")))
		}, nil, []string{"authPriv/unknown"}},
		{"v3_authpriv_encrypted_reply_sent_the_way_the_request_went", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03"))).ClientBytes(v3(0x03, "monitor", octets("\x04\x05")))
		}, nil, []string{"authPriv/unknown"}},
		// A reportable message the other way is a request of its own
		// (an Inform), not an answer.
		{"v3_authpriv_encrypted_request_back", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03"))).ServerBytes(v3(0x07, "monitor", octets("\x04\x05")))
		}, nil, []string{"authPriv/unknown"}},
		// An answer in clear, at a lower level, proves no key.
		{"v3_authpriv_answered_at_authnopriv", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03"))).ServerBytes(v3(0x01, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"authPriv/unknown", "authNoPriv/unknown"}},
		{"v3_authpriv_clock_report_then_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x07, "monitor", octets("\x01"))).ServerBytes(v3ID(7, 0x01, "monitor", scoped(usmReport(usmNotInTimeWindows))))
			c.ClientBytes(v3ID(8, 0x07, "monitor", octets("\x01"))).ServerBytes(v3ID(8, 0x03, "monitor", octets("\x02")))
		}, nil, []string{"authPriv/yes"}},
		{"v3_authnopriv_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x05, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3(0x01, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"authNoPriv/yes"}},
		// As for a community, a Response proves the user accepted only
		// when it answers a request seen: by its msgID, user and
		// security level, from the end the request went to.
		{"v3_response_without_request", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(v3(0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/unknown"}},
		{"v3_authnopriv_response_without_request", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(v3(0x01, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"authNoPriv/unknown"}},
		{"v3_response_to_another_msgid", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(8, 0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/unknown"}},
		{"v3_response_sent_the_way_the_request_went", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x04, "monitor", scoped(pdu(pduGet)))).ClientBytes(v3(0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/unknown"}},
		{"v3_response_at_another_security_level", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x05, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3(0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"authNoPriv/unknown", "noAuthNoPriv/unknown"}},
		{"v3_lone_response_then_a_request_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ServerBytes(v3ID(9, 0, "monitor", scoped(pdu(pduResponse))))
			c.ClientBytes(v3ID(10, 0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(10, 0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/yes"}},
		// A Report refuses the request it answers (its msgID) when it
		// counts a failed check (RFC 3414 section 3.2): net-snmp sends
		// the one for a wrong password without authentication, at
		// noAuthNoPriv.
		{"v3_authnopriv_wrong_password", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x05, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3(0, "monitor", scoped(usmReport(usmWrongDigests))))
		}, nil, []string{"authNoPriv/no"}},
		{"v3_authpriv_wrong_password", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x07, "monitor", octets("\x01\x02\x03"))).ServerBytes(v3(0, "monitor", scoped(usmReport(usmWrongDigests))))
		}, nil, []string{"authPriv/no"}},
		{"v3_noauth_unknown_user", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3(0, "monitor", scoped(usmReport(usmUnknownUserNames))))
		}, nil, []string{"noAuthNoPriv/no"}},
		// A clock out of step, or an engine ID to learn, is part of the
		// exchange: the request is sent again and answered.
		{"v3_not_in_time_window_then_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x05, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(7, 0x01, "monitor", scoped(usmReport(usmNotInTimeWindows))))
			c.ClientBytes(v3ID(8, 0x05, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(8, 0x01, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"authNoPriv/yes"}},
		{"v3_discovery_naming_the_user_then_answered", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(7, 0, "monitor", scoped(usmReport(usmUnknownEngineIDs))))
			c.ClientBytes(v3ID(8, 0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(8, 0, "monitor", scoped(pdu(pduResponse))))
		}, nil, []string{"noAuthNoPriv/yes"}},
		// Anyone on the LAN can send a Report in the agent's name.
		{"v3_report_without_request", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3ID(7, 0x04, "monitor", scoped(pdu(pduGet)))).ServerBytes(v3ID(8, 0, "monitor", scoped(usmReport(usmUnknownUserNames))))
		}, nil, []string{"noAuthNoPriv/unknown"}},
		{"v3_discovery_only", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x04, "", scoped(pdu(pduGet)))).ServerBytes(v3(0, "", scoped(pdu(pduReport))))
		}, nil, nil},
		{"v3_priv_without_auth_is_invalid", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(v3(0x06, "monitor", scoped(pdu(pduGet))))
		}, nil, nil},
		{"v2u_version_2_ignored", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(community(2, comm, pdu(pduGet)))
		}, nil, nil},
		{"truncated_datagram", "192.168.1.20:161", func(c *inspecttest.Conv) {
			c.ClientBytes(get[:len(get)-3]).ClientBytes(get[:len(get)-3])
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, "192.168.1.10:40000", tt.server)
			tt.script(c)
			e.Flush()
			got := col.Findings()
			if len(got) != len(tt.findings) {
				t.Fatalf("got %d findings, want %d: %v", len(got), len(tt.findings), col.Events)
			}
			for i, w := range tt.findings {
				if got[i].Evidence["accepted"] != w.accepted || got[i].Device.IP != w.device {
					t.Errorf("finding %d: accepted %s about %s, want %s about %s", i, got[i].Evidence["accepted"], got[i].Device.IP, w.accepted, w.device)
				}
				if got[i].Evidence["password"] != "s3***" && got[i].Evidence["password"] != "wr***" {
					t.Errorf("password shape %q", got[i].Evidence["password"])
				}
			}
			var obs []string
			for _, ev := range col.Kind(event.KindBanner) {
				obs = append(obs, ev.Evidence["security_level"]+"/"+ev.Evidence["accepted"])
				if ev.Evidence["user"] != "mo***" || ev.Device.IP != "192.168.1.20" {
					t.Errorf("observation %v about %v", ev.Evidence, ev.Device)
				}
			}
			if strings.Join(obs, ",") != strings.Join(tt.observed, ",") {
				t.Errorf("v3 observations %v, want %v", obs, tt.observed)
			}
			for _, s := range []string{comm, "wrong-Comm1", "monitor"} {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q leaked into an event", s)
				}
			}
		})
	}
}

// TestCommunityGuessing: a scanner trying many communities from one socket
// is bounded, and the one the agent answers is still reported accepted.
func TestCommunityGuessing(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.20:161")
	for i := range 50 {
		c.ClientBytes(community(versionV2c, "guess-"+string(rune('A'+i)), pdu(pduGet)))
	}
	c.ClientBytes(get2c("right-one")).ServerBytes(community(versionV2c, "right-one", pdu(pduResponse)))
	e.Flush()
	got := col.Findings()
	if len(got) != maxEntries+1 {
		t.Fatalf("got %d findings, want %d", len(got), maxEntries+1)
	}
	accepted := 0
	for _, ev := range got {
		if ev.Evidence["accepted"] == "yes" {
			accepted++
			if ev.Evidence["password"] != "ri***" {
				t.Errorf("accepted community %q, want the right one", ev.Evidence["password"])
			}
		}
	}
	if accepted != 1 {
		t.Errorf("%d accepted findings, want 1", accepted)
	}
}

func get2c(comm string) []byte { return community(versionV2c, comm, pdu(pduGet)) }

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		ok   bool
		pdu  byte
		comm string
	}{
		// v1 GetRequest, community "public", from the zeek corpus.
		{"v1_get", "302602010004067075626c6963a01902012a020100020100300e300c06082b060102010101000500", true, pduGet, "public"},
		{"long_form_length", "30812602010004067075626c6963a01902012a020100020100300e300c06082b060102010101000500", true, pduGet, "public"},
		{"indefinite_length", "308002010004067075626c6963a01902012a020100020100300e300c06082b0601020101010005000000", false, 0, ""},
		// The v1 GetRequest whole, its length in five bytes: BER allows
		// it, but more than four length bytes are refused.
		{"five_length_bytes", "30850000000026" + "02010004067075626c6963a01902012a020100020100300e300c06082b060102010101000500", false, 0, ""},
		{"length_past_end", "307f02010004067075626c6963", false, 0, ""},
		{"huge_length_on_32_bit", "3084ffffffff02010004067075626c6963", false, 0, ""},
		{"community_length_past_end", "300b020100047f7075626c6963", false, 0, ""},
		{"multi_byte_tag", "3f81260201000406", false, 0, ""},
		{"version_not_integer", "302604010004067075626c6963a01902012a020100020100300e300c06082b060102010101000500", false, 0, ""},
		{"version_five_bytes", "300702050000000000", false, 0, ""},
		{"unknown_pdu_tag", "302602010004067075626c6963a91902012a020100020100300e300c06082b060102010101000500", false, 0, ""},
		{"pdu_without_request_id", "301502010004067075626c6963a0083006300406000500", false, 0, ""},
		{"not_a_sequence", "312602010004067075626c6963", false, 0, ""},
		{"empty", "", false, 0, ""},
		{"one_byte", "30", false, 0, ""},
		{"zero_length_message", "3000", false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			var m message
			ok := parse(b, &m)
			if ok != tt.ok || (ok && (m.pdu != tt.pdu || string(m.community) != tt.comm)) {
				t.Errorf("parse = %v pdu %#x community %q, want %v %#x %q", ok, m.pdu, m.community, tt.ok, tt.pdu, tt.comm)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	get := get2c(comm)
	tests := []struct {
		name   string
		tcp    bool
		server string
		data   []byte
		want   inspect.Confidence
	}{
		{"get_to_161", false, "192.168.1.20:161", get, inspect.ContentMatch},
		{"trap_to_162", false, "192.168.1.20:162", get, inspect.ContentMatch},
		{"truncated_on_161", false, "192.168.1.20:161", get[:10], inspect.PortMatch},
		{"text_on_161", false, "192.168.1.20:161", []byte("garbage"), inspect.NoMatch},
		// '0' is 0x30, a SEQUENCE: undecodable, but the analyzer finds nothing in it.
		{"ber_like_garbage_on_161", false, "192.168.1.20:161", []byte("0000garbage"), inspect.PortMatch},
		{"dtls_on_10161", false, "192.168.1.20:10161", []byte{0x16, 0xfe, 0xfd, 0, 0}, inspect.NoMatch},
		{"snmp_elsewhere", false, "192.168.1.20:5000", get, inspect.NoMatch},
		{"tcp_161", true, "192.168.1.20:161", get, inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := &inspecttest.MatchProbe{Protocol: New()}
			e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, probe)
			var c *inspecttest.Conv
			if tt.tcp {
				c = inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server)
			} else {
				c = inspecttest.NewUDP(e, "192.168.1.10:40000", tt.server)
			}
			c.ClientBytes(tt.data)
			if probe.Calls == 0 {
				t.Error("Match not called")
			} else if probe.Got != tt.want {
				t.Errorf("Match = %d, want %d", probe.Got, tt.want)
			}
		})
	}
}

// steadyFlow feeds datagrams of one UDP flow through one reused Packet, so
// that an allocation counted is the analyzer's.
type steadyFlow struct {
	e              *inspect.Engine
	p              *inspect.Packet
	client, server netip.Addr
}

func newSteadyFlow(tb testing.TB) *steadyFlow {
	tb.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{New()}, Sink: &inspecttest.Collector{}})
	if err != nil {
		tb.Fatal(err)
	}
	return &steadyFlow{e: e, p: &inspect.Packet{},
		client: netip.MustParseAddr("192.168.1.10"), server: netip.MustParseAddr("192.168.1.20")}
}

func (s *steadyFlow) send(dir inspect.Dir, data []byte) {
	*s.p = inspect.Packet{Kind: inspect.KindUDP, IPProto: 17, Payload: data,
		Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Src:       s.client, Dst: s.server, SrcPort: 40000, DstPort: 161}
	if dir == inspect.ToClient {
		s.p.Src, s.p.Dst, s.p.SrcPort, s.p.DstPort = s.server, s.client, 161, 40000
	}
	s.e.HandlePacket(s.p)
}

func TestGetResponseDoesNotAllocate(t *testing.T) {
	tests := []struct {
		name     string
		get      []byte
		response []byte
		logins   uint64 // reported by the first exchange, and in all
	}{
		{"answered", get2c(comm), community(versionV2c, comm, pdu(pduResponse)), 1},
		// Each request remembered, each Response looked up in vain:
		// the community waits for the end of the flow.
		{"answering_another_request", get2c(comm), community(versionV2c, comm, pduID(pduResponse, 7)), 0},
		// A v3 user is an observation, no login.
		{"v3_answered", v3(0x04, "monitor", scoped(pdu(pduGet))), v3(0, "monitor", scoped(pdu(pduResponse))), 0},
		{"v3_answering_another_request", v3ID(7, 0x04, "monitor", scoped(pdu(pduGet))), v3ID(8, 0, "monitor", scoped(pdu(pduResponse))), 0},
		{"v3_authpriv_answered", v3(0x07, "monitor", octets("\x01\x02\x03")), v3(0x03, "monitor", octets("\x04\x05")), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSteadyFlow(t)
			get := tt.get
			s.send(inspect.ToServer, get)
			s.send(inspect.ToClient, tt.response)
			before := s.e.Stats.LoginsReported
			allocs := testing.AllocsPerRun(1000, func() {
				s.send(inspect.ToServer, get)
				s.send(inspect.ToClient, tt.response)
			})
			if allocs != 0 {
				t.Errorf("%v allocations per request and response, want 0", allocs)
			}
			if before != tt.logins || s.e.Stats.LoginsReported != tt.logins {
				t.Errorf("%d logins reported, want %d", s.e.Stats.LoginsReported, tt.logins)
			}
		})
	}
}

func BenchmarkGetResponse(b *testing.B) {
	s := newSteadyFlow(b)
	resp := community(versionV2c, comm, pdu(pduResponse))
	s.send(inspect.ToClient, resp)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.send(inspect.ToClient, resp)
	}
}

func FuzzDatagram(f *testing.F) {
	f.Add(get2c(comm), community(versionV2c, comm, pdu(pduResponse)))
	f.Add(community(versionV1, "public", trapV1()), []byte{})
	f.Add(v3(0x04, "monitor", scoped(pdu(pduGet))), v3(0, "monitor", scoped(pdu(pduReport))))
	f.Add(v3(0x07, "monitor", octets("x")), []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add(v3(0x07, "monitor", octets("\x01\x02")), v3(0x03, "monitor", octets("\x03\x04")))
	f.Fuzz(func(t *testing.T, request, reply []byte) {
		var m message
		parse(request, &m)
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.20:161").ClientBytes(request).ServerBytes(reply)
		e.Flush()
		// Each datagram names at most one community or user.
		if n := len(col.Events); n > 2 {
			t.Fatalf("%d events from two datagrams", n)
		}
		for _, d := range [][]byte{request, reply} {
			if parse(d, &m) && inspecttest.Distinctive(m.community) && inspecttest.Leaks(t, col.Events, string(m.community)) {
				t.Fatalf("community %q leaked", m.community)
			}
		}
	})
}

// A sweep trying "public" on a host that never answers does not make the
// host a device with the default community: only its answer does. Nor
// does a Response no request was seen for: any LAN host can send that
// one datagram in the agent's name.
func TestDefaultCommunityNeedsAnAnswer(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	get := community(versionV2c, "public", pdu(pduGet))
	resp := community(versionV2c, "public", pdu(pduResponse))
	for _, tc := range []struct {
		name     string
		script   func(c *inspecttest.Conv)
		kind     event.Kind
		accepted string
	}{
		{"answered", func(c *inspecttest.Conv) { c.ClientBytes(get).ServerBytes(resp) }, event.KindDefaultCredentials, "yes"},
		{"unanswered", func(c *inspecttest.Conv) { c.ClientBytes(get) }, event.KindPlaintextCredentials, "no"},
		{"lone_response", func(c *inspecttest.Conv) { c.ServerBytes(resp) }, event.KindDefaultCredentials, "unknown"},
		{"response_to_another_request", func(c *inspecttest.Conv) {
			c.ClientBytes(get).ServerBytes(community(versionV2c, "public", pduID(pduResponse, 7)))
		}, event.KindDefaultCredentials, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl, New())
			c := inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.30:161")
			tc.script(c)
			e.Flush()
			got := col.Findings()
			if len(got) != 1 || got[0].Kind != tc.kind || got[0].Device.IP != "192.168.1.30" || got[0].Evidence["password_class"] != "default" ||
				got[0].Evidence["accepted"] != tc.accepted {
				t.Fatalf("findings %v, want one %s about 192.168.1.30 (class default), accepted %s", got, tc.kind, tc.accepted)
			}
			// What policy quarantines on and the scorecard fails 5.1-1 for.
			if seen := got[0].SeenAccepted(); seen != (tc.accepted == "yes") {
				t.Errorf("SeenAccepted %v, want %v", seen, !seen)
			}
		})
	}
}
