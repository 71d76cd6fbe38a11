package netwatch

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// parseLeasesCase is a lease file and what parseLeases makes of it.
type parseLeasesCase struct {
	name string
	in   string
	want []lease
	st   leaseStats
}

func checkParseLeases(t *testing.T, tests []parseLeasesCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := parseLeases([]byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("leases\n got %+v\nwant %+v", got, tt.want)
			}
			if st != tt.st {
				t.Errorf("stats %+v, want %+v", st, tt.st)
			}
		})
	}
}

func TestParseLeases(t *testing.T) {
	exp := time.Unix(1748779200, 0).UTC()
	ip := netip.MustParseAddr
	tests := []parseLeasesCase{
		{
			name: "dnsmasq_ipv4",
			in:   "1748779200 00:12:34:56:78:9a 192.168.1.10 cam-01 01:00:12:34:56:78:9a\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), hostname: "cam-01", expires: exp}},
		},
		{
			name: "dnsmasq_infinite_no_hostname_no_clientid",
			in:   "0 00:12:34:56:78:9a 192.168.1.10 * *\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10")}},
		},
		{
			name: "dnsmasq_non_ethernet_hardware",
			in:   "1748779200 20-00:11:22:33:44:55:66:77:88:99 192.168.1.11 * *\n",
			st:   leaseStats{noMAC: 1},
		},
		{
			name: "dnsmasq_five_byte_hardware_is_not_a_mac",
			in:   "1748779200 06-aa:bb:cc:dd:ee 192.168.1.11 * *\n",
			st:   leaseStats{noMAC: 1},
		},
		{
			name: "dnsmasq_ipv6_section",
			in: "1748779200 00:12:34:56:78:9a 192.168.1.10 cam *\n" +
				"duid 00:01:00:01:2b:3c:4d:5e:02:00:00:00:00:01\n" +
				// DUID-LLT with the camera's MAC
				"1748779200 305419896 fd00::10 cam 00:01:00:01:2b:3c:4d:5e:00:12:34:56:78:9a\n" +
				// DUID-LL, temporary address
				"1748779200 T17 fd00::11 * 00:03:00:01:00:12:34:56:78:9b\n" +
				// DUID-EN names no MAC
				"1748779200 1 fd00::12 phone 00:02:00:00:00:09:0c:c0:84:d3:03:00:09:12\n",
			want: []lease{
				{mac: camMAC, ip: ip("192.168.1.10"), hostname: "cam", expires: exp},
				{mac: camMAC, ip: ip("fd00::10"), hostname: "cam", expires: exp, macFromDUID: true},
				{mac: plugMAC, ip: ip("fd00::11"), expires: exp, macFromDUID: true},
			},
			st: leaseStats{noMAC: 1},
		},
		{
			name: "odhcpd_ipv4_old_hex_mac",
			in:   "# br-lan 00123456789a ipv4 cam 1748779200 c0a8010a 32 192.168.1.10/32\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), hostname: "cam", expires: exp, iface: "br-lan"}},
		},
		{
			name: "odhcpd_ipv4_glibc_ether_ntoa",
			in:   "# br-lan 0:12:34:56:78:9a ipv4 - -1 c0a8010a 32 192.168.1.10/32\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), iface: "br-lan"}},
		},
		{
			name: "odhcpd_ipv4_musl_ether_ntoa",
			in:   "# br-lan 00:12:34:56:78:9A ipv4 - 1748779200 c0a8010a 32 192.168.1.10/32\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), expires: exp, iface: "br-lan"}},
		},
		{
			// TestParseLeasesBrokenHostname has the rest.
			name: "odhcpd_broken_hostname_dropped",
			in: `# br-lan 00:12:34:56:78:9A ipv4 broken\x20my_cam! 1748779200 c0a8010a 32 192.168.1.10/32` + "\n" +
				`# br-lan 000100012b3c4d5e00123456789a 1a2b3c4d broken\x20cam! 1748779200 10 128 fd00::10/128` + "\n",
			st: leaseStats{untrusted: 2},
		},
		{
			name: "odhcpd_expired",
			in:   "# br-lan 00123456789a ipv4 cam 0 c0a8010a 32 192.168.1.10/32\n",
		},
		{
			name: "odhcpd_ipv6_na_with_hosts_lines",
			in: "fd00::10\tcam.lan\tcam\n" +
				"2001:db8::10\tcam.lan\tcam\n" +
				"# br-lan 000100012b3c4d5e00123456789a 1a2b3c4d cam 1748779200 10 128 fd00::10/128 2001:db8::10/128\n",
			want: []lease{
				{mac: camMAC, ip: ip("fd00::10"), hostname: "cam", expires: exp, iface: "br-lan", macFromDUID: true},
				{mac: camMAC, ip: ip("2001:db8::10"), hostname: "cam", expires: exp, iface: "br-lan", macFromDUID: true},
			},
		},
		{
			name: "odhcpd_ipv6_prefix_delegation",
			in:   "# br-lan 000300010012345678ff 1 - 1748779200 5 60 2001:db8:0:10::/60\n",
		},
		{
			name: "odhcpd_ipv6_uuid_duid",
			in:   "# br-lan 0004a1b2c3d4e5f60718293a4b5c6d7e8f90 1 - 1748779200 10 128 fd00::20/128\n",
			st:   leaseStats{noMAC: 1},
		},
		{
			name: "crlf_and_blank_lines",
			in:   "\r\n1748779200 00:12:34:56:78:9a 192.168.1.10 cam *\r\n\r\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), hostname: "cam", expires: exp}},
		},
		{
			name: "garbage_lines_skipped_and_counted",
			in: "hello world\n" +
				"1748779200 00:12:34:56:78:9a 192.168.1.10\n" + // too few fields
				"1748779200 zz:12:34:56:78:9a 192.168.1.10 * *\n" + // bad MAC
				"1748779200 00:12:34:56:78:9a 192.168.1.999 * *\n" + // bad IP
				"99999999999999999999 00:12:34:56:78:9a 192.168.1.10 * *\n" + // expiry overflows
				"1748779200 00:12:34:56:78:9a 224.0.0.1 * *\n" + // multicast
				"1748779200 00:12:34:56:78:9a 0.0.0.0 * *\n" + // unspecified
				"1748779200 ff:ff:ff:ff:ff:ff 192.168.1.10 * *\n" + // broadcast MAC
				"1748779200 abc fd00::1 * 00:03:00:01:00:12:34:56:78:9a\n" + // bad IAID
				"# br-lan 00123456789a ipv4 cam -2 c0a8010a 32 192.168.1.10/32\n" + // bad expiry
				"# br-lan 00123456789a ipv4 cam 1748779200 c0a8010a 32 fd00::1/128\n" + // family
				"# br-lan 00123456789a ipv4 cam 1748779200 c0a8010a 24 192.168.1.10/24\n" + // length
				"# br-lan\n" + // short
				"# br-lan 0003000100123456789a zz - 1 10 128 fd00::1/128\n" + // bad IAID
				"# br-lan 0003000100123456789a 1 - 1 10 200 fd00::1/128\n" + // bad length
				"1748779200 00:12:34:56:78:9b 192.168.1.11 plug *\n",
			want: []lease{{mac: plugMAC, ip: ip("192.168.1.11"), hostname: "plug", expires: exp}},
			st:   leaseStats{garbage: 15},
		},
		{
			name: "hostile_hostnames_dropped",
			in: "1748779200 00:12:34:56:78:9a 192.168.1.10 $(reboot) *\n" +
				"1748779200 00:12:34:56:78:9b 192.168.1.11 " + strings.Repeat("a", 254) + " *\n",
			want: []lease{
				{mac: camMAC, ip: ip("192.168.1.10"), expires: exp},
				{mac: plugMAC, ip: ip("192.168.1.11"), expires: exp},
			},
		},
		{
			name: "nul_bytes",
			in:   "1748779200 00:12:34:56:78:9a 192.168.1.10 ca\x00m *\n\x00\x00\n",
			want: []lease{{mac: camMAC, ip: ip("192.168.1.10"), expires: exp}},
			st:   leaseStats{garbage: 1},
		},
	}
	checkParseLeases(t, tests)
}

