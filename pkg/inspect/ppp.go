package inspect

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket's PPPoE and PPP layers cannot decode in place, so these two small
// DecodingLayers stand in for them on the PPPoE session path (DSL modems and
// some ISPs' routers put it on the LAN side).

var (
	errPPPoEShort = errors.New("pppoe: header too short")
	errPPPShort   = errors.New("ppp: header too short")
)

type pppoeSession struct {
	layers.BaseLayer
}

func (l *pppoeSession) DecodeFromBytes(b []byte, df gopacket.DecodeFeedback) error {
	if len(b) < 6 {
		df.SetTruncated()
		return errPPPoEShort
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	payload := b[6:]
	if n < len(payload) {
		payload = payload[:n]
	} else if n > len(payload) {
		df.SetTruncated()
	}
	l.BaseLayer = layers.BaseLayer{Contents: b[:6], Payload: payload}
	return nil
}

func (l *pppoeSession) CanDecode() gopacket.LayerClass    { return layers.LayerTypePPPoE }
func (l *pppoeSession) NextLayerType() gopacket.LayerType { return layers.LayerTypePPP }

const (
	pppProtocolIPv4 = 0x0021
	pppProtocolIPv6 = 0x0057
	pppProtocolPAP  = 0xc023
)

type pppFrame struct {
	layers.BaseLayer
	protocol uint16
}

func (l *pppFrame) DecodeFromBytes(b []byte, df gopacket.DecodeFeedback) error {
	if len(b) < 2 {
		df.SetTruncated()
		return errPPPShort
	}
	// Protocol field compression (RFC 1661 6.5): an odd first byte is a
	// one-byte protocol number.
	if b[0]&1 == 1 {
		l.protocol = uint16(b[0])
		l.BaseLayer = layers.BaseLayer{Contents: b[:1], Payload: b[1:]}
		return nil
	}
	l.protocol = binary.BigEndian.Uint16(b[:2])
	l.BaseLayer = layers.BaseLayer{Contents: b[:2], Payload: b[2:]}
	return nil
}

func (l *pppFrame) CanDecode() gopacket.LayerClass { return layers.LayerTypePPP }

func (l *pppFrame) NextLayerType() gopacket.LayerType {
	switch l.protocol {
	case pppProtocolIPv4:
		return layers.LayerTypeIPv4
	case pppProtocolIPv6:
		return layers.LayerTypeIPv6
	}
	return gopacket.LayerTypeZero
}
