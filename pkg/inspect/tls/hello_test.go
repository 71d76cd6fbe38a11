package tls

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// prefix of a ClientHello body: version 0303, 32 zero random bytes, empty
// session id.
const chPrefix = "0303" + "0000000000000000000000000000000000000000000000000000000000000000" + "00"

func TestClientHelloDecode(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		err     error
		sni     string
		ciphers int
	}{
		{"minimal_no_extensions", chPrefix + "0002c02f 0100", nil, "", 1},
		{"empty_extension_block", chPrefix + "0002c02f 0100 0000", nil, "", 1},
		{"sni", chPrefix + "0002c02f 0100 000e 0000 000a 0008 00 0005 612e6578", errShort, "", 1},
		{"sni_ok", chPrefix + "0002c02f 0100 000d 0000 0009 0007 00 0004 612e6575", nil, "a.eu", 1},
		{"sni_second_entry_hostname", chPrefix + "0002c02f 0100 0011 0000 000d 000b 01 0002 ffff 00 0003 782e79", nil, "x.y", 1},
		{"sni_malformed_inside", chPrefix + "0002c02f 0100 0007 0000 0003 00ffff", nil, "", 1},
		{"odd_cipher_length", chPrefix + "0003c02f00 0100", errMalformed, "", 0},
		{"cipher_length_overrun", chPrefix + "00ffc02f", errShort, "", 0},
		{"no_compression_byte", chPrefix + "0002c02f", errShort, "", 0},
		{"session_id_overrun", "0303" + strings.Repeat("00", 32) + "20", errShort, "", 0},
		{"short_random", "030300", errShort, "", 0},
		{"empty", "", errShort, "", 0},
		{"extension_length_overrun", chPrefix + "0002c02f 0100 0004 0000 0009", errShort, "", 1},
		{"extension_block_overrun", chPrefix + "0002c02f 0100 0010 0000", errShort, "", 1},
		{"odd_supported_versions_ignored", chPrefix + "0002c02f 0100 0008 002b 0004 03 0304 03", nil, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ClientHello
			err := h.Decode(unhex(t, tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if string(h.ServerName) != tt.sni || len(h.CipherSuites)/2 != tt.ciphers {
				t.Errorf("sni %q ciphers %d, want %q %d", h.ServerName, len(h.CipherSuites)/2, tt.sni, tt.ciphers)
			}
		})
	}
}

