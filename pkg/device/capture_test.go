package device_test

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/pipeline"
)

// run analyzes capture files with the pipeline iotgw analyze uses.
func run(t *testing.T, paths ...string) *device.Inventory {
	t.Helper()
	p, err := pipeline.New(config.Default(), pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		src, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(context.Background(), path, src, nil); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		src.Close()
	}
	p.Flush()
	return p.Inventory()
}

func lookup(t *testing.T, inv *device.Inventory, mac string) *device.Device {
	t.Helper()
	m, err := hwaddr.Parse(mac)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := inv.Lookup(device.Key{MAC: m})
	if !ok {
		t.Fatalf("device %s not in the inventory", mac)
	}
	return d
}

type wantIdentity struct {
	mac                    string
	vendor, typ, model, os string
	software               []string // "product version"
	hostname               string
	notAddr                string // an address the device must not hold
}

func checkIdentity(t *testing.T, inv *device.Inventory, w wantIdentity) {
	t.Helper()
	d := lookup(t, inv, w.mac)
	id := d.Identity
	for _, c := range []struct {
		what string
		got  device.Attribute
		want string
	}{{"vendor", id.Vendor, w.vendor}, {"type", id.Type, w.typ}, {"model", id.Model, w.model}, {"os", id.OS, w.os}} {
		if c.want != "" && c.got.Value != c.want {
			t.Errorf("%s %s = %q (%.2f), want %q", w.mac, c.what, c.got.Value, c.got.Confidence, c.want)
		}
	}
	for _, sw := range w.software {
		found := false
		for _, s := range d.Software {
			found = found || s.Product+" "+s.Version == sw
		}
		if !found {
			t.Errorf("%s: software %q not among %+v", w.mac, sw, d.Software)
		}
	}
	if w.hostname != "" && (len(d.Hostnames) == 0 || d.Hostnames[0].Name != w.hostname) {
		t.Errorf("%s: hostnames %+v, want %q", w.mac, d.Hostnames, w.hostname)
	}
	if w.notAddr != "" && slices.Contains(d.Addrs, netip.MustParseAddr(w.notAddr)) {
		t.Errorf("%s holds %s: %v", w.mac, w.notAddr, d.Addrs)
	}
}

// checkCard checks the verdicts of the provisions in want.
func checkCard(t *testing.T, card device.Card, want map[string]device.Status) {
	t.Helper()
	ps := slices.Clone(card.Other)
	for _, cp := range card.Capabilities {
		ps = append(ps, cp.Provisions...)
	}
	for id, w := range want {
		i := slices.IndexFunc(ps, func(p device.Provision) bool { return p.ID == id })
		if i < 0 {
			t.Errorf("no provision %s", id)
		} else if ps[i].Status != w {
			t.Errorf("%s = %s %q, want %s", id, ps[i].Status, ps[i].Reasons, w)
		}
	}
}

