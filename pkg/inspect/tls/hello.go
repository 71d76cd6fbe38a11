package tls

import (
	"cmp"
	"encoding/binary"
	"errors"
)

// Handshake message types (RFC 8446 section 4) and the SSL 2.0 ones.
const (
	typeClientHello     = 1
	typeServerHello     = 2
	typeSSL2ServerHello = 4
)

// Extension types (IANA "TLS ExtensionType Values").
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extECPointFormats      = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
	extECH                 = 0xfe0d // encrypted_client_hello, RFC 9849
)

var (
	errShort     = errors.New("hello truncated")
	errMalformed = errors.New("hello malformed")
)

// ClientHello is a decoded ClientHello. Its slices point into the message
// passed to Decode (borrowed bytes): they are valid until that buffer is
// reused, and Decode never copies or allocates. Lists keep their wire
// encoding: two bytes per entry unless noted.
type ClientHello struct {
	Version      uint16 // legacy_version
	CipherSuites []byte
	Compression  []byte // one byte per method
	// Extensions is the whole extension block, validated: a sequence of
	// type (2), length (2), data.
	Extensions []byte

	HasServerName bool   // the server_name extension is present
	ServerName    []byte // its first host_name, nil if none
	// SupportedVersions, SupportedGroups, SignatureAlgorithms: the lists
	// inside those extensions (nil when absent or malformed).
	SupportedVersions   []byte
	SupportedGroups     []byte
	PointFormats        []byte // one byte per format
	SignatureAlgorithms []byte
	// ALPN is the protocol_name_list: entries of length (1), name.
	ALPN []byte
	ECH  bool // an encrypted_client_hello extension is present

	// SSLv2 marks a hello in the SSL 2.0 record format (RFC 6101
	// appendix E.2); only Version and CipherSuites (kept as the 3-byte
	// SSL 2.0 cipher specs) are set.
	SSLv2 bool
}

// Decode parses a ClientHello handshake message body (after the 4-byte
// handshake header). Lists inside known extensions that are malformed are
// left nil; a malformed message structure is an error. h is overwritten.
func (h *ClientHello) Decode(body []byte) error {
	*h = ClientHello{}
	r := reader{b: body}
	h.Version = r.u16()
	r.skip(32) // random
	r.vec8()   // session id
	h.CipherSuites = r.vec16()
	h.Compression = r.vec8()
	if r.err != nil {
		return r.err
	}
	if len(h.CipherSuites)%2 != 0 {
		return errMalformed
	}
	if r.empty() { // no extensions: a valid pre-TLS 1.2 hello
		return nil
	}
	h.Extensions = r.vec16()
	if r.err != nil {
		return r.err
	}
	return h.decodeExtensions()
}

func (h *ClientHello) decodeExtensions() error {
	exts := reader{b: h.Extensions}
	for !exts.empty() {
		typ := exts.u16()
		data := exts.vec16()
		if exts.err != nil {
			return exts.err
		}
		r := reader{b: data}
		switch typ {
		case extServerName:
			h.HasServerName = true
			h.ServerName = firstHostName(r.vec16())
		case extSupportedVersions:
			h.SupportedVersions = pairs(r.vec8())
		case extSupportedGroups:
			h.SupportedGroups = pairs(r.vec16())
		case extECPointFormats:
			h.PointFormats = r.vec8()
		case extSignatureAlgorithms:
			h.SignatureAlgorithms = pairs(r.vec16())
		case extALPN:
			h.ALPN = r.vec16()
		case extECH:
			h.ECH = true
		}
	}
	return nil
}

// pairs returns list if it holds whole two-byte entries, else nil (a
// short read already gave nil).
func pairs(list []byte) []byte {
	if len(list)%2 != 0 {
		return nil
	}
	return list
}

// firstHostName returns the first host_name entry of a server_name list.
func firstHostName(list []byte) []byte {
	r := reader{b: list}
	for !r.empty() {
		typ := r.u8()
		name := r.vec16()
		if r.err != nil {
			return nil
		}
		if typ == 0 && len(name) > 0 {
			return name
		}
	}
	return nil
}

// FirstALPN returns the first protocol name offered, nil if none.
func (h *ClientHello) FirstALPN() []byte {
	r := reader{b: h.ALPN}
	name := r.vec8()
	if r.err != nil {
		return nil
	}
	return name
}