func TestServerHelloDecode(t *testing.T) {
	random := strings.Repeat("00", 32)
	tests := []struct {
		name       string
		body       string
		err        error
		negotiated uint16
		cipher     uint16
	}{
		{"tls12", "0303" + random + "00 c02f 00", nil, 0x0303, 0xc02f},
		{"tls13_supported_versions", "0303" + random + "00 1301 00 0006 002b 0002 0304", nil, 0x0304, 0x1301},
		{"draft18_layout", "7f12" + random + "1301 0004 0028 0000", nil, 0x7f12, 0x1301},
		{"draft23_standard_layout", "0303" + random + "00 1301 00 0006 002b 0002 7f17", nil, 0x7f17, 0x1301},
		{"supported_versions_wrong_length", "0303" + random + "00 1301 00 0007 002b 0003 030400", nil, 0x0303, 0x1301},
		{"extension_overrun", "0303" + random + "00 1301 00 0006 002b 0009 0304", errShort, 0, 0},
		{"no_cipher", "0303" + random + "00", errShort, 0, 0},
		{"session_id_overrun", "0303" + random + "20 00", errShort, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s ServerHello
			err := s.Decode(unhex(t, tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && (s.Negotiated() != tt.negotiated || s.CipherSuite != tt.cipher) {
				t.Errorf("negotiated %#04x cipher %#04x, want %#04x %#04x", s.Negotiated(), s.CipherSuite, tt.negotiated, tt.cipher)
			}
		})
	}
}

func TestSSLv2Decode(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		err     error
		version uint16
		specs   int
	}{
		// The hello of zeek-tls-ssl-v2.pcap, without its record header.
		{"zeek_sample", "0100020015000000100700c00500800300800100800600400400800200801c30e2b12f4c04525476f280c07abee5", nil, 0x0002, 7},
		{"compat_tls10", "01 0301 0003 0000 0010 00002f" + strings.Repeat("aa", 16), nil, 0x0301, 1},
		{"not_a_client_hello", "04 0002 0003 0000 0010", errMalformed, 0, 0},
		{"spec_length_not_multiple_of_3", "01 0002 0004 0000 0000 01008000", errMalformed, 0, 0},
		{"challenge_overrun", "01 0002 0003 0000 0010 010080", errShort, 0, 0},
		{"empty", "", errShort, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ClientHello
			err := h.DecodeSSLv2(unhex(t, tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && (h.Version != tt.version || len(h.CipherSuites)/3 != tt.specs || !h.SSLv2) {
				t.Errorf("version %#04x specs %d", h.Version, len(h.CipherSuites)/3)
			}
		})
	}
}

func TestSuiteTable(t *testing.T) {
	tests := []struct {
		id   uint16
		name string
		s    strength
	}{
		{0x0004, "TLS_RSA_WITH_RC4_128_MD5", weak},
		{0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", weak},
		{0x0009, "TLS_RSA_WITH_DES_CBC_SHA", weak},
		{0x0000, "TLS_NULL_WITH_NULL_NULL", insecure},
		{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", insecure},
		{0xc018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", insecure},
		{0x003b, "TLS_RSA_WITH_NULL_SHA256", insecure},
		{0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", signaling},
		{0x5600, "TLS_FALLBACK_SCSV", signaling},
		{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", strong},
		{0x1303, "TLS_CHACHA20_POLY1305_SHA256", strong},
		{0xcc13, "0xcc13", unlisted}, // pre-standard ChaCha20, not in the registry
		{0x1337, "0x1337", unlisted},
		{0xfeff, "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA", weak},
		{0xfefe, "SSL_RSA_FIPS_WITH_DES_CBC_SHA", weak},
		{0xffe0, "SSL_RSA_OLDFIPS_WITH_3DES_EDE_CBC_SHA", weak},
		{0xffe1, "SSL_RSA_OLDFIPS_WITH_DES_CBC_SHA", weak},
		{0x001c, "SSL_FORTEZZA_DMS_WITH_NULL_SHA", insecure},
		{0x001d, "SSL_FORTEZZA_DMS_WITH_FORTEZZA_CBC_SHA", weak},
		{0x0080, "TLS_GOSTR341094_WITH_28147_CNT_IMIT", weak},
		{0x0081, "TLS_GOSTR341001_WITH_28147_CNT_IMIT", weak},
		{0x0082, "TLS_GOSTR341094_WITH_NULL_GOSTR3411", insecure},
		{0x0083, "TLS_GOSTR341001_WITH_NULL_GOSTR3411", insecure},
		{0xc102, "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT", weak},
		{0xc0b4, "TLS_SHA256_SHA256", insecure}, // integrity only
		{0xc0b5, "TLS_SHA384_SHA384", insecure},
		{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", weak},
		{0x0064, "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA", insecure},
		{0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", weak},
		// The registry's AEAD families beyond AES-GCM and ChaCha20.
		{0xc0a4, "TLS_PSK_WITH_AES_128_CCM", strong},
		{0xc0a8, "TLS_PSK_WITH_AES_128_CCM_8", strong},
		{0xc0aa, "TLS_PSK_DHE_WITH_AES_128_CCM_8", strong},
		{0xc0ab, "TLS_PSK_DHE_WITH_AES_256_CCM_8", strong},
		{0xd001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", strong},
		{0xd002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", strong},
		{0xd003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", strong},
		{0xd005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", strong},
		{0xd004, "0xd004", unlisted},
		{0xc07c, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", strong},
		{0xc08a, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256", strong},
		{0xc084, "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256", insecure},
		{0xc05c, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256", strong},
		{0xc060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256", strong},
		{0xc05a, "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256", insecure},
		{0xc03c, "TLS_RSA_WITH_ARIA_128_CBC_SHA256", strong},
		{0x00be, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256", strong},
		{0x00c6, "TLS_SM4_GCM_SM3", strong},
		{0x00c7, "TLS_SM4_CCM_SM3", strong},
		{0xc0b0, "TLS_ECCPWD_WITH_AES_128_GCM_SHA256", strong},
		{0xc100, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC", strong},
		{0xc103, "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L", strong},
		// Magma (GOST R 34.12-2015's 64-bit block cipher) as GOST
		// 28147-89 at 0xc102: Sweet32.
		{0xc101, "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC", weak},
		{0xc104, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L", weak},
		{0xc106, "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S", weak},
	}
	for _, tt := range tests {
		if got := cipherName(tt.id); got != tt.name {
			t.Errorf("cipherName(%#04x) = %s, want %s", tt.id, got, tt.name)
		}
		if got := suiteStrength(tt.id); got != tt.s {
			t.Errorf("suiteStrength(%s) = %d, want %d", tt.name, got, tt.s)
		}
	}
	for v, want := range map[uint16]string{0x0002: "SSL 2.0", 0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0304: "TLS 1.3", 0x7f17: "TLS 1.3 draft 23", 0xfb1a: "0xfb1a"} {
		if got := versionName(v); got != want {
			t.Errorf("versionName(%#04x) = %s, want %s", v, got, want)
		}
	}
	for v := 0; v <= 0xffff; v++ {
		want := v&0x0f0f == 0x0a0a && v>>8 == v&0xff
		if isGREASE(uint16(v)) != want {
			t.Fatalf("isGREASE(%#04x) wrong", v)
		}
	}
}

// FuzzClientHello: any bytes decode or fail without panicking, and a
// decoded hello always fingerprints to well-formed JA3 and JA4 values.
func FuzzClientHello(f *testing.F) {
	f.Add(chromeHello("fuzz.example").body())
	f.Add(specHello(true).body())
	f.Add(hello{version: versionTLS10, ciphers: []uint16{4, 5}, noExts: true}.body())
	f.Add(unhex(f, chPrefix+"0002c02f 0100 0011 0000 000d 000b 01 0002 ffff 00 0003 782e79"))
	var fp Fingerprinter
	f.Fuzz(func(t *testing.T, body []byte) {
		var h ClientHello
		if h.Decode(body) != nil {
			return
		}
		if ja4 := fp.JA4(&h); len(ja4) != ja4Len || ja4[0] != 't' || ja4[10] != '_' || ja4[23] != '_' {
			t.Fatalf("malformed JA4 %q", ja4)
		}
		if ja3 := fp.JA3(&h); len(ja3) != 32 {
			t.Fatalf("malformed JA3 %q", ja3)
		}
		if len(h.ServerName) > len(body) || len(h.ALPN) > len(body) {
			t.Fatal("slices outside the message")
		}
	})
}

// FuzzSSLv2Hello: SSL 2.0 hellos decode or fail without panicking, and
// through the analyzer give at most one hello and one finding.
func FuzzSSLv2Hello(f *testing.F) {
	f.Add(unhex(f, "802e0100020015000000100700c00500800300800100800600400400800200801c30e2b12f4c04525476f280c07abee5"))
	f.Add(unhex(f, "801c01030100030000001000002f"+strings.Repeat("aa", 16)))
	f.Add([]byte{0x80, 0x03, 0x01, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var h ClientHello
		if len(rec) > 2 && h.DecodeSSLv2(rec[2:]) == nil && len(h.CipherSuites)%3 != 0 {
			t.Fatal("cipher specs not whole")
		}
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
		c.ClientBytes(rec).ServerBytes(unhex(t, "83b40400010002038700120010"))
		c.Close()
		e.Flush()
		checkBounded(t, col)
	})
}

// FuzzReassembly: a stream cut into records and segments at fuzzed
// points never panics and reports at most one of each event per flow.
func FuzzReassembly(f *testing.F) {
	ch := chromeHello("fuzz.example").message()
	sh := serverHelloMsg(versionTLS12, 0x1301, versionTLS13)
	f.Add(ch, sh, []byte{200, 1, 7}, []byte{3, 50})
	f.Add(specHello(true).message(), serverHelloMsg(versionTLS12, 0x0004, 0), []byte{1, 1, 1, 1}, []byte{255})
	f.Add([]byte{1, 0, 0, 0}, []byte{2, 0, 0, 0}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, clientMsg, serverMsg, recordCuts, segmentCuts []byte) {
		cut := func(b []byte, sizes []byte) [][]byte {
			var out [][]byte
			for _, n := range sizes {
				k := min(int(n)+1, len(b))
				out = append(out, b[:k])
				b = b[k:]
			}
			return append(out, b)
		}
		var stream []byte
		for _, frag := range cut(clientMsg, recordCuts) {
			if len(frag) > 0 {
				stream = append(stream, record(recordHandshake, frag)...)
			}
		}
		col := &inspecttest.Collector{}
		p := New()
		e := inspecttest.Engine(t, col, nil, p)
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
		for _, seg := range cut(stream, segmentCuts) {
			if len(seg) > 0 {
				c.ClientBytes(seg)
			}
		}
		for _, seg := range cut(record(recordHandshake, serverMsg), segmentCuts) {
			if len(seg) > 0 {
				c.ServerBytes(seg)
			}
		}
		c.Close()
		e.Flush()
		checkBounded(t, col)
		if p.bufs.Lent() != 0 {
			t.Fatalf("%d reassembly buffers not returned", p.bufs.Lent())
		}
		if bytes.Equal(clientMsg, ch) && len(col.Kind(event.KindTLSClient)) != 1 {
			t.Fatal("the seed hello was not reported")
		}
	})
}

func checkBounded(t *testing.T, col *inspecttest.Collector) {
	t.Helper()
	if len(col.Kind(event.KindTLSClient)) > 1 || len(col.Kind(event.KindTLSServer)) > 1 || len(col.Findings()) > 1 {
		t.Fatalf("more than one event of a kind for one flow: %v", col.Events)
	}
	for _, ev := range col.Findings() {
		if ev.Kind != event.KindWeakTLS || ev.Provision != "5.5-1" {
			t.Fatalf("unexpected finding %v", ev)
		}
	}
}

// BenchmarkClientHello: decoding a browser ClientHello and computing JA3
// and JA4; the two allocations are the returned fingerprint strings.
func BenchmarkClientHello(b *testing.B) {
	body := chromeHello("bench.example").body()
	var fp Fingerprinter
	var h ClientHello
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := h.Decode(body); err != nil {
			b.Fatal(err)
		}
		fp.JA3(&h)
		fp.JA4(&h)
	}
}
