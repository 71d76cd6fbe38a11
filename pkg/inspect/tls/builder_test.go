package tls

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// This file builds hellos, records and raw TCP segments for the tests.

type ext struct {
	typ  uint16
	data []byte
}

// hello describes a ClientHello to build.
type hello struct {
	version uint16
	ciphers []uint16
	exts    []ext
	noExts  bool // omit the extension block entirely
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func vec16(b []byte) []byte { return append(be16(uint16(len(b))), b...) }

func vec8(b []byte) []byte { return append([]byte{byte(len(b))}, b...) }

func list16(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = append(b, be16(v)...)
	}
	return b
}

func sniExt(name string) ext {
	entry := append([]byte{0}, vec16([]byte(name))...)
	return ext{extServerName, vec16(entry)}
}

func alpnExt(names ...string) ext {
	var l []byte
	for _, n := range names {
		l = append(l, vec8([]byte(n))...)
	}
	return ext{extALPN, vec16(l)}
}

func versionsExt(v ...uint16) ext  { return ext{extSupportedVersions, vec8(list16(v...))} }
func groupsExt(v ...uint16) ext    { return ext{extSupportedGroups, vec16(list16(v...))} }
func sigAlgsExt(v ...uint16) ext   { return ext{extSignatureAlgorithms, vec16(list16(v...))} }
func pointsExt(f ...byte) ext      { return ext{extECPointFormats, vec8(f)} }
func emptyExt(typ uint16) ext      { return ext{typ, nil} }
func rawExt(typ uint16, n int) ext { return ext{typ, make([]byte, n)} }

// body is the ClientHello message body, without the handshake header.
func (h hello) body() []byte {
	b := be16(h.version)
	for i := 0; i < 32; i++ {
		b = append(b, byte(0x40+i)) // random
	}
	b = append(b, vec8([]byte("0123456789abcdef0123456789abcdef"))...) // session id
	b = append(b, vec16(list16(h.ciphers...))...)
	b = append(b, 1, 0) // null compression
	if h.noExts {
		return b
	}
	var block []byte
	for _, e := range h.exts {
		block = append(block, be16(e.typ)...)
		block = append(block, vec16(e.data)...)
	}
	return append(b, vec16(block)...)
}

