package fingerprint

import (
	"encoding/hex"
	"testing"
)

func TestParseSYN(t *testing.T) {
	tests := []struct {
		name   string
		ttl    uint8
		window uint16
		opts   string // hex
		want   string
		mss    uint16
		wscale int8
	}{
		// Linux 6.1 (the demo's devices): MSS 1460, SACK-permitted,
		// timestamps, NOP, window scale 7.
		{"linux", 64, 64240, "020405b40402080a1d8e3c5a0000000001030307", "64:64240:1460:M,S,T,N,W", 1460, 7},
		{"windows", 128, 64240, "020405b40103030801010402", "128:64240:1460:M,N,W,N,N,S", 1460, 8},
		{"macos", 64, 65535, "020405b4010303060101080a2b3c4d5e0000000004020000", "64:65535:1460:M,N,W,N,N,T,S,E,E", 1460, 6},
		{"lwip_mss_only", 255, 5744, "0204059c", "255:5744:1436:M", 1436, -1},
		{"ttl_after_hops", 57, 1024, "", "64:1024:0:", 0, -1},
		{"ttl_32", 30, 1024, "", "32:1024:0:", 0, -1},
		{"ttl_128_after_hops", 120, 8192, "", "128:8192:0:", 0, -1},
		{"ttl_255", 250, 8192, "", "255:8192:0:", 0, -1},
		{"unknown_option", 64, 100, "fe0400000204", "64:100:0:?,M", 0, -1},
		// Hostile: truncated and zero-length options end the list.
		{"truncated_mss", 64, 100, "0204", "64:100:0:M", 0, -1},
		{"zero_length_option", 64, 100, "0300", "64:100:0:W", 0, -1},
		{"length_past_end", 64, 100, "08ff0000", "64:100:0:T", 0, -1},
		{"wscale_too_big", 64, 100, "0303ff", "64:100:0:W", 0, 14},
		{"mss_wrong_length", 64, 100, "020305", "64:100:0:M", 0, -1},
		{"nops_only", 64, 100, "0101010101010101010101010101010101010101", "64:100:0:N,N,N,N,N,N,N,N,N,N,N,N,N,N,N,N", 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := hex.DecodeString(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			s := ParseSYN(tt.ttl, tt.window, opts)
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if s.MSS != tt.mss || s.WScale != tt.wscale {
				t.Errorf("mss %d wscale %d, want %d %d", s.MSS, s.WScale, tt.mss, tt.wscale)
			}
		})
	}
}

func TestParseSYNAllocatesNothing(t *testing.T) {
	opts, _ := hex.DecodeString("020405b40402080a1d8e3c5a0000000001030307")
	if n := testing.AllocsPerRun(100, func() { ParseSYN(64, 64240, opts) }); n != 0 {
		t.Fatalf("ParseSYN allocates %v times", n)
	}
}

func FuzzParseSYN(f *testing.F) {
	for _, h := range []string{"020405b40402080a1d8e3c5a0000000001030307", "020405b40103030801010402", "0204", "08ff", ""} {
		b, _ := hex.DecodeString(h)
		f.Add(uint8(64), uint16(64240), b)
	}
	f.Fuzz(func(t *testing.T, ttl uint8, window uint16, opts []byte) {
		s := ParseSYN(ttl, window, opts)
		if int(s.NOpts) > len(opts) || int(s.NOpts) > maxSYNOptions {
			t.Fatalf("%d options from %d bytes", s.NOpts, len(opts))
		}
		switch s.TTL {
		case 32, 64, 128, 255:
		default:
			t.Fatalf("initial TTL %d", s.TTL)
		}
		if s.WScale > 14 {
			t.Fatalf("window scale %d", s.WScale)
		}
		_ = s.String()
	})
}
