package inspect

import (
	"strings"
	"testing"
)

// TestIDMaskedHost: labels that hold a device's identifier go, names
// that services give themselves stay readable.
func TestIDMaskedHost(t *testing.T) {
	tests := []struct{ name, host, want string }{
		// A device's identifier in a label.
		{"mac_hex", "a1b2c3d4e5f6.iot.vendor.com", "....iot.vendor.com"},
		{"mac_in_word", "cam-00112233aabb.example.net", "....example.net"},
		{"mac_upper", "dl.A4CF129B3E01.vendor.example", "dl.....vendor.example"},
		{"mac_colons", "a4:cf:12:9b:3e:01.vendor.example", "....vendor.example"},
		{"mac_dashes", "cam-a4-cf-12-9b-3e-01.vendor.example", "....vendor.example"},
		{"imei", "sn-357938035643809.devices.example", "....devices.example"},
		{"serial_digits", "dev123456789.vendor.example", "....vendor.example"},
		{"eui64", "001788fffe123456.bridge.vendor.example", "....bridge.vendor.example"},
		{"uuid", "3fa85f64-5717-4562-b3fc-2c963f66afa6.things.example", "....things.example"},
		{"android_host", "android-1a2b3c4d5e6f7a8b.local", "....local"},
		{"token_sni", "Xk3Lm9Qw2Er7.push.example", "....push.example"},
		{"two_labels", "a4cf129b3e01.357938035643809.example", "........example"},
		{"escape", "x%41.example", "....example"},
		{"at", "user@cam.example", "....example"},
		{"port_kept", "a4cf129b3e01.dl.vendor.example:8080", "....dl.vendor.example:8080"},
		{"long_number_not_port", "cam:357938035643809", "..."},
		{"trailing_dot", "a4cf129b3e01.vendor.example.", "....vendor.example."},

		// Names of services, CDNs and shards: no identifier.
		{"google", "www.google.com", "www.google.com"},
		{"windows_time", "time.windows.com", "time.windows.com"},
		{"tuya", "api.tuya-eu.com", "api.tuya-eu.com"},
		{"aliyun_mqtt", "iot-as-mqtt.cn-shanghai.aliyuncs.com", "iot-as-mqtt.cn-shanghai.aliyuncs.com"},
		{"s3", "s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"},
		{"nest", "xmpp.nest.com", "xmpp.nest.com"},
		{"ntp_pool", "3.pool.ntp.org", "3.pool.ntp.org"},
		{"cloudfront_short", "d1234.cloudfront.net", "d1234.cloudfront.net"},
		{"cloudfront", "d3rlzbr8ymv9u5.cloudfront.net", "d3rlzbr8ymv9u5.cloudfront.net"},
		{"akamai", "e1234.dscb.akamaiedge.net", "e1234.dscb.akamaiedge.net"},
		{"googlevideo", "rr4---sn-h0jelnez.googlevideo.com", "rr4---sn-h0jelnez.googlevideo.com"},
		{"ec2", "ec2-54-123-45-67.compute-1.amazonaws.com", "ec2-54-123-45-67.compute-1.amazonaws.com"},
		{"connectivity", "connectivitycheck.gstatic.com", "connectivitycheck.gstatic.com"},
		{"hex_letters_only", "deadbeefcafe.example", "deadbeefcafe.example"},
		{"date", "fw-20240115.vendor.example", "fw-20240115.vendor.example"},
		{"short_hex", "esp-3e0a1b.vendor.example", "esp-3e0a1b.vendor.example"},
		{"reverse_v4", "10.1.168.192.in-addr.arpa", "10.1.168.192.in-addr.arpa"},
		{"dns_sd", "_googlecast._tcp.local", "_googlecast._tcp.local"},
		{"ipv4", "192.0.2.1:8080", "192.0.2.1:8080"},
		{"ipv6", "[2001:DB8:abcd:12::1]:8080", "[2001:DB8:abcd:12::1]:8080"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IDMaskedHost(tt.host); got != tt.want {
				t.Errorf("IDMaskedHost(%q) = %q, want %q", tt.host, got, tt.want)
			}
			if got := string(AppendIDMaskedHost([]byte("x "), []byte(tt.host))); got != "x "+tt.want {
				t.Errorf("AppendIDMaskedHost(%q) = %q, want %q", tt.host, got, "x "+tt.want)
			}
			if got := IDMaskedHost(tt.want); got != tt.want {
				t.Errorf("masked again: %q, want %q unchanged", got, tt.want)
			}
		})
	}
}

