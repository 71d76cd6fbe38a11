package inspect

import (
	"hash/fnv"
	"strings"
	"testing"
)

func TestDotBody(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		rest   string // bytes after the terminator in the last chunk
		end    bool
	}{
		{"empty_body", []string{".\r\n"}, "", true},
		{"simple", []string{"a\r\nb\r\n.\r\nQUIT\r\n"}, "QUIT\r\n", true},
		{"dot_stuffed_line", []string{"..\r\n.x\r\n"}, "", false},
		{"split", []string{"a\r", "\n", ".", "\r", "\nX"}, "X", true},
		{"bare_lf", []string{"a\n.\nX"}, "X", true},
		{"dot_cr_no_lf", []string{".\rx\r\n"}, "", false},
		{"no_terminator", []string{"abc", "def\r\n"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s DotBody
			for i, ch := range tt.chunks {
				n, end := s.Scan([]byte(ch))
				if end {
					if i != len(tt.chunks)-1 || !tt.end || ch[n:] != tt.rest {
						t.Fatalf("ended in chunk %d with rest %q", i, ch[n:])
					}
					return
				}
				if n != len(ch) {
					t.Fatalf("consumed %d of %d without the end", n, len(ch))
				}
			}
			if tt.end {
				t.Error("terminator not found")
			}
		})
	}
}

func TestScrubbed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)"},
		{"MyApp/1.0 (alice@example.com; token=abcd1234)", "MyApp/1.0 (***; token=***)"},
		{"cam-client apikey:ZX81 build:42", "cam-client apikey:*** build:42"},
		{"Sonos/70.3 (ZPS9; session=9f8e7d)", "Sonos/70.3 (ZPS9; session=***)"},
		{"esp32-a4cf129b3e01", "esp32-a4cf129b3e01"},
		{"user@localhost", "user@localhost"}, // no domain: not an address
		{"Server: Linux/3.10 UPnP/1.0", "Server: Linux/3.10 UPnP/1.0"},
		{"PASSWORD=hunter2&x=1", "PASSWORD=***&x=1"},
		{"http://192.168.1.5:49152/desc.xml?auth=abc&v=2", "http://192.168.1.5:49152/desc.xml?auth=***&v=2"},
		{"MyApp/1.0 (alice.smith%40example.com)", "MyApp/1.0 (***)"},
		{"imei:490154203237518", "imei:***"},
		{"tracker/+4917612345678", "tracker/***"},
		{"acct5551234567-v2", "acct***-v2"},
		{"uuid:2f402f80-da50-11e1-9b23-001788112233::upnp:rootdevice", "uuid:2f402f80-da50-11e1-9b23-001788112233::upnp:rootdevice"},
		{"x-9b23-001788112233", "x-9b23-***"},                                                        // no UUID before it
		{"cam/+49123 build 20240115 fw 5.7.3.1234567", "cam/+49123 build 20240115 fw 5.7.3.1234567"}, // short numbers stay
		{"Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)", "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)"},
		{"fetch http://admin:hunter2@cam/x", "fetch http://***@cam/x"},
		{"admin:hunter2@cam", "***@cam"},
		{"Authorization: Bearer s3cr3tT0ken", "Authorization: Bearer ***"},
		{"pin=4711 ping=3", "pin=*** ping=3"},
		{"call +49 171 5551234 now", "call *** now"},
		{"tel:+1 (555) 123-4567;", "tel:***;"},
		{"Linux/+5 1.2.3 build+2 4", "Linux/+5 1.2.3 build+2 4"},
		{"shipping=2 otp:123456", "shipping=2 otp:***"},
	} {
		if got := Scrubbed([]byte(tc.in), 160); got != tc.want {
			t.Errorf("Scrubbed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestScrubbedBeforeCut: what crosses the limit is hidden whole, not cut
// into something that no longer looks like what it is.
func TestScrubbedBeforeCut(t *testing.T) {
	for _, tc := range []struct {
		in, hidden string
		max        int
	}{
		{strings.Repeat("a", 58) + " alice@example.com", "alice", 64},
		{"homeassistant-android-" + strings.Repeat("x", 30) + "-anna.schmidt@gmail.com", "anna", 64},
		{strings.Repeat("a", 150) + " 491715551234", "491715", 160},
		{strings.Repeat("b", 140) + " imei 357938035643809", "35793803", 160},
	} {
		got := Scrubbed([]byte(tc.in), tc.max)
		if strings.Contains(got, tc.hidden) || len(got) > tc.max {
			t.Errorf("Scrubbed(%q, %d) = %q: shows %q or is too long", tc.in, tc.max, got, tc.hidden)
		}
	}
}

func TestEscapeFilter(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "/ # ", "/ # "},
		{"cursor_position_request", "/ # \x1b[6n", "/ # "},
		{"colours", "\x1b[1;32mroot@cam\x1b[0m:~# ", "root@cam:~# "},
		{"two_byte_escape", "a\x1b7b\x1b8c", "abc"},
		{"split_inside_a_sequence", "x\x1b[1;3", "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f EscapeFilter
			var out []byte
			for _, b := range []byte(tc.in) {
				if !f.Skip(b) {
					out = append(out, b)
				}
			}
			if string(out) != tc.want {
				t.Errorf("got %q, want %q", out, tc.want)
			}
		})
	}
}