// TestParseLeasesBrokenHostname: older odhcpd releases write a host name
// they found invalid raw after "broken\x20", newlines included, so a
// client controls up to 255 bytes there: whole lines, and the start of
// the line odhcpd ends with its own fields. None of it may become a lease.
func TestParseLeasesBrokenHostname(t *testing.T) {
	exp := time.Unix(1748779200, 0).UTC()
	ip := netip.MustParseAddr
	// What odhcpd writes after the client's host name (camMAC's lease of
	// 10.97.0.10), and the records of two other clients.
	const (
		tail   = " 1748779200 a610000a 32 10.97.0.10/32\n"
		before = "# br-lan 00:12:34:56:78:9b ipv4 plug 1748779200 a610000b 32 10.97.0.11/32\n"
		after  = "# br-lan 02:00:00:00:00:42 ipv4 tv 1748779200 a610000c 32 10.97.0.12/32\n"
	)
	broken := func(hostname string) string {
		return `# br-lan 00:12:34:56:78:9a ipv4 broken\x20` + hostname + tail
	}
	brokenV6 := func(hostname string) string {
		return `# br-lan 000100012b3c4d5e00123456789a 1a2b3c4d broken\x20` + hostname + " 1748779200 10 128 fd00::10/128\n"
	}
	plug := lease{mac: plugMAC, ip: ip("10.97.0.11"), hostname: "plug", expires: exp, iface: "br-lan"}
	tv := lease{mac: hwaddr.MAC{0x02, 0, 0, 0, 0, 0x42}, ip: ip("10.97.0.12"), hostname: "tv", expires: exp, iface: "br-lan"}
	// A genuine invalid name as long as odhcpd takes: the next record
	// starts beyond what a client could have written.
	longName := strings.Repeat("Living Room ", 22)[:maxClientHostname]
	// The longest name a client can send, ending in the start of a forged
	// record that odhcpd's own fields complete.
	forgedStart := "# br-lan 02:00:00:00:00:98 ipv4 -"
	longest := strings.Repeat("y", maxClientHostname-1-len(forgedStart)) + "\n" + forgedStart

	tests := []parseLeasesCase{
		{
			name: "newline_forges_a_line",
			in:   broken("x\n# br-lan 02:00:00:00:00:99 ipv4 - 9999999999 0a610001 32 10.97.0.1/32\n"),
			st:   leaseStats{untrusted: 3},
		},
		{
			name: "odhcpd_fields_complete_a_forged_record",
			in:   broken("x\n" + forgedStart),
			st:   leaseStats{untrusted: 2},
		},
		{
			name: "odhcpd_fields_complete_a_forged_ipv6_record_of_the_router",
			in:   broken("x\n# br-lan 0003000102000000009a 1 - 9999999999 1 128 fd00::1/128"),
			st:   leaseStats{untrusted: 2},
		},
		{
			name: "forged_fields_end_the_marker_line_with_the_routers_address",
			in:   broken("x 9999999999 0a610001 32 10.97.0.1/32\nx"),
			st:   leaseStats{untrusted: 2},
		},
		{
			// Looks like a genuine invalid name, a genuine record and
			// another invalid name.
			name: "forged_end_of_record_then_forged_records",
			in: broken("x 1748779200 a610000a 32 10.97.0.10/32\n" +
				"# br-lan 02:00:00:00:00:99 ipv4 - 9999999999 0a610001 32 10.97.0.1/32\n" +
				`# br-lan 02:00:00:00:00:98 ipv4 broken\x20y`),
			st: leaseStats{untrusted: 3},
		},
		{
			name: "forged_dnsmasq_line",
			in:   broken("x\n0 02:00:00:00:00:99 10.97.0.1 * *\n"),
			st:   leaseStats{untrusted: 3},
		},
		{
			name: "forged_ipv6_record",
			in:   brokenV6("x\n# br-lan 0003000102000000009a 1 - -1 1 128 fd00::1/128\n"),
			st:   leaseStats{untrusted: 3},
		},
		{
			// Only a newline ends a line; other control bytes are spaces
			// or part of a field, and still forge nothing.
			name: "carriage_return_and_other_control_bytes",
			in:   broken("x\r# br-lan 02:00:00:00:00:99 ipv4 - 9999999999 0a610001 32 10.97.0.1/32\r\v\f\x85\u2028\x00\x1b[2J"),
			st:   leaseStats{untrusted: 1},
		},
		{
			name: "longest_host_name_forges_nothing",
			in:   broken(longest) + after,
			want: []lease{tv},
			st:   leaseStats{untrusted: 2},
		},
		{
			name: "genuine_record_before_is_read",
			in:   before + broken("Living Room TV"),
			want: []lease{plug},
			st:   leaseStats{untrusted: 1},
		},
		{
			// The cost of the rule: a client could have written it.
			name: "genuine_record_right_after_is_not_read",
			in:   broken("Living Room TV") + after,
			st:   leaseStats{untrusted: 2},
		},
		{
			name: "genuine_record_beyond_the_longest_host_name_is_read",
			in:   before + broken(longName) + after,
			want: []lease{plug, tv},
			st:   leaseStats{untrusted: 1},
		},
	}
	checkParseLeases(t, tests)
}

