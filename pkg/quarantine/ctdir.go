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
		// dir is set by "ct direction X" read as a load of the direction
		// into a register followed by an equality test of that register.
		dir, directionReg := -1, uint32(0)
		for j, e := range exprs {
			name, body, err := exprParts(e.Data)
			if err != nil {
				return nil, err
			}
			switch name {
			case "ct":
				key, reg, hasDir := ctKey(body)
				directionReg = 0
				if key == unix.NFT_CT_DIRECTION {
					directionReg = reg
				}
				isCounter := key == unix.NFT_CT_BYTES || key == unix.NFT_CT_PKTS || key == unix.NFT_CT_AVGPKT
				if isCounter && !hasDir && dir >= 0 {
					if exprs[j].Data, err = withCtDirection(e.Data, byte(dir)); err != nil {
						return nil, err
					}
				}
			case "cmp":
				if op, reg, v, ok := cmpParts(body); ok && directionReg != 0 && reg == directionReg && op == unix.NFT_CMP_EQ && len(v) == 1 {
					dir = int(v[0])
				}
				directionReg = 0
			default:
				directionReg = 0
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
func ctKey(body []byte) (key, dreg uint32, hasDir bool) {
	ad, err := netlink.NewAttributeDecoder(body)
	if err != nil {
		return 0, 0, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CT_KEY:
			key = ad.Uint32()
		case unix.NFTA_CT_DREG:
			dreg = ad.Uint32()
		case unix.NFTA_CT_DIRECTION:
			hasDir = true
		}
	}
	return key, dreg, hasDir
}

// cmpParts returns a cmp expression's operator, register and the data it
// compares with (all big-endian on the wire, as the kernel reads them).
func cmpParts(body []byte) (op, sreg uint32, value []byte, ok bool) {
	ad, err := netlink.NewAttributeDecoder(body)
	if err != nil {
		return 0, 0, nil, false
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CMP_OP:
			op = ad.Uint32()
		case unix.NFTA_CMP_SREG:
			sreg = ad.Uint32()
		case unix.NFTA_CMP_DATA:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.NFTA_DATA_VALUE {
						value, ok = nad.Bytes(), true
					}
				}
				return nil
			})
		}
	}
	return op, sreg, value, ok && ad.Err() == nil
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
