package inspect_test

import (
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
	tests := []struct {
		name     string
		frames   []*inspect.Packet
		logins   int
		accepted string
		class    string
	}{
		{"ack", []*inspect.Packet{papFrame(cpe, bras, papRequest(1, "cisco", "cisco")), papFrame(bras, cpe, []byte{2, 1, 0, 5, 0})}, 1, "yes", "default"},
		{"nak", []*inspect.Packet{papFrame(cpe, bras, papRequest(7, "isp-user-42", "Tr1cky-Secret!")), papFrame(bras, cpe, []byte{3, 7, 0, 5, 0})}, 1, "no", "unique"},
		{"no_answer", []*inspect.Packet{papFrame(cpe, bras, papRequest(9, "isp-user-42", "Tr1cky-Secret!"))}, 1, "unknown", "unique"},
		{"ack_for_other_id", []*inspect.Packet{papFrame(cpe, bras, papRequest(1, "isp-user-42", "Tr1cky-Secret!")), papFrame(bras, cpe, []byte{2, 2, 0, 5, 0})}, 1, "unknown", "unique"},
		{"length_lies", []*inspect.Packet{papFrame(cpe, bras, []byte{1, 1, 0, 200, 5, 'c'})}, 0, "", ""},
		{"user_length_overruns", []*inspect.Packet{papFrame(cpe, bras, []byte{1, 1, 0, 7, 9, 'c', 'd'})}, 0, "", ""},
		{"too_short", []*inspect.Packet{papFrame(cpe, bras, []byte{1})}, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, cl)
			for _, f := range tt.frames {
				e.HandlePacket(f)
			}
			e.Flush()
			got := col.Findings()
			if len(got) != tt.logins {
				t.Fatalf("%d findings, want %d", len(got), tt.logins)
			}
			if tt.logins == 0 {
				return
			}
			ev := got[0]
			if ev.Evidence["accepted"] != tt.accepted || ev.Evidence["password_class"] != tt.class || ev.Evidence["protocol"] != "pap" || ev.Device.MAC != cpe.String() {
				t.Errorf("event %+v", ev)
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
	})
}
