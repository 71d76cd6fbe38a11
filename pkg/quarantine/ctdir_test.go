package quarantine

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleMessage returns the NEWRULE message the library builds for exprs,
// captured with its test dial (no kernel involved).
func ruleMessage(t *testing.T, r ruleDef) netlink.Message {
	t.Helper()
	var sent []netlink.Message
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		sent = append(sent, req...)
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: "iotgw"}
	c.AddRule(&nftables.Rule{Table: table, Chain: &nftables.Chain{Name: "capture", Table: table}, Exprs: r.exprs})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, m := range sent {
		if m.Header.Type == newRuleType {
			return m
		}
	}
	t.Fatal("no NEWRULE message sent")
	return netlink.Message{}
}

// ctDirections lists, for each ct expression of a rule message, its
// direction attribute (-1: none).
func ctDirections(t *testing.T, data []byte) []int {
	t.Helper()
	attrs, err := netlink.UnmarshalAttributes(data[4:])
	if err != nil {
		t.Fatal(err)
	}
	var dirs []int
	for _, a := range attrs {
		if a.Type&nlaTypeMask != unix.NFTA_RULE_EXPRESSIONS {
			continue
		}
		exprs, err := netlink.UnmarshalAttributes(a.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exprs {
			name, body, err := exprParts(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if name != "ct" {
				continue
			}
			dir := -1
			inner, err := netlink.UnmarshalAttributes(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range inner {
				if x.Type == unix.NFTA_CT_DIRECTION {
					if len(x.Data) != 1 {
						t.Fatalf("direction is %d bytes, the kernel reads a u8", len(x.Data))
					}
					dir = int(x.Data[0])
				}
			}
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

func TestAddCtDirections(t *testing.T) {
	tests := []struct {
		name string
		rule ruleDef
		want []int // per ct expression: direction, -1 none
	}{
		{name: "original", rule: rule(ctBudgetSpent("original", 4096, 4), verdict(expr.VerdictReturn)), want: []int{-1, 0, 0}},
		{name: "reply", rule: rule(ctBudgetSpent("reply", 100, 2), verdict(expr.VerdictReturn)), want: []int{-1, 1, 1}},
		{name: "ct_state_untouched", rule: rule(established(), accept()), want: []int{-1}},
		{name: "counter_without_direction_match_untouched", rule: ruleDef{exprs: ctBudgetSpent("reply", 1, 1).exprs[2:]}, want: []int{-1, -1}},
		{name: "direction_of_another_rule_part_not_reused", rule: ruleDef{exprs: append(ctBudgetSpent("reply", 1, 1).exprs[:2:2], dport("udp", 53).exprs...)}, want: []int{-1}},
		// "ct direction != reply" says nothing of which direction's
		// counters the rule means; nor does a test of another register.
		{name: "not_equal_is_no_direction", rule: ruleDef{exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{1}},
			&expr.Ct{Key: expr.CtKeyBYTES, Register: 1}}}, want: []int{-1, -1}},
		{name: "other_register_is_no_direction", rule: ruleDef{exprs: []expr.Any{
			&expr.Ct{Key: expr.CtKeyDIRECTION, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 2, Data: []byte{1}},
			&expr.Ct{Key: expr.CtKeyBYTES, Register: 1}}}, want: []int{-1, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ruleMessage(t, tc.rule)
			patched, err := addCtDirections(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			got := ctDirections(t, patched)
			if len(got) != len(tc.want) {
				t.Fatalf("ct expressions %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("ct expressions %v, want %v", got, tc.want)
				}
			}
			if got[len(got)-1] == -1 && !bytes.Equal(patched, m.Data) {
				t.Error("a rule without a counter to patch was changed")
			}
		})
	}
	if _, err := addCtDirections([]byte{1, 0, 0, 0, 0xff}); err == nil {
		t.Error("truncated attributes accepted")
	}
}

func TestIntervalElements(t *testing.T) {
	type el struct {
		key string
		end bool
	}
	tests := []struct {
		name     string
		kind     keyKind
		prefixes []string
		want     []el
	}{
		{name: "empty", kind: keyV4},
		{name: "one", kind: keyV4, prefixes: []string{"10.99.0.0/24"},
			want: []el{{"0.0.0.0", true}, {"10.99.0.0", false}, {"10.99.1.0", true}}},
		{name: "unmasked_and_contained", kind: keyV4, prefixes: []string{"10.99.0.7/16", "10.99.3.0/24"},
			want: []el{{"0.0.0.0", true}, {"10.99.0.0", false}, {"10.100.0.0", true}}},
		{name: "adjacent_merged", kind: keyV4, prefixes: []string{"192.168.1.0/24", "192.168.0.0/24"},
			want: []el{{"0.0.0.0", true}, {"192.168.0.0", false}, {"192.168.2.0", true}}},
		{name: "disjoint_sorted", kind: keyV4, prefixes: []string{"192.168.0.0/16", "10.0.0.0/8"},
			want: []el{{"0.0.0.0", true}, {"10.0.0.0", false}, {"11.0.0.0", true}, {"192.168.0.0", false}, {"192.169.0.0", true}}},
		{name: "from_zero", kind: keyV4, prefixes: []string{"0.0.0.0/8"},
			want: []el{{"0.0.0.0", false}, {"1.0.0.0", true}}},
		{name: "to_the_top", kind: keyV6, prefixes: []string{"ff00::/8"},
			want: []el{{"::", true}, {"ff00::", false}}},
		{name: "v6", kind: keyV6, prefixes: []string{"fd99::/64"},
			want: []el{{"::", true}, {"fd99::", false}, {"fd99:0:0:1::", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []netip.Prefix
			for _, p := range tc.prefixes {
				ps = append(ps, netip.MustParsePrefix(p))
			}
			got := intervalElements(tc.kind, ps)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d elements %v, want %v", len(got), got, tc.want)
			}
			for i, e := range got {
				a, _ := netip.AddrFromSlice(e.Key)
				if a.String() != tc.want[i].key || e.IntervalEnd != tc.want[i].end {
					t.Errorf("element %d = %s end=%v, want %+v", i, a, e.IntervalEnd, tc.want[i])
				}
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		kind keyKind
		key  string
		wire []byte
	}{
		{keyMAC, "02:00:00:00:00:10", []byte{2, 0, 0, 0, 0, 0x10}},
		{keyV4, "10.99.0.10", []byte{10, 99, 0, 10}},
		{keyV6, "fd99::10", append([]byte{0xfd, 0x99}, append(make([]byte, 13), 0x10)...)},
	} {
		b, err := tc.kind.keyBytes(tc.key)
		if err != nil || !bytes.Equal(b, tc.wire) {
			t.Errorf("keyBytes(%s) = %x, %v; want %x (network order on every CPU)", tc.key, b, err, tc.wire)
		}
		if got, ok := tc.kind.keyText(tc.wire); !ok || got != tc.key {
			t.Errorf("keyText(%x) = %q, %v", tc.wire, got, ok)
		}
	}
	if _, ok := keyV4.keyText(make([]byte, 16)); ok {
		t.Error("a 16-byte key read as IPv4")
	}
}