// MaxVersion is the highest version the client offers: the highest
// non-GREASE entry of supported_versions, else the legacy version.
func (h *ClientHello) MaxVersion() uint16 {
	var max uint16
	for i := 0; i+1 < len(h.SupportedVersions); i += 2 {
		v := binary.BigEndian.Uint16(h.SupportedVersions[i:])
		if !isGREASE(v) && v > max {
			max = v
		}
	}
	if max == 0 {
		return h.Version
	}
	return max
}

// DecodeSSLv2 parses the body of an SSL 2.0 CLIENT-HELLO record (RFC 6101
// appendix E.2: msg type, version, cipher spec, session id and challenge
// lengths, then the data). h is overwritten.
func (h *ClientHello) DecodeSSLv2(body []byte) error {
	*h = ClientHello{SSLv2: true}
	r := reader{b: body}
	if typ := r.u8(); r.err != nil || typ != typeClientHello {
		return cmp.Or(r.err, errMalformed)
	}
	h.Version = r.u16()
	specLen := int(r.u16())
	sidLen := int(r.u16())
	challengeLen := int(r.u16())
	h.CipherSuites = r.take(specLen)
	r.skip(sidLen + challengeLen)
	if r.err != nil {
		return r.err
	}
	if specLen%3 != 0 {
		return errMalformed
	}
	return nil
}

// ServerHello is what iotgw keeps of a ServerHello: the versions and the
// cipher suite the server chose.
type ServerHello struct {
	Version     uint16 // legacy_version; a TLS 1.3 draft before 22 puts the draft here
	Selected    uint16 // supported_versions choice, 0 when absent
	CipherSuite uint16
	SSLv2       bool // an SSL 2.0 SERVER-HELLO: the server picks no suite
}

// Negotiated is the version the connection runs.
func (s *ServerHello) Negotiated() uint16 {
	if s.Selected != 0 {
		return s.Selected
	}
	return s.Version
}

// Decode parses a ServerHello handshake message body. s is overwritten.
func (s *ServerHello) Decode(body []byte) error {
	*s = ServerHello{}
	r := reader{b: body}
	s.Version = r.u16()
	r.skip(32) // random
	// TLS 1.3 drafts before 22 dropped the session id and compression
	// method; draft 22 brought them back for middlebox compatibility.
	draftLayout := s.Version>>8 == 0x7f && s.Version&0xff < 22
	if !draftLayout {
		r.vec8() // session id
	}
	s.CipherSuite = r.u16()
	if !draftLayout {
		r.u8() // compression method
	}
	if r.err != nil {
		return r.err
	}
	if r.empty() {
		return nil
	}
	block := r.vec16()
	if r.err != nil {
		return r.err
	}
	exts := reader{b: block}
	for !exts.empty() {
		typ := exts.u16()
		data := exts.vec16()
		if exts.err != nil {
			return exts.err
		}
		if typ == extSupportedVersions && len(data) == 2 {
			s.Selected = binary.BigEndian.Uint16(data)
		}
	}
	return nil
}

// sslv2ServerHelloPrefix is the part of an SSL 2.0 SERVER-HELLO that
// DecodeSSLv2 reads.
const sslv2ServerHelloPrefix = 5

// DecodeSSLv2 parses the body of an SSL 2.0 SERVER-HELLO record: msg type,
// session id hit, certificate type, then the server version. Only the
// version is kept; the certificate and cipher specs that follow may be
// cut off.
func (s *ServerHello) DecodeSSLv2(body []byte) error {
	*s = ServerHello{SSLv2: true}
	r := reader{b: body}
	if typ := r.u8(); r.err != nil || typ != typeSSL2ServerHello {
		return cmp.Or(r.err, errMalformed)
	}
	r.skip(2) // session id hit, certificate type
	s.Version = r.u16()
	return r.err
}

// reader reads big-endian fields from b; after the first short read every
// read returns zero and err stays set, so callers check once at the end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) empty() bool { return len(r.b) == 0 }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errShort
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) skip(n int) { r.take(n) }

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// vec8 and vec16 read a vector with a one- or two-byte length prefix.
func (r *reader) vec8() []byte  { return r.take(int(r.u8())) }
func (r *reader) vec16() []byte { return r.take(int(r.u16())) }