// BenchmarkScrubbedBanner: every greeting and header filed goes through
// Scrubbed.
func BenchmarkScrubbedBanner(b *testing.B) {
	in := []byte("ProFTPD 1.3.5 Server (Debian) [192.168.1.20] ready for action, welcome to the camera ftp service")
	b.ReportAllocs()
	for b.Loop() {
		_ = Scrubbed(in, 160)
	}
}

func TestXMLReference(t *testing.T) {
	tests := []struct {
		name string
		want rune
		ok   bool
	}{
		{"amp", '&', true},
		{"apos", '\'', true},
		{"#233", 'é', true},
		{"#xE9", 'é', true},
		{"#xe9", 'é', true},
		{"#0000065", 'A', true},
		{"#x10FFFF", 0x10FFFF, true},
		{"#x110000", 0, false},              // past the last code point
		{"#99999999999999999999", 0, false}, // would overflow
		{"#xD800", 0, false},                // a surrogate
		{"#XE9", 0, false},                  // the x is lower case
		{"#x", 0, false},
		{"#", 0, false},
		{"#12a", 0, false},
		{"#xG", 0, false},
		{"AMP", 0, false},
		{"bogus", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := XMLReference([]byte(tt.name))
			if got != tt.want || ok != tt.ok {
				t.Errorf("XMLReference(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestURLHostPort(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"http://192.168.1.1:7406/x", "192.168.1.1:7406"},
		{"http://admin:hunter2@cam:80/onvif", "cam:80"},
		{"http://[fe80::1%25eth0]:5357/uuid?q", "[fe80::1%25eth0]:5357"},
		{"http://host#frag", "host"},
		{"http:///path", ""},
		{"no scheme/x", ""},
	}
	for _, tt := range tests {
		if got := string(URLHostPort([]byte(tt.url))); got != tt.want {
			t.Errorf("URLHostPort(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

// TestFNV: the chained FNV is hash/fnv's 64-bit FNV-1a, step for step.
func TestFNV(t *testing.T) {
	want := func(parts ...[]byte) uint64 {
		h := fnv.New64a()
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum64()
	}
	for _, tc := range []struct {
		name string
		got  FNV
		want uint64
	}{
		{"empty", NewFNV(), want()},
		{"bytes", NewFNV().Bytes([]byte("camera")), want([]byte("camera"))},
		{"text", NewFNV().Text("camera"), want([]byte("camera"))},
		{"field", NewFNV().Field([]byte("ab")).Field([]byte("c")), want([]byte("ab\x00c\x00"))},
		{"uint16", NewFNV().Uint16(0x1c01), want([]byte{0x1c, 0x01})},
		{"fold", NewFNV().Fold([]byte("Camera.LOCAL")), want([]byte("camera.local"))},
	} {
		if uint64(tc.got) != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, uint64(tc.got), tc.want)
		}
	}
	if FNV64([]byte("camera")) != want([]byte("camera")) {
		t.Error("FNV64 differs from hash/fnv")
	}
}
