package inspect_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

var (
	cpe  = hwaddr.MAC{0xcc, 0x05, 0x0e, 0x88, 0, 0}
	bras = hwaddr.MAC{0xca, 0x01, 0x0e, 0x88, 0, 6}
)

func papFrame(src, dst hwaddr.MAC, body []byte) *inspect.Packet {
	return &inspect.Packet{Timestamp: time.Unix(1, 0), Kind: inspect.KindPAP, HasMAC: true, SrcMAC: src, DstMAC: dst, Payload: body}
}

func papRequest(id byte, user, pass string) []byte {
	b := []byte{1, id, 0, 0, byte(len(user))}
	b = append(b, user...)
	b = append(b, byte(len(pass)))
	b = append(b, pass...)
	b[3] = byte(len(b))
	return b
}

func TestPAP(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	ack := func(id byte) *inspect.Packet { return papFrame(bras, cpe, []byte{2, id, 0, 5, 0}) }
	nak := func(id byte) *inspect.Packet { return papFrame(bras, cpe, []byte{3, id, 0, 5, 0}) }
	request := func(id byte, user, pass string) *inspect.Packet {
		return papFrame(cpe, bras, papRequest(id, user, pass))
	}
	tests := []struct {
		name   string
		frames []*inspect.Packet
		want   []string // "accepted class" per login, in order
	}{
		{"ack", []*inspect.Packet{request(1, "cisco", "cisco"), ack(1)}, []string{"yes default"}},
		{"nak", []*inspect.Packet{request(7, "isp-user-42", "Tr1cky-Secret!"), nak(7)}, []string{"no unique"}},
		{"no_answer", []*inspect.Packet{request(9, "isp-user-42", "Tr1cky-Secret!")}, []string{"unknown unique"}},
		{"ack_for_other_id", []*inspect.Packet{request(1, "isp-user-42", "Tr1cky-Secret!"), ack(2)}, []string{"unknown unique"}},
		// Sent again before the reply: one login, reported once.
		{"retransmission_reported_once", []*inspect.Packet{request(1, "cisco", "cisco"), request(1, "cisco", "cisco"), request(1, "cisco", "cisco"), ack(1)},
			[]string{"yes default"}},
		{"retransmission_refused_once", []*inspect.Packet{request(3, "isp-user-42", "Tr1cky-Secret!"), request(3, "isp-user-42", "Tr1cky-Secret!"), nak(3)},
			[]string{"no unique"}},
		{"retransmission_unanswered_once", []*inspect.Packet{request(3, "isp-user-42", "Tr1cky-Secret!"), request(3, "isp-user-42", "Tr1cky-Secret!")},
			[]string{"unknown unique"}},
		// The same identifier and Peer-ID with another password: the
		// reply is the last one's.
		{"sent_again_with_another_password", []*inspect.Packet{request(4, "cisco", "cisco"), request(4, "cisco", "Tr1cky-Secret!"), ack(4)},
			[]string{"unknown default", "yes unique"}},
		{"length_lies", []*inspect.Packet{papFrame(cpe, bras, []byte{1, 1, 0, 200, 5, 'c'})}, nil},
		{"user_length_overruns", []*inspect.Packet{papFrame(cpe, bras, []byte{1, 1, 0, 7, 9, 'c', 'd'})}, nil},
		{"too_short", []*inspect.Packet{papFrame(cpe, bras, []byte{1})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl)
			for _, f := range tt.frames {
				e.HandlePacket(f)
			}
			e.Flush()
			var got []string
			for _, ev := range col.Findings() {
				got = append(got, ev.Evidence["accepted"]+" "+ev.Evidence["password_class"])
				if ev.Evidence["protocol"] != "pap" || ev.Device.MAC != cpe.String() {
					t.Errorf("event %+v", ev)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("logins %q, want %q", got, tt.want)
			}
			if inspecttest.Leaks(t, col.Events, "Tr1cky-Secret!") || inspecttest.Leaks(t, col.Events, "isp-user-42") {
				t.Error("secret leaked")
			}
		})
	}
}

// The corpus PPPoE session authenticates with PAP cisco/cisco and is
// acknowledged (MANIFEST: zeek-pppoe.pcap).
func TestPAPCorpus(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	col, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "zeek-pppoe.pcap"), cl)
	if err != nil {
		t.Fatal(err)
	}
	got := col.Kind(event.KindDefaultCredentials)
	if len(got) != 1 || got[0].Evidence["protocol"] != "pap" || got[0].Evidence["accepted"] != "yes" || got[0].Evidence["user"] != "c***" {
		t.Fatalf("PAP findings %v", col.Findings())
	}
}

func FuzzPAP(f *testing.F) {
	f.Add(papRequest(1, "cisco", "cisco"), []byte{2, 1, 0, 5, 0})
	f.Add([]byte{1, 1, 0, 4}, []byte{3, 1, 0, 4})
	f.Add(papRequest(2, "joe2024x", "s3cretPass9"), []byte{3, 2, 0, 5, 0})
	f.Fuzz(func(t *testing.T, req, reply []byte) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil)
		e.HandlePacket(papFrame(cpe, bras, req))
		e.HandlePacket(papFrame(bras, cpe, reply))
		e.Flush()
		// Each frame can be at most one request, hence one login.
		if len(col.Events) > 2 || len(col.Events) == 2 && (len(reply) == 0 || reply[0] != 1) {
			t.Fatalf("%d events from %x then %x", len(col.Events), req, reply)
		}
		// The account's user and password reach the events redacted or
		// hashed.
		if w := inspecttest.LeakedWord(t, col.Events, req, reply); w != "" {
			t.Fatalf("the request's %q in an event", w)
		}
	})
}