func TestParseLeasesCaps(t *testing.T) {
	var b strings.Builder
	for i := range maxLeases + 10 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).Next()
		fmt.Fprintf(&b, "0 00:12:34:56:78:9a %s * *\n", ip)
	}
	got, st := parseLeases([]byte(b.String()))
	if len(got) != maxLeases || st.truncated != 10 {
		t.Fatalf("%d leases, %d truncated; want %d and 10", len(got), st.truncated, maxLeases)
	}

	line := "# br-lan 0003000100123456789a 1 - -1 10 128"
	for i := range maxAddrsPerLease + 5 {
		line += fmt.Sprintf(" fd00::%x/128", i+1)
	}
	got, _ = parseLeases([]byte(line))
	if len(got) != maxAddrsPerLease {
		t.Fatalf("%d addresses from one line, want %d", len(got), maxAddrsPerLease)
	}
}

func TestMACFromDUID(t *testing.T) {
	tests := []struct {
		name, duid string
		want       hwaddr.MAC
		ok         bool
	}{
		{"llt_colons", "00:01:00:01:2b:3c:4d:5e:00:12:34:56:78:9a", camMAC, true},
		{"llt_plain", "000100012b3c4d5e00123456789a", camMAC, true},
		{"ll", "0003000100123456789a", camMAC, true},
		{"ll_not_ethernet", "0003000600123456789a", hwaddr.Zero, false},
		{"ll_multicast_mac", "0003000101005e0000fb", hwaddr.Zero, false},
		{"llt_truncated", "000100012b3c", hwaddr.Zero, false},
		{"llt_long_lladdr", "000100012b3c4d5e00123456789a00", hwaddr.Zero, false},
		{"en", "0002000000090cc084d303000912", hwaddr.Zero, false},
		{"uuid", "0004a1b2c3d4e5f60718293a4b5c6d7e8f90", hwaddr.Zero, false},
		{"odd_length", "00030001001234567", hwaddr.Zero, false},
		{"not_hex", "0003000100123456789z", hwaddr.Zero, false},
		{"empty", "", hwaddr.Zero, false},
		{"too_long", strings.Repeat("00", maxDUID+1), hwaddr.Zero, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := macFromDUID(tt.duid)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseMAC(t *testing.T) {
	tests := []struct {
		in   string
		want hwaddr.MAC
		ok   bool
	}{
		{"00:12:34:56:78:9a", camMAC, true},
		{"0:12:34:56:78:9a", camMAC, true},
		{"00:12:34:56:78:9A", camMAC, true},
		{"00123456789a", camMAC, true},
		{"00-12-34-56-78-9a", hwaddr.Zero, false},
		{"000:12:34:56:78:9a", hwaddr.Zero, false},
		{"00:12:34:56:78", hwaddr.Zero, false},
		{"00:12:34:56:78:9a:bc", hwaddr.Zero, false},
		{"00::34:56:78:9a", hwaddr.Zero, false},
		{"+0:12:34:56:78:9a", hwaddr.Zero, false},
		{"00:00:00:00:00:00", hwaddr.Zero, false},
		{"01:00:5e:00:00:fb", hwaddr.Zero, false},
	}
	for _, tt := range tests {
		got, ok := parseMAC(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseMAC(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseLeases feeds arbitrary lease files: the parser must not panic,
// stay within its caps and only return usable leases.
func FuzzParseLeases(f *testing.F) {
	seeds := []string{
		"1748779200 00:12:34:56:78:9a 192.168.1.10 cam-01 01:00:12:34:56:78:9a\n",
		"0 20-00:11:22 192.168.1.11 * *\nduid 00:01:00:01:2b:3c:4d:5e:02:00:00:00:00:01\n",
		"1748779200 T17 fd00::11 * 00:03:00:01:00:12:34:56:78:9b\n",
		"# br-lan 00123456789a ipv4 cam 1748779200 c0a8010a 32 192.168.1.10/32\n",
		"# br-lan 0:12:34:56:78:9a ipv4 broken\\x20x -1 c0a8010a 32 192.168.1.10/32\n",
		"# br-lan 0:12:34:56:78:9a ipv4 broken\\x20x\n# br-lan 2:0:0:0:0:99 ipv4 - -1 a610001 32 10.97.0.1/32\n -1 c0a8010a 32 192.168.1.10/32\n",
		"fd00::10\tcam.lan\tcam\n# br-lan 000100012b3c4d5e00123456789a 1a2b3c4d cam 1748779200 10 128 fd00::10/128 2001:db8::10/128\n",
		"# br-lan 000300010012345678ff 1 - 1748779200 5 60 2001:db8:0:10::/60\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		leases, st := parseLeases(data)
		if len(leases) > maxLeases {
			t.Fatalf("%d leases", len(leases))
		}
		if st.garbage < 0 || st.noMAC < 0 || st.truncated < 0 {
			t.Fatalf("stats %+v", st)
		}
		for _, l := range leases {
			if !usableMAC(l.mac) || !usableIP(l.ip) {
				t.Fatalf("unusable lease %+v", l)
			}
			if l.hostname != cleanHostname(l.hostname, "") {
				t.Fatalf("unclean host name %q", l.hostname)
			}
			if l.macFromDUID != l.ip.Is6() {
				t.Fatalf("MAC source does not match the family: %+v", l)
			}
		}
	})
}

func BenchmarkParseLeases(b *testing.B) {
	var sb strings.Builder
	for i := range 100 {
		fmt.Fprintf(&sb, "1748779200 00:12:34:56:78:%02x 192.168.1.%d device-%d 01:00:12:34:56:78:%02x\n", i, i+2, i, i)
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		parseLeases(data)
	}
}
