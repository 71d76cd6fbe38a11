package inspect

import (
	"encoding/binary"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// PPP Password Authentication Protocol (RFC 1334) sends the PPPoE
// account's user and password in clear; DSL modems and routers do it on
// the wire between them and the ISP's access concentrator. PAP frames are
// not in any flow, so the engine handles them itself.

const (
	papRequest = 1
	papAck     = 2
	papNak     = 3
	maxPAP     = 8 // pending requests remembered
)

type papPending struct {
	client hwaddr.MAC
	id     uint8
	peer   uint64 // FNV64 of the Peer-ID: a retransmission is recognised without keeping the user name
	cred   Credential
	used   bool
}

// handlePAP reads one PAP frame: a request is classified and kept until
// the peer's Ack or Nak with the same identifier arrives. A request sent
// again until a reply comes (RFC 1334 section 2.2.1), with the same
// identifier and Peer-ID, is one login: it takes the place of the one
// kept, and the reply reports it once.
func (e *Engine) handlePAP(p *Packet) {
	b := p.Payload
	if len(b) < 4 {
		return
	}
	code, id := b[0], b[1]
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 4 || n > len(b) {
		return
	}
	b = b[4:n]
	switch code {
	case papRequest:
		if len(b) < 1 || int(b[0])+1 >= len(b) {
			return
		}
		user := b[1 : 1+int(b[0])]
		rest := b[1+int(b[0]):]
		if int(rest[0])+1 > len(rest) {
			return
		}
		secret := rest[1 : 1+int(rest[0])]
		cred := e.classify(&Login{Protocol: "pap", Mechanism: "PPP PAP", User: user, Secret: secret})
		req := papPending{client: p.SrcMAC, id: id, peer: FNV64(user), cred: cred, used: true}
		if s := e.papRetransmitted(&req); s != nil {
			if s.cred != cred {
				// Sent again with another password: the first is
				// reported unknown, the reply is the second's.
				e.reportPAP(s, OutcomeUnknown)
			}
			*s = req
			return
		}
		slot := &e.pap[int(e.papNext)%maxPAP]
		if slot.used { // the oldest request never got an answer
			e.reportPAP(slot, OutcomeUnknown)
		}
		*slot = req
		e.papNext++
	case papAck, papNak:
		for i := range e.pap {
			s := &e.pap[i]
			if s.used && s.id == id && s.client == p.DstMAC {
				o := OutcomeRejected
				if code == papAck {
					o = OutcomeAccepted
				}
				e.reportPAP(s, o)
			}
		}
	}
}

// papRetransmitted returns the pending request r repeats: the same
// client, identifier and Peer-ID; nil if none.
func (e *Engine) papRetransmitted(r *papPending) *papPending {
	for i := range e.pap {
		if s := &e.pap[i]; s.used && s.client == r.client && s.id == r.id && s.peer == r.peer {
			return s
		}
	}
	return nil
}

func (e *Engine) reportPAP(s *papPending, o Outcome) {
	s.used = false
	e.Stats.LoginsReported++
	ev := e.credentialEvent(&s.cred, o, false) // the subject is the client
	ev.V = event.SchemaVersion
	ev.Time = e.now
	ev.Device = event.Endpoint{MAC: s.client.String()}
	ev.Source = e.source
	ev.Packet = e.packetNo
	e.Stats.EventsEmitted++
	e.sink.Emit(ev)
}

// flushPAP reports requests that never got an answer.
func (e *Engine) flushPAP() {
	for i := range e.pap {
		if e.pap[i].used {
			e.reportPAP(&e.pap[i], OutcomeUnknown)
		}
	}
}
