package quarantine

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// The capture rules need "ct original bytes" and "ct reply bytes", i.e. a
// ct counter load with a direction. google/nftables v0.3.0 marshals
// NFTA_CT_DIRECTION only for addresses and ports (and as a u32 where the
// kernel reads a u8), so its ct bytes load would silently count both
// directions. The backend therefore talks to the kernel through a netlink
// proxy (the library's test-dial hook) that adds the direction to every ct
// counter load following a "ct direction" match in the same rule. All other
// messages pass unchanged.

const nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)

var newRuleType = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE)

// proxy forwards the library's messages to a real netlink socket, patching
// rules on the way out. Replies carry the fake connection's port id so that
// the library's reply validation holds.
func proxy(real *netlink.Conn) nltest.Func {
	return func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil {
			replies, err := real.Receive()
			for i := range replies {
				replies[i].Header.PID = nltest.PID
			}
			// The real connection has consumed a dump's closing Done
			// message; the library's connection waits for one.
			if n := len(replies); n > 0 && replies[n-1].Header.Flags&netlink.Multi != 0 {
				replies = append(replies, netlink.Message{
					Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: replies[n-1].Header.Sequence, PID: nltest.PID},
					Data:   make([]byte, 4),
				})
			}
			return replies, err
		}
		for i := range req {
			if req[i].Header.Type != newRuleType {
				continue
			}
			data, err := addCtDirections(req[i].Data)
			if err != nil {
				return nil, err
			}
			req[i].Data = data
			req[i].Header.Length = 0 // recomputed by the real connection
		}
		_, err := real.SendMessages(req)
		return nil, err
	}
}

// addCtDirections rewrites a NEWRULE message body (nfgenmsg + attributes).
func addCtDirections(data []byte) ([]byte, error) {
	const nfgenmsgLen = 4
	if len(data) < nfgenmsgLen {
		return data, nil
	}
	attrs, err := netlink.UnmarshalAttributes(data[nfgenmsgLen:])
	if err != nil {
		return nil, fmt.Errorf("quarantine: decode rule: %w", err)
	}
	for i, a := range attrs {
		if a.Type&nlaTypeMask != unix.NFTA_RULE_EXPRESSIONS {
			continue
		}
		exprs, err := netlink.UnmarshalAttributes(a.Data)
		if err != nil {
			return nil, fmt.Errorf("quarantine: decode rule expressions: %w", err)
		}
		dir, lastWasDirection := -1, false
		for j, e := range exprs {
			name, body, err := exprParts(e.Data)
			if err != nil {
				return nil, err
			}
			switch name {
			case "ct":
				key, hasDir := ctKey(body)
				lastWasDirection = key == unix.NFT_CT_DIRECTION
				isCounter := key == unix.NFT_CT_BYTES || key == unix.NFT_CT_PKTS || key == unix.NFT_CT_AVGPKT
				if isCounter && !hasDir && dir >= 0 {
					if exprs[j].Data, err = withCtDirection(e.Data, byte(dir)); err != nil {
						return nil, err
					}
				}
			case "cmp":
				if v, ok := cmpValue(body); ok && lastWasDirection && len(v) == 1 {
					dir = int(v[0])
				}
				lastWasDirection = false
			default:
				lastWasDirection = false
			}
		}
		if attrs[i].Data, err = marshal(exprs); err != nil {
			return nil, fmt.Errorf("quarantine: encode rule expressions: %w", err)
		}
	}
	body, err := marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("quarantine: encode rule: %w", err)
	}
	return append(append([]byte(nil), data[:nfgenmsgLen]...), body...), nil
}

// exprParts splits one list element into the expression's name and data.
func exprParts(b []byte) (string, []byte, error) {
	attrs, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		return "", nil, fmt.Errorf("quarantine: decode expression: %w", err)
	}
	var name string
	var body []byte
	for _, a := range attrs {
		switch a.Type & nlaTypeMask {
		case unix.NFTA_EXPR_NAME:
			name = string(trimNUL(a.Data))
		case unix.NFTA_EXPR_DATA:
			body = a.Data
		}
	}
	return name, body, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// ctKey returns a ct expression's key and whether it has a direction.
func ctKey(body []byte) (key uint32, hasDir bool) {
	ad, err := netlink.NewAttributeDecoder(body)
	if err != nil {
		return 0, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CT_KEY:
			key = ad.Uint32()
		case unix.NFTA_CT_DIRECTION:
			hasDir = true
		}
	}
	return key, hasDir
}

// cmpValue returns the data a cmp expression compares with.
func cmpValue(body []byte) ([]byte, bool) {
	attrs, err := netlink.UnmarshalAttributes(body)
	if err != nil {
		return nil, false
	}
	for _, a := range attrs {
		if a.Type&nlaTypeMask != unix.NFTA_CMP_DATA {
			continue
		}
		inner, err := netlink.UnmarshalAttributes(a.Data)
		if err != nil {
			return nil, false
		}
		for _, v := range inner {
			if v.Type&nlaTypeMask == unix.NFTA_DATA_VALUE {
				return v.Data, true
			}
		}
	}
	return nil, false
}

// withCtDirection appends NFTA_CT_DIRECTION (a u8) to a ct expression.
func withCtDirection(elem []byte, dir byte) ([]byte, error) {
	attrs, err := netlink.UnmarshalAttributes(elem)
	if err != nil {
		return nil, fmt.Errorf("quarantine: decode ct expression: %w", err)
	}
	for i, a := range attrs {
		if a.Type&nlaTypeMask != unix.NFTA_EXPR_DATA {
			continue
		}
		dirAttr, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_CT_DIRECTION, Data: []byte{dir}}})
		if err != nil {
			return nil, err
		}
		attrs[i].Data = append(append([]byte(nil), a.Data...), dirAttr...)
	}
	return marshal(attrs)
}

// marshal encodes decoded attributes again. UnmarshalAttributes keeps each
// attribute's length, which MarshalAttributes would reuse even where the
// data has grown: clear them so that they are computed afresh.
func marshal(attrs []netlink.Attribute) ([]byte, error) {
	for i := range attrs {
		attrs[i].Length = 0
	}
	return netlink.MarshalAttributes(attrs)
}