// TestIDMaskedName: a DNS name is judged in the case the device wrote
// it, then shown in lower case.
func TestIDMaskedName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Xk3Lm9Qw2Er7.push.example", "....push.example"},
		{"xk3lm9qw2er7.push.example", "xk3lm9qw2er7.push.example"}, // lower case: a shard's
		{"Cam-A4CF129B3E01.Vendor.Example", "....vendor.example"},
		{"WWW.Google.COM", "www.google.com"},
		{"time.windows.com", "time.windows.com"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := IDMaskedName(tt.name); got != tt.want {
			t.Errorf("IDMaskedName(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if got := string(AppendIDMaskedName([]byte("x "), []byte(tt.name))); got != "x "+tt.want {
			t.Errorf("AppendIDMaskedName(%q) = %q, want %q", tt.name, got, "x "+tt.want)
		}
	}
}

// TestIdentifying: the shapes of an identifier in one word, and words of
// the same length that are none.
func TestIdentifying(t *testing.T) {
	tests := []struct {
		word string
		want bool
	}{
		{"357938035643809", true},
		{"SN123456789", true},
		{"12345678", false}, // a date, a version
		{"a4cf129b3e01", true},
		{"A4CF129B3E01", true},
		{"a4cf129b3e0", false}, // eleven hex digits
		{"deadbeefcafe", false},
		{"A4:CF:12:9B:3E:01", true},
		{"a4-cf-12-9b-3e-01", true},
		{"a4:cf-12:9b:3e:01", false}, // separators mixed
		{"aB3dE5fG7hJ9", true},
		{"ab3de5fg7hj9", false}, // lower case: a CDN's shard
		{"firmware_v2-Final", false},
		{"me@example", true},
		{"a%2Fb", true},
		{"cam_5.7.3_build220112.bin", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Identifying(tt.word); got != tt.want {
			t.Errorf("Identifying(%q) = %v, want %v", tt.word, got, tt.want)
		}
		if got := Identifying([]byte(tt.word)); got != tt.want {
			t.Errorf("Identifying([]byte(%q)) = %v, want %v", tt.word, got, tt.want)
		}
	}
}

// TestIDMaskedHostAllocs: a name with nothing to mask, the common case,
// costs no allocation; a masked one its string.
func TestIDMaskedHostAllocs(t *testing.T) {
	for _, tt := range []struct {
		host   string
		allocs float64
	}{
		{"iot-as-mqtt.cn-shanghai.aliyuncs.com", 0},
		{"[2001:db8::1]:8080", 0},
		{"a1b2c3d4e5f6.iot.vendor.com", 1},
	} {
		if n := testing.AllocsPerRun(100, func() { _ = IDMaskedHost(tt.host) }); n != tt.allocs {
			t.Errorf("IDMaskedHost(%q): %v allocs, want %v", tt.host, n, tt.allocs)
		}
	}
}

// FuzzIDMaskedHost: whatever a device puts in a name, no label of the
// masked name (but an IPv6 literal's) holds an identifier, masking again
// changes nothing, and both forms agree.
func FuzzIDMaskedHost(f *testing.F) {
	for _, s := range []string{"a1b2c3d4e5f6.iot.vendor.com", "cam:357938035643809", "[2001:db8::1]:80", "x.y:8080", "a4:cf:12:9b:3e:01.v.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		masked := IDMaskedHost(host)
		if again := IDMaskedHost(masked); again != masked {
			t.Errorf("IDMaskedHost(%q) = %q, masked again %q", host, masked, again)
		}
		if got := string(AppendIDMaskedHost(nil, []byte(host))); got != masked {
			t.Errorf("AppendIDMaskedHost(%q) = %q, IDMaskedHost %q", host, got, masked)
		}
		name, _ := splitPort(masked)
		if ipv6Literal(name) {
			return
		}
		for label := range strings.SplitSeq(name, ".") {
			if Identifying(label) {
				t.Errorf("IDMaskedHost(%q) = %q keeps label %q", host, masked, label)
			}
		}
	})
}
