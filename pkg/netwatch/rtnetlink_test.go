package netwatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestDumpConsistent(t *testing.T) {
	other := errors.New("netlink gone")
	intr := netlink.ErrDumpInterrupted
	tests := []struct {
		name       string
		consistent bool
		errs       []error // of the tries in turn
		tries      int
		ok         bool
	}{
		{"first_try", true, []error{nil}, 1, true},
		{"interrupted_then_consistent", true, []error{intr, nil}, 2, true},
		{"always_interrupted", true, []error{intr, intr, intr, nil}, maxDumpTries, false},
		{"interrupted_taken", false, []error{intr}, 1, true},
		{"other_error", true, []error{other}, 1, false},
		{"other_error_not_taken", false, []error{other}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			got, err := dump(tt.consistent, func() ([]int, error) {
				err := tt.errs[tries]
				tries++
				return []int{tries}, err
			})
			if tries != tt.tries || (err == nil) != tt.ok || (err == nil) != (got != nil) {
				t.Errorf("%d tries, %v, err %v; want %d tries, ok %v", tries, got, err, tt.tries, tt.ok)
			}
			if err != nil && !errors.Is(err, tt.errs[tries-1]) {
				t.Errorf("err %v does not wrap %v", err, tt.errs[tries-1])
			}
		})
	}
}

// A neighbour deletion read after its link's deletion (the subscriptions
// are read in any order) still names the interface, so that its devices
// are unbound from it; a new link under the index takes it over.
func TestDeletedLinkKeepsItsName(t *testing.T) {
	n := newLinkNames(nil)
	n.learn(7, "br-lan", false)
	n.learn(7, "", true)
	if got := n.name(7); got != "br-lan" {
		t.Errorf("deleted link 7 named %q, want br-lan", got)
	}
	n.learn(7, "br-guest", false)
	if got := n.name(7); got != "br-guest" {
		t.Errorf("link 7 made again named %q, want br-guest", got)
	}
	for i := range 2 * maxGoneNames {
		n.learn(100+i, fmt.Sprint("veth", i), false)
		n.learn(100+i, "", true)
	}
	if len(n.gone) > maxGoneNames {
		t.Errorf("%d names of deleted links kept, cap %d", len(n.gone), maxGoneNames)
	}
}

// TestHolderOfAsksForOneEntry: a holder lookup asks the kernel for the
// address's entry on each LAN interface (only its zone's, for an address
// with one), never for the whole neighbour table, which any LAN host can
// fill before it floods the notice page with requests; it keeps no
// answer, since a host that has just taken an address must not be told
// of the device that held it. A lookup that failed, of a link or of an
// entry, is tried once more, as no one holding the address would end an
// audit with what it learnt lost; an interface that is not there, or
// has no entry, is no failure.
func TestHolderOfAsksForOneEntry(t *testing.T) {
	camera := net.HardwareAddr{0, 0x12, 0x41, 0xaa, 0xbb, 0xcc}
	links := map[string]int{"br-lan": 3, "br-guest": 7} // br-iot is switched off
	errNetlink := errors.New("no buffer space")
	tests := []struct {
		name      string
		addr      string
		entries   map[int]netlink.Neigh // by link index
		linkErrs  []error               // the link lookups' outcomes, call by call; then found
		neighErrs []error               // the entry lookups', likewise
		want      bool
		links     int // link lookups made
		reads     int // entry lookups made
	}{
		{name: "on_br_lan", addr: "192.168.1.23",
			entries: map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}},
			want:    true, links: 1, reads: 1},
		{name: "on_br_guest", addr: "192.168.2.23",
			entries: map[int]netlink.Neigh{7: {State: netlink.NUD_STALE, HardwareAddr: camera}},
			want:    true, links: 3, reads: 2},
		{name: "nowhere", addr: "192.168.3.23", links: 3, reads: 2},
		{name: "failed_entry_no_mac", addr: "192.168.1.23",
			entries: map[int]netlink.Neigh{3: {State: netlink.NUD_FAILED}}, links: 3, reads: 2},
		{name: "zone_asks_its_link_only", addr: "fe80::1%br-guest",
			entries: map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}}, links: 1, reads: 1},
		{name: "zone_not_on_the_lan", addr: "fe80::1%wan", entries: map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}}},
		{name: "entry_failed_then_found", addr: "192.168.1.23",
			entries:   map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}},
			neighErrs: []error{errNetlink}, want: true, links: 4, reads: 3},
		{name: "entry_failed_twice", addr: "192.168.1.23",
			entries:   map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}},
			neighErrs: []error{errNetlink, nil, errNetlink}, links: 6, reads: 4},
		{name: "link_failed_then_found", addr: "192.168.1.23",
			entries:  map[int]netlink.Neigh{3: {State: netlink.NUD_REACHABLE, HardwareAddr: camera}},
			linkErrs: []error{errNetlink}, want: true, links: 4, reads: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var linkCalls, reads int
			link := func(name string) (int, bool, error) {
				linkCalls++
				if linkCalls <= len(tt.linkErrs) && tt.linkErrs[linkCalls-1] != nil {
					return 0, false, tt.linkErrs[linkCalls-1]
				}
				index, ok := links[name]
				return index, ok, nil
			}
			neighbour := func(index int, a netip.Addr) (netlink.Neigh, bool, error) {
				reads++
				if a.Zone() != "" {
					t.Errorf("entry of %s asked for with its zone", a)
				}
				if reads <= len(tt.neighErrs) && tt.neighErrs[reads-1] != nil {
					return netlink.Neigh{}, false, tt.neighErrs[reads-1]
				}
				n, ok := tt.entries[index]
				return n, ok, nil
			}
			mac, ok := holderOf([]string{"br-lan", "br-iot", "br-guest"}, link, neighbour)(netip.MustParseAddr(tt.addr))
			if ok != tt.want || ok && mac.String() != "00:12:41:aa:bb:cc" {
				t.Errorf("holder %v, %v; want found %v", mac, ok, tt.want)
			}
			if linkCalls != tt.links || reads != tt.reads {
				t.Errorf("%d link and %d entry lookups, want %d and %d", linkCalls, reads, tt.links, tt.reads)
			}
		})
	}
}
