package quarantine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// ownerAwayMAC is a protected device of the owner's that is not on the
// lab's LAN: a quarantined device copies its MAC.
var ownerAwayMAC = mustMAC("02:00:00:00:00:31")

// transport returns the transport bytes of an unfragmented IPv4 frame,
// or of an IPv6 frame without extension headers, with protocol proto;
// nil for any other frame.
func transport(frame []byte, proto byte) []byte {
	if p := ipv4Payload(frame, proto); p != nil {
		return p
	}
	if len(frame) < 14+40 || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_IPV6 || frame[14+6] != proto {
		return nil
	}
	return frame[14+40:]
}

// ipFrame is an IPv4 or IPv6 frame, by the family of src, carrying the
// transport bytes d of protocol proto.
func ipFrame(dstMAC, srcMAC hwaddr.MAC, src, dst netip.Addr, proto byte, id uint16, d []byte) []byte {
	if src.Is4() {
		return ipv4Frame(dstMAC, srcMAC, src, dst, proto, id, 0, false, d)
	}
	return ipv6Frame(dstMAC, srcMAC, src, dst, proto, d)
}

// TestOwnerMACCopiedToRouterAndLAN: a quarantined device that sends
// frames from a protected MAC and its own address is held to its mode by
// that address on the router and in the bridge. Without it, one copied
// frame per query would reach the router's resolver past the redirect
// to the DNS proxy (a DNS tunnel), and copied frames the router's other
// services and the LAN peers its mode cuts it from (or, isolated, their
// resolvers). Each is reached while the device is free.
func TestOwnerMACCopiedToRouterAndLAN(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	l.serveUDP(t, l.router, "[::]:5001")      // a service of the router's that limited does not open
	routerMAC := mustMAC("02:00:00:00:00:fe") // br0's, as newLab sets it
	n, err := NewNFTables(labRules(), WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetProtected(ctx, []hwaddr.MAC{ownerAwayMAC}, nil); err != nil {
		t.Fatal(err)
	}
	sport := uint16(43000)
	// send sends one UDP datagram from the device's address src with the
	// copied MAC and reports whether a frame holding its marker, not the
	// one sent, arrived at the namespace at; the marker is the payload,
	// or with query a DNS query for a name holding it. answer, if set,
	// is given that frame.
	send := func(dstMAC hwaddr.MAC, src, dst netip.Addr, dport uint16, query bool, at string, answer func([]byte)) bool {
		sport++
		marker := fmt.Sprintf("iotgw-owner-%d", sport)
		payload := marker
		if query {
			m := new(dns.Msg)
			m.SetQuestion(marker+".example.", dns.TypeA)
			m.Id = sport
			packed, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			payload = string(packed)
		}
		frame := ipFrame(dstMAC, ownerAwayMAC, src, dst, unix.IPPROTO_UDP, sport, udpSummed(src, dst, sport, dport, payload))
		return sendSeeing(t, l.device, [][]byte{frame}, at, func(f []byte) bool {
			if bytes.Equal(f[6:12], ownerAwayMAC[:]) || !bytes.Contains(f, []byte(marker)) {
				return false
			}
			if answer != nil {
				answer(f)
			}
			return true
		})
	}
	// resolver names the server that answered a query for the router's
	// port 53, "" for none.
	resolver := func(src, router netip.Addr) string {
		var name string
		send(routerMAC, src, router, 53, true, l.device, func(f []byte) {
			d := transport(f, unix.IPPROTO_UDP)
			var m dns.Msg
			if len(d) < 8 || m.Unpack(d[8:]) != nil || len(m.Answer) == 0 {
				return
			}
			if a, ok := m.Answer[0].(*dns.A); ok {
				name = dnsServerNames[a.A.String()]
			}
		})
		return name
	}
	// noticed reports whether a SYN to port 80 of an address where
	// nothing listens got a SYN-ACK: the notice page's, redirected.
	noticed := func(src, dst netip.Addr) bool {
		sport++
		frame := ipFrame(routerMAC, ownerAwayMAC, src, dst, unix.IPPROTO_TCP, sport, tcpSYN(src, dst, sport, 80))
		return sendSeeing(t, l.device, [][]byte{frame}, l.device, func(f []byte) bool {
			seg := transport(f, unix.IPPROTO_TCP)
			return len(seg) >= 20 && binary.BigEndian.Uint16(seg[2:]) == sport && seg[13] == 0x12
		})
	}
	for _, tc := range []struct {
		stage    string
		mode     Mode   // "": not quarantined
		service  bool   // the router's UDP echo answers
		resolver string // who answers DNS sent to the router
		notice   bool   // plain HTTP goes to the notice page
		peer     bool   // a datagram crosses the bridge to the peer
		peerDNS  bool   // a query crosses the bridge to the peer
	}{
		{stage: "free", service: true, resolver: "dnsmasq", peer: true, peerDNS: true},
		{stage: "block", mode: ModeBlock, resolver: "proxy", notice: true},
		{stage: "updates-only", mode: ModeUpdatesOnly, resolver: "proxy", notice: true},
		{stage: "isolate", mode: ModeIsolate, resolver: "proxy", peer: true},
	} {
		if tc.mode == "" {
			if err := n.Release(ctx, deviceMAC); err != nil {
				t.Fatal(err)
			}
		} else if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: tc.mode}); err != nil {
			t.Fatal(err)
		}
		for _, fam := range []struct{ name, device, router, peer, nowhere string }{
			{"IPv4", deviceV4, routerV4, peerV4, serverV4},
			{"IPv6", deviceV6, routerV6, peerV6, "2001:2::4"},
		} {
			dev, router, peer := netip.MustParseAddr(fam.device), netip.MustParseAddr(fam.router), netip.MustParseAddr(fam.peer)
			if got := send(routerMAC, dev, router, 5001, false, l.device, nil); got != tc.service {
				t.Errorf("%s, %s: the router's service answered %v, want %v", tc.stage, fam.name, got, tc.service)
			}
			if got := resolver(dev, router); got != tc.resolver {
				t.Errorf("%s, %s: DNS to the router answered by %q, want %q", tc.stage, fam.name, got, tc.resolver)
			}
			if got := noticed(dev, netip.MustParseAddr(fam.nowhere)); got != tc.notice {
				t.Errorf("%s, %s: HTTP answered by the notice page %v, want %v", tc.stage, fam.name, got, tc.notice)
			}
			if got := send(peerMAC, dev, peer, 5000, false, l.peer, nil); got != tc.peer {
				t.Errorf("%s, %s: datagram reached the peer %v, want %v", tc.stage, fam.name, got, tc.peer)
			}
			if got := send(peerMAC, dev, peer, 53, true, l.peer, nil); got != tc.peerDNS {
				t.Errorf("%s, %s: query reached the peer %v, want %v", tc.stage, fam.name, got, tc.peerDNS)
			}
		}
	}
}
