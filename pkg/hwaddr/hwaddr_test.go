package hwaddr

import "testing"

func TestParse(t *testing.T) {
	cam := MAC{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}
	tests := []struct {
		name string
		in   string
		want MAC
		ok   bool
	}{
		{"colons", "c0:56:e3:1a:2b:3c", cam, true},
		{"dashes_upper_case", "C0-56-E3-1A-2B-3C", cam, true},
		{"bare", "c056e31a2b3c", cam, true},
		{"broadcast", "ff:ff:ff:ff:ff:ff", MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		{"empty", "", Zero, false},
		{"five_bytes", "c0:56:e3:1a:2b", Zero, false},
		{"seven_bytes", "c0:56:e3:1a:2b:3c:4d", Zero, false},
		{"odd_digit", "c0:56:e3:1a:2b:3", Zero, false},
		{"not_hex", "c0:56:e3:1a:2b:3g", Zero, false},
		{"space", "c0 56 e3 1a 2b 3c", Zero, false},
		{"eui64", "c0:56:e3:ff:fe:1a:2b:3c", Zero, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("Parse(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
			var u MAC
			if err := u.UnmarshalText([]byte(tt.in)); (err == nil) != tt.ok || u != tt.want {
				t.Errorf("UnmarshalText(%q) = %v, %v", tt.in, u, err)
			}
		})
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, m := range []MAC{Zero, {0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0x0a, 0, 0, 0, 0, 0x0f}} {
		s := m.String()
		if len(s) != 17 {
			t.Errorf("%x: %q", m[:], s)
		}
		b, _ := m.MarshalText()
		if back, err := Parse(string(b)); err != nil || back != m || string(b) != s {
			t.Errorf("%x: %q parsed back as %v, %v", m[:], s, back, err)
		}
	}
	if got := (MAC{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}).String(); got != "c0:56:e3:1a:2b:3c" {
		t.Errorf("String = %q", got)
	}
}

// TestKinds: only a vendor-assigned unicast address names a vendor by
// its first three bytes; a private Wi-Fi address, a group address and
// the zero address do not.
func TestKinds(t *testing.T) {
	tests := []struct {
		name                                  string
		mac                                   MAC
		zero, multicast, local, unicastGlobal bool
		oui                                   uint32
	}{
		{"vendor", MAC{0xc0, 0x56, 0xe3, 1, 2, 3}, false, false, false, true, 0xc056e3},
		{"private_wifi", MAC{0xda, 0xa1, 0x19, 1, 2, 3}, false, false, true, false, 0xdaa119},
		{"multicast", MAC{0x01, 0x00, 0x5e, 0, 0, 0xfb}, false, true, false, false, 0x01005e},
		{"broadcast", MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, true, true, false, 0xffffff},
		{"zero", Zero, true, false, false, false, 0},
	}
	for _, tt := range tests {
		m := tt.mac
		if m.IsZero() != tt.zero || m.IsMulticast() != tt.multicast || m.IsLocallyAdministered() != tt.local ||
			m.IsUnicastGlobal() != tt.unicastGlobal || m.OUI() != tt.oui {
			t.Errorf("%s %v: zero %v multicast %v local %v unicast global %v OUI %06x", tt.name, m,
				m.IsZero(), m.IsMulticast(), m.IsLocallyAdministered(), m.IsUnicastGlobal(), m.OUI())
		}
	}
}

func TestFromBytes(t *testing.T) {
	if got := FromBytes([]byte{0xc0, 0x56, 0xe3, 1, 2, 3, 4}); got != (MAC{0xc0, 0x56, 0xe3, 1, 2, 3}) {
		t.Errorf("FromBytes of seven bytes = %v", got)
	}
	if got := FromBytes([]byte{0xc0, 0x56, 0xe3, 1, 2}); got != Zero {
		t.Errorf("FromBytes of five bytes = %v, want zero", got)
	}
}
