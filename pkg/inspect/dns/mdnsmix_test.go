package dns

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	miekg "github.com/miekg/dns"
)

// announcement packs an mDNS response as a responder sends it: answers,
// then additional records, names compressed.
func announcement(t testing.TB, answers, extra []string) []byte {
	t.Helper()
	rrs := func(zone []string) []miekg.RR {
		var out []miekg.RR
		for _, s := range zone {
			rr, err := miekg.NewRR(s)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			out = append(out, rr)
		}
		return out
	}
	m := &miekg.Msg{MsgHdr: miekg.MsgHdr{Response: true, Authoritative: true}, Compress: true,
		Answer: rrs(answers), Extra: rrs(extra)}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The records of an Apple TV (Living-Room.local, 192.168.1.10) and of a
// MacBook it answers for while the Mac sleeps (Bonjour Sleep Proxy), and
// of a Raspberry Pi running avahi's reflector beside a printer it
// relays, as their responders write them.
var (
	appleTVAnswers = []string{
		`_airplay._tcp.local. 4500 IN PTR Living\ Room._airplay._tcp.local.`,
		`Living\ Room._airplay._tcp.local. 120 IN SRV 0 0 7000 Living-Room.local.`,
		`Living\ Room._airplay._tcp.local. 4500 IN TXT "features=0x4A7FDFD5,0xBC157FDE" "model=AppleTV11,1" "srcvers=620.8.2"`,
		`Living\ Room._device-info._tcp.local. 4500 IN TXT "model=AppleTV11,1"`,
	}
	appleTVAddrs = []string{
		`Living-Room.local. 120 IN A 192.168.1.10`,
		`Living-Room.local. 120 IN AAAA fe80::1c2b:3aff:fe4d:5e10`,
	}
	sleepingMacAnswers = []string{
		`_smb._tcp.local. 4500 IN PTR Bob\226\128\153s\ MacBook\ Pro._smb._tcp.local.`,
		`Bob\226\128\153s\ MacBook\ Pro._smb._tcp.local. 120 IN SRV 0 0 445 Bobs-MacBook-Pro.local.`,
		`Bob\226\128\153s\ MacBook\ Pro._smb._tcp.local. 4500 IN TXT ""`,
		`Bob\226\128\153s\ MacBook\ Pro._device-info._tcp.local. 4500 IN TXT "model=MacBookPro18,3" "osxvers=23"`,
	}
	sleepingMacAddrs = []string{
		`Bobs-MacBook-Pro.local. 120 IN A 192.168.1.20`,
		`Bobs-MacBook-Pro.local. 120 IN AAAA fe80::8a66:5aff:fe11:2220`,
	}
	piAnswers = []string{
		`_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.`,
		`_services._dns-sd._udp.local. 4500 IN PTR _ipp._tcp.local.`,
		`_ssh._tcp.local. 4500 IN PTR raspberrypi._ssh._tcp.local.`,
		`_ipp._tcp.local. 4500 IN PTR HP\ LaserJet\ M404._ipp._tcp.local.`,
	}
	piExtra = []string{
		`raspberrypi._ssh._tcp.local. 120 IN SRV 0 0 22 raspberrypi.local.`,
		`raspberrypi._ssh._tcp.local. 4500 IN TXT ""`,
		`HP\ LaserJet\ M404._ipp._tcp.local. 120 IN SRV 0 0 631 HP-LaserJet-M404.local.`,
		`HP\ LaserJet\ M404._ipp._tcp.local. 4500 IN TXT "txtvers=1" "ty=HP LaserJet Pro M404dn" "usb_MFG=HP" "usb_MDL=LaserJet Pro M404dn"`,
		`raspberrypi.local. 120 IN A 192.168.1.2`,
		`HP-LaserJet-M404.local. 120 IN A 192.168.1.40`,
	}
)

// relayed are the records of six hosts an mDNS reflector relays, none
// of them the sender: relayed[i] is host-i (192.168.1.10i) with an
// _ipp._tcp instance.
var relayed = func() [][]string {
	var out [][]string
	for i := 1; i <= 6; i++ {
		n := string(rune('0' + i))
		out = append(out, []string{
			`Printer\ ` + n + `._ipp._tcp.local. 120 IN SRV 0 0 631 host-` + n + `.local.`,
			`Printer\ ` + n + `._ipp._tcp.local. 4500 IN TXT "ty=Printer ` + n + `"`,
			`host-` + n + `.local. 120 IN A 192.168.1.10` + n,
		})
	}
	return out
}()

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestMDNSMixedAnnouncement: a response carrying the sender's records
// and another host's yields the sender's only: the host whose address
// record is the sender's address, its services (SRV target), their TXT
// records, and TXT records of an instance name those services share
// (_device-info). Records of the other host, and those tied to no one
// host (a service type enumeration), are left out. A response of one
// host is reported whole, as before.
func TestMDNSMixedAnnouncement(t *testing.T) {
	appleTV := map[string]string{"hostname": "Living-Room", "addresses": "192.168.1.10,fe80::1c2b:3aff:fe4d:5e10",
		"services": "_airplay._tcp,_device-info._tcp", "instance": "Living Room", "txt_model": "AppleTV11,1", "-txt_osxvers": "",
		"-several_hosts": ""}
	tests := []struct {
		name          string
		sender        string
		answers, rest []string
		want          []want
	}{
		{"sleep_proxy_answers_for_a_mac", "192.168.1.10:5353",
			cat(appleTVAnswers, sleepingMacAnswers), cat(appleTVAddrs, sleepingMacAddrs),
			[]want{{event.KindMDNS, "192.168.1.10", appleTV}}},
		{"sleep_proxy_over_ipv6", "[fe80::1c2b:3aff:fe4d:5e10]:5353",
			cat(sleepingMacAnswers, appleTVAnswers), cat(sleepingMacAddrs, appleTVAddrs),
			[]want{{event.KindMDNS, "fe80::1c2b:3aff:fe4d:5e10", appleTV}}},
		{"reflector_packs_a_relayed_printer", "192.168.1.2:5353", piAnswers, piExtra,
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "raspberrypi", "addresses": "192.168.1.2",
				"services": "_ssh._tcp", "instance": "raspberrypi", "-txt_ty": "", "-txt_usb_mfg": ""}}}},
		// The sender's own records name no address of it: the other
		// host's, which do, go to the device layer to be checked against
		// the sender's addresses; the sender's, tied to no address, are
		// left out.
		{"own_records_without_addresses", "192.168.1.10:5353",
			cat(appleTVAnswers, sleepingMacAnswers), sleepingMacAddrs,
			[]want{{event.KindMDNS, "192.168.1.10", map[string]string{"hostname": "Bobs-MacBook-Pro",
				"addresses": "192.168.1.20,fe80::8a66:5aff:fe11:2220", "instance": "Bob’s MacBook Pro", "services": "_device-info._tcp,_smb._tcp", "txt_model": "MacBookPro18,3",
				"several_hosts": "yes"}}}},
		// The sender's host fifth of six: it is looked for first, and
		// the table's four places do not leave it out.
		{"sender_fifth_of_six_hosts", "192.168.1.2:5353",
			cat(relayed[0], relayed[1], relayed[2], relayed[3], []string{piExtra[0], piExtra[4]}, relayed[4]), nil,
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "raspberrypi", "addresses": "192.168.1.2",
				"services": "_ssh._tcp", "-txt_ty": "", "-several_hosts": ""}}}},
		// Six hosts, none the sender: the first four are reported, for
		// the device layer to check, each saying it shared the
		// response.
		{"more_hosts_than_the_table_holds", "192.168.1.2:5353", cat(relayed...), nil,
			[]want{
				{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "host-1", "txt_ty": "Printer 1", "several_hosts": "yes"}},
				{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "host-2", "txt_ty": "Printer 2", "several_hosts": "yes"}},
				{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "host-3", "txt_ty": "Printer 3", "several_hosts": "yes"}},
				{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "host-4", "txt_ty": "Printer 4", "several_hosts": "yes"}},
			}},
		// The Mac's file sharing has the Apple TV's instance name:
		// records of instances by that name (its _device-info TXT
		// record) may be either's, and go to neither.
		{"instance_name_of_two_hosts", "192.168.1.10:5353",
			[]string{
				appleTVAnswers[1],
				`Living\ Room._smb._tcp.local. 120 IN SRV 0 0 445 Bobs-MacBook-Pro.local.`,
				`Living\ Room._device-info._tcp.local. 4500 IN TXT "model=MacBookPro18,3" "osxvers=23"`,
			}, cat(appleTVAddrs, sleepingMacAddrs),
			[]want{{event.KindMDNS, "192.168.1.10", map[string]string{"hostname": "Living-Room",
				"addresses": "192.168.1.10,fe80::1c2b:3aff:fe4d:5e10", "-txt_model": "", "-txt_osxvers": "", "-services": ""}}}},
		// A service PTR joins its instance's host, by the instance's
		// name, even where the response carries no SRV record of that
		// service.
		{"instance_ptr_without_its_srv", "192.168.1.10:5353",
			cat(appleTVAnswers, []string{`_companion-link._tcp.local. 4500 IN PTR Living\ Room._companion-link._tcp.local.`},
				sleepingMacAnswers), cat(appleTVAddrs, sleepingMacAddrs),
			[]want{{event.KindMDNS, "192.168.1.10", map[string]string{"hostname": "Living-Room",
				"services": "_airplay._tcp,_companion-link._tcp,_device-info._tcp"}}}},
		// A reverse-lookup PTR names a host: the reflector relays the
		// printer's beside its own records, and the response is split
		// (the service type enumeration, anyone's, is left out).
		{"reverse_ptr_of_another_host", "192.168.1.2:5353",
			[]string{piAnswers[0], piAnswers[1], `40.1.168.192.in-addr.arpa. 120 IN PTR HP-LaserJet-M404.local.`},
			[]string{piExtra[0], piExtra[4]},
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "raspberrypi", "services": "_ssh._tcp"}}}},
		// A service PTR names an instance; one pointing at a host name
		// (a buggy responder) names no second host, and the response
		// is the sender's whole.
		{"service_ptr_to_a_host_name", "192.168.1.2:5353",
			[]string{
				`_services._dns-sd._udp.local. 4500 IN PTR _ssh._tcp.local.`,
				`_services._dns-sd._udp.local. 4500 IN PTR _http._tcp.local.`,
				`_http._tcp.local. 4500 IN PTR raspberrypi-web.local.`,
			}, []string{piExtra[0], piExtra[4]},
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "raspberrypi", "services": "_http._tcp,_ssh._tcp"}}}},
		// Negative cases: one host's records, reported whole.
		{"apple_tv_alone", "192.168.1.10:5353", appleTVAnswers, appleTVAddrs,
			[]want{{event.KindMDNS, "192.168.1.10", appleTV}}},
		// The apostrophe is not ASCII: a dot a byte.
		{"mac_alone", "192.168.1.20:5353", sleepingMacAnswers, sleepingMacAddrs,
			[]want{{event.KindMDNS, "192.168.1.20", map[string]string{"hostname": "Bobs-MacBook-Pro",
				"addresses": "192.168.1.20,fe80::8a66:5aff:fe11:2220", "services": "_device-info._tcp,_smb._tcp",
				"instance": "Bob’s MacBook Pro", "txt_model": "MacBookPro18,3", "txt_osxvers": "23"}}}},
		{"raspberry_pi_alone", "192.168.1.2:5353", piAnswers[:1], []string{piExtra[0], piExtra[1], piExtra[4]},
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "raspberrypi", "addresses": "192.168.1.2",
				"services": "_ssh._tcp", "instance": "raspberrypi"}}}},
		// A reflector relaying another host's records alone: reported,
		// for the device layer to see they name another's address.
		{"relayed_alone", "192.168.1.2:5353", sleepingMacAnswers, sleepingMacAddrs,
			[]want{{event.KindMDNS, "192.168.1.2", map[string]string{"hostname": "Bobs-MacBook-Pro", "addresses": "192.168.1.20,fe80::8a66:5aff:fe11:2220"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			group := "224.0.0.251:5353"
			if tt.sender[0] == '[' {
				group = "[ff02::fb]:5353"
			}
			inspecttest.NewUDP(e, tt.sender, group).ClientBytes(announcement(t, tt.answers, tt.rest))
			e.Flush()
			checkEvents(t, col.Events, tt.want)
		})
	}
}
