package inspect

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/iotgw/iotgw/pkg/capture"
)

// filterChainFrame is an Ethernet frame carrying an IPv6 packet whose
// headers after the fixed one are chain, by protocol number, ending in
// a UDP datagram (or, when the chain ends in a protocol other than UDP,
// eight bytes of it). A fragment header in the chain is a first fragment
// (offset 0, more to come); with nonFirst the last header is a fragment
// header at offset 1480 whose next header is next, followed by data.
func filterChainFrame(chain []IPProtocol, nonFirst bool, next IPProtocol) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0x10, 0x86, 0xdd}
	const l3 = 14
	first := next
	if len(chain) > 0 {
		first = chain[0]
	} else if nonFirst {
		first = IPProtocolFragment
	}
	b = append(b, 0x60, 0, 0, 0, 0, 0, byte(first), 64)
	b = append(b, []byte{0xfd, 0x98, 15: 0x10}...)
	b = append(b, []byte{0xfd, 0x98, 15: 0x01}...)
	for i, h := range chain {
		nh := next
		switch {
		case i+1 < len(chain):
			nh = chain[i+1]
		case nonFirst:
			nh = IPProtocolFragment
		}
		switch h {
		case IPProtocolHopByHop, IPProtocolRouting, IPProtocolDestOpts:
			b = append(b, byte(nh), 0, 1, 4, 0, 0, 0, 0)
		case IPProtocolFragment:
			b = append(b, byte(nh), 0, 0, 1, 0, 0, 0, 7)
		case IPProtocolUDP:
			b = append(b, 0x9c, 0x40, 0x27, 0x0f, 0, 12, 0, 0, 'd', 'a', 't', 'a')
		case IPProtocolTCP:
			b = append(b, 0x9c, 0x40, 0x27, 0x0f, 0, 0, 0, 1, 0, 0, 0, 0, 5<<4, 0x10, 2, 0, 0, 0, 0, 0)
		default:
			b = append(b, 0x80, 0, 0, 0, 0, 0, 0, 0)
		}
	}
	if nonFirst {
		b = append(b, byte(next), 0, 0x05, 0xc9, 0, 0, 0, 7) // offset 1480, more to come
		b = append(b, "rest of the datagram"...)
	}
	binary.BigEndian.PutUint16(b[l3+4:], uint16(len(b)-l3-40))
	return b
}

// TestFilterPassesWhatDecoderTakes holds the capture filter (every port)
// to the decoder over IPv6 header chains: a packet the decoder decodes as
// TCP or UDP, or holds as a fragment of a datagram it reassembles, passes
// the filter, and a packet the filter passes is one of those. The filter
// skips at most two extension headers before TCP, UDP or a fragment
// header; past that bound it drops what the decoder would take.
func TestFilterPassesWhatDecoderTakes(t *testing.T) {
	raw, err := capture.FilterFor(capture.PortSet{AllPayload: true})
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	vocab := []IPProtocol{IPProtocolHopByHop, IPProtocolRouting, IPProtocolDestOpts, IPProtocolFragment}
	ends := []IPProtocol{IPProtocolTCP, IPProtocolUDP, IPProtocolICMPv6, 59 /* no next header */}
	nexts := append(slices.Clone(vocab), IPProtocolTCP, IPProtocolUDP, IPProtocolICMPv6, 50 /* ESP */)
	type chainCase struct {
		chain    []IPProtocol
		nonFirst bool
		next     IPProtocol
	}
	var cases []chainCase
	prefixes := [][]IPProtocol{nil}
	for range 5 {
		var longer [][]IPProtocol
		for _, pre := range prefixes {
			for _, e := range ends {
				cases = append(cases, chainCase{chain: append(slices.Clone(pre), e)})
			}
			for _, n := range nexts {
				cases = append(cases, chainCase{chain: pre, nonFirst: true, next: n})
			}
			for _, v := range vocab {
				longer = append(longer, append(slices.Clone(pre), v))
			}
		}
		prefixes = longer
	}
	taken, passed := 0, 0
	for _, c := range cases {
		name := fmt.Sprintf("%v nonfirst %v next %d", c.chain, c.nonFirst, c.next)
		data := filterChainFrame(c.chain, c.nonFirst, c.next)
		n, err := vm.Run(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := NewDecoder()
		var p Packet
		d.Decode(data, capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: t0, Length: len(data), CaptureLength: len(data)}, &p)
		held := d.defrag != nil && d.defrag.inUse() > 0
		takes := p.Kind == KindTCP || p.Kind == KindUDP || held
		// Extension headers before TCP, UDP or the first fragment
		// header: what the filter has to skip.
		skipped := 0
		for _, h := range c.chain {
			if h != IPProtocolHopByHop && h != IPProtocolRouting && h != IPProtocolDestOpts {
				break
			}
			skipped++
		}
		switch {
		case n > 0 && !takes:
			t.Errorf("%s: the filter passes what the decoder leaves (%+v)", name, p)
		case n == 0 && takes && skipped <= 2:
			t.Errorf("%s: the filter drops what the decoder takes (kind %d, held %v)", name, p.Kind, held)
		}
		if takes {
			taken++
		}
		if n > 0 {
			passed++
		}
	}
	if taken == 0 || passed == 0 || taken == len(cases) {
		t.Fatalf("of %d chains the decoder took %d, the filter passed %d: the chains test nothing", len(cases), taken, passed)
	}
}