// handshake prefixes a message body with its handshake header.
func handshake(typ byte, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

func (h hello) message() []byte { return handshake(typeClientHello, h.body()) }

// record wraps payload in one TLS record.
func record(typ byte, payload []byte) []byte {
	return append([]byte{typ, 3, 1, byte(len(payload) >> 8), byte(len(payload))}, payload...)
}

// records splits a handshake message over handshake records whose
// payloads have the given sizes; the last record takes the rest.
func records(msg []byte, sizes ...int) []byte {
	var out []byte
	for _, n := range sizes {
		n = min(n, len(msg))
		out = append(out, record(recordHandshake, msg[:n])...)
		msg = msg[n:]
	}
	if len(msg) > 0 {
		out = append(out, record(recordHandshake, msg)...)
	}
	return out
}

// serverHelloMsg builds a ServerHello message; selected, if not zero, is
// put in a supported_versions extension.
func serverHelloMsg(version, cipher, selected uint16) []byte {
	b := be16(version)
	b = append(b, make([]byte, 32)...)
	b = append(b, vec8(make([]byte, 32))...)
	b = append(b, be16(cipher)...)
	b = append(b, 0)
	if selected != 0 {
		e := append(be16(extSupportedVersions), vec16(be16(selected))...)
		b = append(b, vec16(e)...)
	}
	return handshake(typeServerHello, b)
}

func serverHello(version, cipher, selected uint16) []byte {
	return record(recordHandshake, serverHelloMsg(version, cipher, selected))
}

// chromeHello is a modern browser's hello: GREASE everywhere, TLS 1.3,
// ECH and a post-quantum key share (X25519MLKEM768, 1216 + 32 bytes).
func chromeHello(sni string) hello {
	keyShare := append(be16(0x1a1a), vec16([]byte{0})...)
	keyShare = append(keyShare, append(be16(0x11ec), vec16(make([]byte, 1216))...)...)
	keyShare = append(keyShare, append(be16(0x001d), vec16(make([]byte, 32))...)...)
	return hello{
		version: versionTLS12,
		ciphers: []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		exts: []ext{
			emptyExt(0x0a0a),
			sniExt(sni),
			emptyExt(0x0017),
			{0xff01, []byte{0}},
			groupsExt(0x3a3a, 0x11ec, 0x001d, 0x0017, 0x0018),
			pointsExt(0),
			emptyExt(0x0023),
			alpnExt("h2", "http/1.1"),
			{0x0005, []byte{1, 0, 0, 0, 0}},
			sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
			emptyExt(0x0012),
			{0x0033, vec16(keyShare)},
			{0x002d, []byte{1, 1}},
			versionsExt(0x4a4a, versionTLS13, versionTLS12),
			{0x001b, []byte{2, 0, 2}},
			rawExt(extECH, 186),
			{0x5a5a, []byte{0}},
		},
	}
}

// segments is a raw TCP conversation fed to an engine packet by packet,
// with control over sequence numbers (for gaps) and a reused Packet (for
// allocation tests).
type segments struct {
	e              *inspect.Engine
	client, server netip.AddrPort
	seq            [2]uint32
	now            time.Time
	p              inspect.Packet
}

func newSegments(e *inspect.Engine, client, server string) *segments {
	s := &segments{
		e:      e,
		client: netip.MustParseAddrPort(client),
		server: netip.MustParseAddrPort(server),
		seq:    [2]uint32{1000, 9000},
		now:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	s.send(inspect.ToServer, nil, inspect.TCPFlagSYN)
	s.send(inspect.ToClient, nil, inspect.TCPFlagSYN|inspect.TCPFlagACK)
	return s
}

func (s *segments) send(dir inspect.Dir, data []byte, flags uint8) {
	s.now = s.now.Add(time.Millisecond)
	src, dst := s.client, s.server
	if dir == inspect.ToClient {
		src, dst = dst, src
	}
	s.p = inspect.Packet{
		Timestamp: s.now, Length: 54 + len(data), Kind: inspect.KindTCP, IPProto: 6, TTL: 64,
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		TCPFlags: flags, Seq: s.seq[dir], Payload: data,
	}
	s.seq[dir] += uint32(len(data))
	if flags&(inspect.TCPFlagSYN|inspect.TCPFlagFIN) != 0 {
		s.seq[dir]++
	}
	s.e.HandlePacket(&s.p)
}

func (s *segments) data(dir inspect.Dir, b []byte) { s.send(dir, b, inspect.TCPFlagACK) }

// lose skips n bytes of dir's stream, as a capture drop would.
func (s *segments) lose(dir inspect.Dir, n int) { s.seq[dir] += uint32(n) }

// corpusPayload returns a copy of the first TCP payload in a corpus
// capture that sel accepts.
func corpusPayload(t *testing.T, path string, sel func(p *inspect.Packet) bool) []byte {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d := inspect.NewDecoder()
	var p inspect.Packet
	for {
		data, info, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s: no matching payload", path)
		}
		if err != nil {
			t.Fatal(err)
		}
		d.Decode(data, info, &p)
		if p.Kind == inspect.KindTCP && sel(&p) {
			return append([]byte(nil), p.Payload...)
		}
	}
}

// startsHello selects a payload that begins a handshake record carrying
// a hello of type typ.
func startsHello(typ byte) func(p *inspect.Packet) bool {
	return func(p *inspect.Packet) bool {
		b := p.Payload
		return len(b) > 5 && b[0] == recordHandshake && b[1] == 3 && b[5] == typ &&
			int(binary.BigEndian.Uint16(b[3:]))+recordHeaderLen <= len(b)
	}
}
