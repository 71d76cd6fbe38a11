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

// TestHolderOfRereadsInterruptedListing: a neighbour listing the kernel
// marks interrupted may lack the very entry asked for; it is read again
// rather than taken as no one holding the address, and so is a listing
// that failed, once, or one whose entry's link could not be named.
func TestHolderOfRereadsInterruptedListing(t *testing.T) {
	held := netlink.Neigh{LinkIndex: 3, IP: net.ParseIP("192.168.1.23").To4(), State: netlink.NUD_REACHABLE, HardwareAddr: net.HardwareAddr{0, 0x12, 0x41, 0xaa, 0xbb, 0xcc}}
	tests := []struct {
		name   string
		tries  []error // the listing's outcome, try by try
		names  []error // the entry's link name lookup's, after a whole listing; nil: found
		wantOK bool
	}{
		{"whole", []error{nil}, nil, true},
		{"interrupted_then_whole", []error{netlink.ErrDumpInterrupted, nil}, nil, true},
		{"failed_then_whole", []error{errors.New("no buffer space"), nil}, nil, true},
		{"failed_twice", []error{errors.New("netlink gone"), errors.New("netlink gone")}, nil, false},
		{"link_name_failed_then_found", []error{nil, nil}, []error{errors.New("no buffer space"), nil}, true},
		{"link_name_failed_twice", []error{nil, nil}, []error{errors.New("netlink gone"), errors.New("netlink gone")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tries := 0
			list := func(_, _ int) ([]netlink.Neigh, error) {
				err := tt.tries[tries]
				tries++
				if err != nil {
					return nil, err // an interrupted listing lacks the entry
				}
				return []netlink.Neigh{held}, nil
			}
			named := 0
			names := func(int) (string, error) {
				if named < len(tt.names) {
					named++
					if err := tt.names[named-1]; err != nil {
						return "", err
					}
				}
				return "br-lan", nil
			}
			mac, ok := holderOf([]string{"br-lan"}, list, names)(netip.MustParseAddr("192.168.1.23"))
			if ok != tt.wantOK || ok && mac.String() != "00:12:41:aa:bb:cc" || tries != len(tt.tries) {
				t.Errorf("holder %v, %v after %d listings; want found %v after %d", mac, ok, tries, tt.wantOK, len(tt.tries))
			}
		})
	}
}