// TestDemoCapture checks the identities scripts/lab/README.md describes
// for the bundled capture.
func TestDemoCapture(t *testing.T) {
	inv := run(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	for _, w := range []wantIdentity{
		{mac: "c0:56:e3:1a:2b:3c", vendor: "Hikvision", typ: "camera", os: "Linux", software: []string{"busybox 1.19.3"}, hostname: "ipcam"},
		{mac: "50:c7:bf:0a:1b:2c", vendor: "TP-Link", typ: "plug", model: "HS110", os: "Linux", software: []string{"busybox 1.35.0"}, hostname: "HS110"},
		{mac: "8c:79:f5:3d:4e:5f", vendor: "Samsung", typ: "tv", os: "Linux", hostname: "samsung-tv"},
		{mac: "3c:a9:f4:6a:7b:8c", typ: "computer", os: "Linux", hostname: "alice-laptop"},
	} {
		checkIdentity(t, inv, w)
	}
	// Every device's first SYN came from Linux 6.1 in the lab.
	if syn := lookup(t, inv, "3c:a9:f4:6a:7b:8c").Identity.SYN; !strings.HasPrefix(syn, "64:") || !strings.HasSuffix(syn, ":M,S,T,N,W") {
		t.Errorf("laptop SYN %q", syn)
	}
}

// TestDemoCaptureMDNSAndSSDP checks what the TV says about itself in
// mDNS and SSDP.
func TestDemoCaptureMDNSAndSSDP(t *testing.T) {
	inv := run(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	tv := lookup(t, inv, "8c:79:f5:3d:4e:5f")
	if len(tv.Hostnames) != 2 || tv.Hostnames[1].Source != "mdns" {
		t.Errorf("TV host names %+v, want samsung-tv from DHCP and mDNS", tv.Hostnames)
	}
	checkIdentity(t, inv, wantIdentity{mac: "8c:79:f5:3d:4e:5f", vendor: "Samsung", typ: "tv", model: "UE55TU7100",
		software: []string{"miniupnpd 1.6", "linux 3.10"}})
	if tv.Identity.Type.Confidence < 0.9 {
		t.Errorf("TV type confidence %.2f", tv.Identity.Type.Confidence)
	}
}

// TestCorpusCaptures runs the shared corpus's DHCP, mDNS and SSDP
// captures (../shared/corpus/MANIFEST.tsv describes each).
func TestCorpusCaptures(t *testing.T) {
	tests := []struct {
		file string
		want wantIdentity
	}{
		{"arkime-wireshark-dhcp.pcap", wantIdentity{mac: "00:0b:82:01:fc:42", vendor: "Grandstream", typ: "phone"}},
		{"sv-dhcp-eve-extended.pcap", wantIdentity{mac: "00:11:32:17:49:f0", vendor: "Synology", typ: "nas", os: "Linux", hostname: "nas1"}},
		// Windows' DHCP client on an Apple MAC named NicksMacBook: Apple
		// hardware running Windows.
		{"sv-dhcp-eve-extended-option-60.pcap", wantIdentity{mac: "28:cf:da:dc:8d:76", vendor: "Apple", typ: "computer", os: "Windows", hostname: "NicksMacBook"}},
		// Relayed, request and ACK, through 62.12.173.121: the relay's
		// address is not the Pi's, and a relayed message gives no
		// software (anyone can send one naming any client).
		{"tcpdump-dhcp-mud.pcap", wantIdentity{mac: "b8:27:eb:b8:53:c8", vendor: "Raspberry Pi", typ: "computer", os: "Linux", hostname: "raspberrypi",
			notAddr: "62.12.173.121"}},
		{"tcpdump-dhcp-rfc3004.pcap", wantIdentity{mac: "00:0c:29:1f:74:06", vendor: "VMware", typ: "computer", os: "Linux"}},
		{"sv-dhcp-option-52-overload.pcap", wantIdentity{mac: "92:dd:a4:8d:5f:de", os: "Linux", software: []string{"busybox 1.36.1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			inv := run(t, inspecttest.CorpusFile(t, tt.file))
			checkIdentity(t, inv, tt.want)
		})
	}
}

func TestCorpusPrivateMAC(t *testing.T) {
	// 92:dd:a4:… is locally administered: no OUI vendor.
	inv := run(t, inspecttest.CorpusFile(t, "sv-dhcp-option-52-overload.pcap"))
	id := lookup(t, inv, "92:dd:a4:8d:5f:de").Identity
	if !id.PrivateMAC || id.RegisteredVendor != "" || id.Vendor.Value != "" {
		t.Fatalf("identity %+v", id)
	}
}

func TestCorpusSSDPRouter(t *testing.T) {
	// A Tomato router's NOTIFY: SERVER "UPnP/Tomato 1.28.7500 … MiniUPnPd/1.6".
	inv := run(t, inspecttest.CorpusFile(t, "sv-sip-ssdp-pm-ssdp.pcap"))
	for _, d := range inv.Devices() {
		if len(d.Observations) == 0 {
			continue
		}
		id := d.Identity
		if id.Type.Value != "router" || id.OS.Value != "Tomato" || id.Firmware.Value != "Tomato 1.28.7500" {
			t.Errorf("%s: type %q os %q firmware %q", d.Key, id.Type.Value, id.OS.Value, id.Firmware.Value)
		}
		if !slices.ContainsFunc(d.Software, func(s device.Software) bool { return s.Product == "miniupnpd" && s.Version == "1.6" }) {
			t.Errorf("%s: software %+v", d.Key, d.Software)
		}
		return
	}
	t.Fatal("no device with an SSDP observation")
}

// TestCorpusMDNSOtherHostsRecords: a host sends answers for names of its
// own addresses and one for another's (MANIFEST.tsv: v6-unrelated.local
// → fe80::1, sent from fe80::200:deff:fead:beef); only its own name is
// its own.
func TestCorpusMDNSOtherHostsRecords(t *testing.T) {
	inv := run(t, inspecttest.CorpusFile(t, "zeek-dns-mdns-no-assoc.pcap"))
	var names []string
	for _, h := range lookup(t, inv, "02:00:de:ad:be:ef").Hostnames {
		names = append(names, h.Name)
	}
	if want := []string{"unrelated-reply-a", "unrelated-reply-aaaa"}; !slices.Equal(names, want) {
		t.Errorf("host names %q, want %q", names, want)
	}
}

func TestCorpusMDNSVirtualMachine(t *testing.T) {
	// A QEMU guest announcing _ipp._tcp: a computer sharing a printer,
	// not a printer.
	inv := run(t, inspecttest.CorpusFile(t, "zeek-dns-mdns.pcap"))
	for _, d := range inv.Devices() {
		for _, h := range d.Hostnames {
			if h.Name == "johanna-QEMU-Virtual-Machine" {
				if d.Identity.Type.Value != "computer" {
					t.Errorf("type %+v", d.Identity.Type)
				}
				return
			}
		}
	}
	t.Fatal("no device named johanna-QEMU-Virtual-Machine")
}

// TestCorpusWeakCipherScorecard: TLS 1.2 with TLS_RSA_WITH_RC4_128_MD5
// (MANIFEST.tsv) protects neither credentials nor personal data.
func TestCorpusWeakCipherScorecard(t *testing.T) {
	inv := run(t, inspecttest.CorpusFile(t, "zeek-tls-tls1.2.pcap"))
	card := device.Scorecard(lookup(t, inv, "b8:f6:b1:16:11:6d"), nil)
	checkCard(t, card, map[string]device.Status{"5.5-1": device.Fail, "5.5-7": device.Unknown, "5.8-1": device.Unknown})
}

// TestCorpusClientLoginScorecard: a mail client's accepted SMTP login to
// its provider (MANIFEST.tsv: AUTH LOGIN, 235 ok) says nothing about the
// device's own passwords.
func TestCorpusClientLoginScorecard(t *testing.T) {
	inv := run(t, inspecttest.CorpusFile(t, "sv-smtp-bug-5981.pcap"))
	card := device.Scorecard(lookup(t, inv, "08:00:46:db:60:8f"), nil)
	checkCard(t, card, map[string]device.Status{"5.1-1": device.Unknown, "5.1-2": device.Unknown, "5.5-7": device.Fail})
}

// TestDemoScorecards checks the label of each demo device.
func TestDemoScorecards(t *testing.T) {
	inv := run(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	tests := []struct {
		mac  string
		want map[string]device.Status
	}{
		{"c0:56:e3:1a:2b:3c", map[string]device.Status{
			"5.1-1": device.Fail, // admin/admin, root/xc3511
			"5.2-1": device.Pass, // Hikvision publishes a PSIRT page
			"5.5-1": device.Fail, // FTP and HTTP to the internet
			"5.5-7": device.Fail, // passwords in clear
			// A telnet server the laptop logs in to: in use, so no
			// certain fail of "unused interfaces disabled".
			"5.6-1": device.Unknown,
			"5.3-7": device.Unknown, // no update seen
		}},
		{"50:c7:bf:0a:1b:2c", map[string]device.Status{
			// Its MQTT login with a unique password was to the internet
			// broker: the broker's account, not the plug's own password.
			"5.1-1": device.Unknown,
			"5.1-2": device.Unknown,
			// busybox 1.35.0 comes from its DHCP vendor class only: a
			// claim anyone on the LAN can send, no fact to fail on.
			"5.3-8": device.Unknown,
			"5.5-7": device.Fail, // that password in clear
			"5.8-1": device.Fail, // e-mail and location in clear
		}},
		{"8c:79:f5:3d:4e:5f", map[string]device.Status{
			"5.3-7": device.Fail, // firmware over plain HTTP
			"5.3-8": device.Fail, // miniupnpd 1.6 from its own HTTP Server header
			// Samsung's table entry was written from memory, not
			// re-checked: its URL is a hint, not a pass.
			"5.2-1": device.Unknown,
			"5.5-1": device.Fail,
			"5.1-1": device.Unknown,
		}},
		{"3c:a9:f4:6a:7b:8c", map[string]device.Status{
			// Its one internet connection was TLS 1.3, but on the LAN
			// it sends a root telnet login in clear to the camera and
			// plain HTTP to the TV: no pass, no fail (LAN traffic is
			// not sent over the internet).
			"5.5-1": device.Unknown,
			"5.5-7": device.Unknown,
			"5.8-1": device.Unknown,
			"5.1-1": device.Unknown,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mac, func(t *testing.T) {
			card := device.Scorecard(lookup(t, inv, tt.mac), nil)
			checkCard(t, card, tt.want)
			if tt.mac == "3c:a9:f4:6a:7b:8c" {
				for _, c := range card.Capabilities {
					if c.Capability == event.CapSecureCommunication || c.Capability == event.CapPersonalData {
						if c.Status != device.Unknown || !strings.Contains(strings.Join(c.Provisions[0].Reasons, " "), "sent a telnet login in clear to 192.168.50.101") {
							t.Errorf("capability %d: %s %q", c.Capability, c.Status, c.Provisions[0].Reasons)
						}
					}
				}
			}
			var b bytes.Buffer
			if err := card.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if lines := strings.Count(b.String(), "\n"); lines != 8 {
				t.Errorf("label has %d lines:\n%s", lines, b.String())
			}
		})
	}
}

// TestRecordedWSD runs wsdd's announcements and answers
// (pkg/inspect/wsd/testdata) through the pipeline: the host's
// ResolveMatches and ProbeMatches (pub:Computer) vote computer.
func TestRecordedWSD(t *testing.T) {
	inv := run(t, inspecttest.RepoFile(t, "pkg/inspect/wsd/testdata/wsdd-host.pcap"))
	const host = "3c:a9:f4:6a:7b:01"
	checkIdentity(t, inv, wantIdentity{mac: host, typ: "computer"})
	ev := lookup(t, inv, host).Identity.Type.Evidence
	if !slices.ContainsFunc(ev, func(e device.Evidence) bool { return e.Source == string(event.KindWSD) && e.Rule == "wsd-pub-computer" }) {
		t.Errorf("host type evidence %+v, want WS-Discovery's pub:Computer", ev)
	}
}
