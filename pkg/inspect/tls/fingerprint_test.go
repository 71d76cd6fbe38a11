package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// specHello is the example hello of the FoxIO JA4 specification
// (technical_details/JA4.md): its ciphers, extensions in wire order, ALPN
// h2 and signature algorithms.
func specHello(sigAlgs bool) hello {
	h := hello{
		version: versionTLS12,
		ciphers: []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
	}
	for _, typ := range []uint16{0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015} {
		switch typ {
		case extServerName:
			h.exts = append(h.exts, sniExt("spec.example"))
		case extALPN:
			h.exts = append(h.exts, alpnExt("h2", "http/1.1"))
		case extSupportedVersions:
			h.exts = append(h.exts, versionsExt(versionTLS13, versionTLS12))
		case extSignatureAlgorithms:
			if sigAlgs {
				h.exts = append(h.exts, sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601))
			} else {
				h.exts = append(h.exts, sigAlgsExt())
			}
		default:
			h.exts = append(h.exts, emptyExt(typ))
		}
	}
	return h
}

func decode(t testing.TB, h hello) *ClientHello {
	t.Helper()
	var ch ClientHello
	if err := ch.Decode(h.body()); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &ch
}

func TestJA4(t *testing.T) {
	withGREASE := specHello(true)
	withGREASE.ciphers = append([]uint16{0x0a0a}, withGREASE.ciphers...)
	withGREASE.exts = append([]ext{emptyExt(0xfafa)}, withGREASE.exts...)
	withGREASE.exts[len(withGREASE.exts)-5] = versionsExt(0x1a1a, versionTLS13, versionTLS12)

	many := hello{version: versionTLS12}
	for i := 0; i < 120; i++ {
		many.ciphers = append(many.ciphers, uint16(0xc100+i))
		many.exts = append(many.exts, emptyExt(uint16(0x7000+i)))
	}
	tests := []struct {
		name string
		h    hello
		want string
	}{
		// The spec's own example and hashes.
		{"spec_example", specHello(true), "t13d1516h2_8daaf6152771_e5627efa2ab1"},
		{"spec_no_signature_algorithms", specHello(false), "t13d1516h2_8daaf6152771_6d807ffa2a79"},
		{"grease_ignored", withGREASE, "t13d1516h2_8daaf6152771_e5627efa2ab1"},
		{"no_ciphers_no_extensions", hello{version: versionTLS10, noExts: true}, "t10i000000_000000000000_000000000000"},
		{"only_sni_and_alpn", hello{version: versionTLS12, ciphers: []uint16{0x002f}, exts: []ext{sniExt("a.example"), alpnExt("http/1.1")}},
			"t12d0102h1_" + sha12("002f") + "_000000000000"},
		{"legacy_version_ssl3", hello{version: versionSSL3, ciphers: []uint16{0x000a}, noExts: true}, "ts3i0100" + "00_" + sha12("000a") + "_000000000000"},
		{"draft_version_unknown", hello{version: versionTLS12, ciphers: []uint16{0x1301}, exts: []ext{versionsExt(0x7f17, 0x0303)}},
			"t00i0101" + "00_" + sha12("1301") + "_" + sha12("002b")},
		{"counts_capped_at_99", many, "t12i999900_" + ja4HashOf(many.ciphers) + "_" + ja4HashOfExts(many.exts)},
	}
	var fp Fingerprinter
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fp.JA4(decode(t, tt.h)); got != tt.want {
				t.Errorf("JA4 = %s, want %s", got, tt.want)
			}
		})
	}
}

// sha12 is the first 12 hex digits of the SHA-256 of s: the expected
// hash input is written out, independently of hashList's formatting.
func sha12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

func ja4HashOf(vals []uint16) string {
	sorted := append([]uint16(nil), vals...)
	for i := range sorted { // insertion sort: independent of slices.Sort
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var s []byte
	for i, v := range sorted {
		if i > 0 {
			s = append(s, ',')
		}
		s = append(s, hex.EncodeToString(be16(v))...)
	}
	return sha12(string(s))
}

func ja4HashOfExts(exts []ext) string {
	var vals []uint16
	for _, e := range exts {
		vals = append(vals, e.typ)
	}
	return ja4HashOf(vals)
}

func TestJA4ALPN(t *testing.T) {
	// The spec's examples for values that are not alphanumeric.
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, "00"},
		{[]byte("h2"), "h2"},
		{[]byte("http/1.1"), "h1"},
		{[]byte("h"), "hh"},
		{[]byte{0xab}, "ab"},
		{[]byte{0xab, 0xcd}, "ad"},
		{[]byte{0x30, 0xab}, "3b"},
		{[]byte{0x30, 0x31, 0xab, 0xcd}, "3d"},
		{[]byte{0x30, 0xab, 0xcd, 0x31}, "01"},
	}
	for _, tt := range tests {
		var got [2]byte
		ja4ALPN(got[:], tt.in)
		if string(got[:]) != tt.want {
			t.Errorf("ja4ALPN(% x) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestJA3(t *testing.T) {
	tests := []struct {
		name string
		h    hello
		want string
	}{
		{"grease_removed", hello{
			version: versionTLS12,
			ciphers: []uint16{0x0a0a, 0xc02f, 0x0035},
			exts:    []ext{emptyExt(0x1a1a), sniExt("x.example"), groupsExt(0x2a2a, 0x001d, 0x0017), pointsExt(0, 1), alpnExt("h2")},
		}, "771,49199-53,0-10-11-16,29-23,0-1"},
		{"no_extensions", hello{version: versionTLS10, ciphers: []uint16{0x0004, 0x0005}, noExts: true}, "769,4-5,,,"},
		{"empty_extension_block", hello{version: versionTLS10, ciphers: []uint16{0x0004}}, "769,4,,,"},
	}
	var fp Fingerprinter
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := decode(t, tt.h)
			if got := string(fp.JA3String(h)); got != tt.want {
				t.Fatalf("JA3 string %q, want %q", got, tt.want)
			}
			sum := md5.Sum([]byte(tt.want))
			if got := fp.JA3(h); got != hex.EncodeToString(sum[:]) {
				t.Errorf("JA3 %s, want md5 of the string", got)
			}
		})
	}
}

// TestFingerprintAllocs: with warm scratch space JA3 and JA4 allocate
// only the strings they return.
func TestFingerprintAllocs(t *testing.T) {
	h := decode(t, chromeHello("alloc.example"))
	var fp Fingerprinter
	fp.JA3(h)
	fp.JA4(h)
	if n := testing.AllocsPerRun(100, func() { fp.JA3(h); fp.JA4(h) }); n != 2 {
		t.Errorf("JA3+JA4 allocate %.1f times, want 2 (the results)", n)
	}
	body := chromeHello("alloc.example").body()
	if n := testing.AllocsPerRun(100, func() { _ = h.Decode(body) }); n != 0 {
		t.Errorf("Decode allocates %.1f times", n)
	}
}
