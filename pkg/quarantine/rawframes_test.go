package quarantine

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Hand-built frames for what a well-behaved stack never sends: a SYN cut
// into fragments that hide its flags, an ICMP timestamp request, a frame
// from a MAC that is not the sender's.

func inetChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ethernetFrame is an Ethernet header of the given type followed by n
// zero bytes for the next header, with room for a payload after them.
func ethernetFrame(dstMAC, srcMAC hwaddr.MAC, etherType uint16, n, room int) []byte {
	f := make([]byte, 14+n, 14+n+room)
	copy(f[0:], dstMAC[:])
	copy(f[6:], srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], etherType)
	return f
}

// tcpSYN is a 20-byte SYN from src:sport to dst:dport, checksummed.
func tcpSYN(src, dst netip.Addr, sport, dport uint16) []byte {
	seg := make([]byte, 20)
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], 1000)
	seg[12], seg[13] = 5<<4, 0x02
	binary.BigEndian.PutUint16(seg[14:], 65535)
	pseudo := append(append(src.AsSlice(), dst.AsSlice()...), 0, unix.IPPROTO_TCP, 0, byte(len(seg)))
	binary.BigEndian.PutUint16(seg[16:], inetChecksum(append(pseudo, seg...)))
	return seg
}

// icmpTimestamp is an ICMP timestamp request (type 13).
func icmpTimestamp() []byte {
	m := make([]byte, 20)
	m[0] = 13
	binary.BigEndian.PutUint16(m[4:], 0x1d1d)
	binary.BigEndian.PutUint16(m[2:], inetChecksum(m))
	return m
}

// ipv4Frame wraps payload in an IPv4 header (fragment offset in 8-byte
// units, more fragments) and an Ethernet header.
func ipv4Frame(dstMAC, srcMAC hwaddr.MAC, src, dst netip.Addr, proto byte, id, offset uint16, more bool, payload []byte) []byte {
	f := ethernetFrame(dstMAC, srcMAC, unix.ETH_P_IP, 20, len(payload))
	h := f[14:]
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	frag := offset
	if more {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], src.AsSlice())
	copy(h[16:], dst.AsSlice())
	binary.BigEndian.PutUint16(h[10:], inetChecksum(h[:20]))
	return append(f, payload...)
}

// ipv6Frame wraps payload in an IPv6 header (next header proto) and an
// Ethernet header.
func ipv6Frame(dstMAC, srcMAC hwaddr.MAC, src, dst netip.Addr, proto byte, payload []byte) []byte {
	f := ethernetFrame(dstMAC, srcMAC, unix.ETH_P_IPV6, 40, len(payload))
	h := f[14:]
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = proto, 64
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	return append(f, payload...)
}

// tcpAckWith is a TCP segment with PSH and ACK set carrying payload, as a
// connection's data would be; its checksum is left stale (no rule, nor
// the bridge, checks it).
func tcpAckWith(src, dst netip.Addr, sport, dport uint16, payload string) []byte {
	seg := tcpSYN(src, dst, sport, dport)
	seg[13] = 0x18 // PSH|ACK
	return append(seg, payload...)
}

// ipv4Payload returns the transport bytes of an unfragmented IPv4 frame
// with protocol proto, or nil.
func ipv4Payload(frame []byte, proto byte) []byte {
	if len(frame) < 34 || binary.BigEndian.Uint16(frame[12:]) != unix.ETH_P_IP {
		return nil
	}
	h := frame[14:]
	ihl := int(h[0]&0x0f) * 4
	if h[9] != proto || ihl < 20 || len(h) < ihl || binary.BigEndian.Uint16(h[6:])&0x3fff != 0 {
		return nil
	}
	return h[ihl:]
}

// sendSeeing sends frames out of eth0 in the namespace from and reports
// whether a frame for which want holds arrived at eth0 in the namespace
// at within a second and a half.
func sendSeeing(t *testing.T, from string, frames [][]byte, at string, want func(frame []byte) bool) bool {
	t.Helper()
	htons := func(v uint16) uint16 { return v<<8 | v>>8 }
	var rfd int
	if err := netnstest.Run(at, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if rfd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL))); err != nil {
			return err
		}
		return unix.Bind(rfd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	sendFrames(t, from, frames)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(rfd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(rfd, buf, 0)
		if err == nil && want(buf[:n]) {
			return true
		}
	}
	return false
}

// sendFrames sends whole Ethernet frames out of eth0 in the namespace ns.
func sendFrames(t *testing.T, ns string, frames [][]byte) {
	t.Helper()
	if err := netnstest.Run(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		sfd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(sfd)
		for _, f := range frames {
			if err := unix.Sendto(sfd, f, 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// openings probes the peer from the device with what a quarantine must
// stop and reports what got through: a SYN cut into fragments (its flags
// in the second) answered with a SYN-ACK, and an ICMP timestamp request
// answered.
func (l *lab) openings(t *testing.T, sport uint16) (fragmentedSYN, timestamp bool) {
	t.Helper()
	src, dst := netip.MustParseAddr(deviceV4), netip.MustParseAddr(peerV4)
	seg := tcpSYN(src, dst, sport, 443)
	frames := [][]byte{
		ipv4Frame(peerMAC, deviceMAC, src, dst, unix.IPPROTO_TCP, sport, 0, true, seg[:8]),
		ipv4Frame(peerMAC, deviceMAC, src, dst, unix.IPPROTO_TCP, sport, 1, false, seg[8:]),
	}
	fragmentedSYN = sendSeeing(t, l.device, frames, l.device, func(f []byte) bool {
		tcp := ipv4Payload(f, unix.IPPROTO_TCP)
		return len(tcp) >= 14 && binary.BigEndian.Uint16(tcp[2:]) == sport && tcp[13]&0x12 == 0x12
	})
	ts := [][]byte{ipv4Frame(peerMAC, deviceMAC, src, dst, unix.IPPROTO_ICMP, sport+1, 0, false, icmpTimestamp())}
	timestamp = sendSeeing(t, l.device, ts, l.device, func(f []byte) bool {
		icmp := ipv4Payload(f, unix.IPPROTO_ICMP)
		return len(icmp) >= 8 && icmp[0] == 14 && binary.BigEndian.Uint16(icmp[4:]) == 0x1d1d
	})
	return fragmentedSYN, timestamp
}

// synArrives sends a SYN to port 443 from srcMAC and src to the peer's
// MAC and dst, and reports whether it reached the peer's interface.
func (l *lab) synArrives(t *testing.T, srcMAC hwaddr.MAC, src, dst string, sport uint16) bool {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	frames := [][]byte{ipv4Frame(peerMAC, srcMAC, s, d, unix.IPPROTO_TCP, sport, 0, false, tcpSYN(s, d, sport, 443))}
	return sendSeeing(t, l.device, frames, l.peer, func(f []byte) bool {
		tcp := ipv4Payload(f, unix.IPPROTO_TCP)
		return len(tcp) >= 14 && binary.BigEndian.Uint16(tcp[0:]) == sport && tcp[13]&0x12 == 0x02
	})
}

// arpReply is an ARP reply frame from srcMAC saying that ip is at srcMAC,
// sent to dstMAC (dstIP).
func arpReply(dstMAC, srcMAC hwaddr.MAC, ip, dstIP netip.Addr) []byte {
	f := ethernetFrame(dstMAC, srcMAC, unix.ETH_P_ARP, 28, 0)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:], 1) // Ethernet
	binary.BigEndian.PutUint16(a[2:], unix.ETH_P_IP)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 2) // reply
	copy(a[8:], srcMAC[:])
	copy(a[14:], ip.AsSlice())
	copy(a[18:], dstMAC[:])
	copy(a[24:], dstIP.AsSlice())
	return f
}

// udpDatagram is a UDP header and payload without a checksum (allowed
// over IPv4).
func udpDatagram(sport, dport uint16, payload string) []byte {
	d := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(d[0:], sport)
	binary.BigEndian.PutUint16(d[2:], dport)
	binary.BigEndian.PutUint16(d[4:], uint16(8+len(payload)))
	return append(d, payload...)
}

// doubleTagged puts two 802.1Q tags of VLAN 0 (priority tags) in front of
// an Ethernet frame's type.
func doubleTagged(frame []byte) []byte {
	out := append([]byte(nil), frame[:12]...)
	out = append(out, 0x81, 0x00, 0, 0, 0x81, 0x00, 0, 0)
	return append(out, frame[12:]...)
}

// misleads tries what a quarantined device must not do to the peer and
// reports what got through: a SYN behind two VLAN tags answered, an ARP
// reply claiming the router's address taken into the peer's neighbour
// table, and an answer to the peer's broadcast (as a rogue DHCP server
// would give) reaching it.
func (l *lab) misleads(t *testing.T, sport uint16) (tagged, arp, broadcast bool) {
	t.Helper()
	dev, peer := netip.MustParseAddr(deviceV4), netip.MustParseAddr(peerV4)
	syn := ipv4Frame(peerMAC, deviceMAC, dev, peer, unix.IPPROTO_TCP, sport, 0, false, tcpSYN(dev, peer, sport, 443))
	tagged = sendSeeing(t, l.device, [][]byte{doubleTagged(syn)}, l.device, func(f []byte) bool {
		tcp := ipv4Payload(f, unix.IPPROTO_TCP)
		return len(tcp) >= 14 && binary.BigEndian.Uint16(tcp[2:]) == sport && tcp[13]&0x12 == 0x12
	})

	// The peer knows the router's address first, as it would, and takes
	// a new answer at once (not only a second after the last: locktime).
	netnstest.CmdIn(t, l.peer, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/neigh/eth0/locktime")
	if err := ping(l.peer, routerV4); err != nil {
		t.Fatalf("peer cannot reach the router: %v", err)
	}
	router := netip.MustParseAddr(routerV4)
	// Seen at the peer's interface first: its ARP code runs as the frame
	// arrives, the table is read after.
	arrived := sendSeeing(t, l.device, [][]byte{arpReply(peerMAC, deviceMAC, router, peer)}, l.peer, func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == unix.ETH_P_ARP && f[21] == 2 && hwaddr.FromBytes(f[6:12]) == deviceMAC
	})
	arp = arrived && strings.Contains(netnstest.CmdIn(t, l.peer, "ip", "neigh", "show", routerV4), deviceMAC.String())
	netnstest.CmdIn(t, l.peer, "ip", "neigh", "flush", routerV4)

	// The peer broadcasts (a DHCP discover), the device answers from the
	// broadcast address.
	bcast := netip.MustParseAddr("255.255.255.255")
	all := mustMAC("ff:ff:ff:ff:ff:ff")
	discover := ipv4Frame(all, peerMAC, peer, bcast, unix.IPPROTO_UDP, sport+1, 0, false, udpDatagram(68, 67, "discover"))
	sendFrames(t, l.peer, [][]byte{discover})
	offer := ipv4Frame(peerMAC, deviceMAC, bcast, peer, unix.IPPROTO_UDP, sport+2, 0, false, udpDatagram(67, 68, "iotgw-offer"))
	broadcast = sendSeeing(t, l.device, [][]byte{offer}, l.peer, func(f []byte) bool {
		return strings.Contains(string(ipv4Payload(f, unix.IPPROTO_UDP)), "iotgw-offer")
	})
	return tagged, arp, broadcast
}

// neighborDiscovery is a neighbour solicitation (typ 135: src asks for
// target, with its own link-layer address) or an unsolicited advert (136,
// override set: target is at srcMAC) from srcMAC and src to dstMAC and dst.
func neighborDiscovery(typ byte, dstMAC, srcMAC hwaddr.MAC, src, dst, target netip.Addr) []byte {
	msg := make([]byte, 32)
	msg[0] = typ
	option := byte(1) // source link-layer address
	if typ == 136 {
		msg[4], option = 0x20, 2 // override; target link-layer address
	}
	copy(msg[8:], target.AsSlice())
	msg[24], msg[25] = option, 1 // 8 bytes
	copy(msg[26:], srcMAC[:])
	pseudo := append(append(src.AsSlice(), dst.AsSlice()...), 0, 0, 0, byte(len(msg)), 0, 0, 0, unix.IPPROTO_ICMPV6)
	binary.BigEndian.PutUint16(msg[2:], inetChecksum(append(pseudo, msg...)))

	f := ethernetFrame(dstMAC, srcMAC, unix.ETH_P_IPV6, 40, len(msg))
	h := f[14:]
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(msg)))
	h[6], h[7] = unix.IPPROTO_ICMPV6, 255 // neighbour discovery needs hop limit 255
	copy(h[8:], src.AsSlice())
	copy(h[24:], dst.AsSlice())
	return append(f, msg...)
}

// neighbourTaken sends the peer, from the device, a solicitation from the
// router's IPv6 address and an advert claiming it, and reports whether
// the peer took either (its entry for the router names the device).
func (l *lab) neighbourTaken(t *testing.T) (solicit, advert bool) {
	t.Helper()
	router, dev, peer := netip.MustParseAddr(routerV6), netip.MustParseAddr(deviceV6), netip.MustParseAddr(peerV6)
	try := func(typ byte, frame []byte) bool {
		if err := ping(l.peer, routerV6); err != nil {
			t.Fatalf("peer cannot reach the router: %v", err)
		}
		arrived := sendSeeing(t, l.device, [][]byte{frame}, l.peer, func(f []byte) bool {
			return len(f) > 14+40 && binary.BigEndian.Uint16(f[12:]) == unix.ETH_P_IPV6 && f[14+40] == typ && hwaddr.FromBytes(f[6:12]) == deviceMAC
		})
		taken := arrived && strings.Contains(netnstest.CmdIn(t, l.peer, "ip", "-6", "neigh", "show", routerV6), deviceMAC.String())
		netnstest.CmdIn(t, l.peer, "ip", "-6", "neigh", "flush", routerV6)
		return taken
	}
	solicit = try(135, neighborDiscovery(135, peerMAC, deviceMAC, router, peer, peer))
	advert = try(136, neighborDiscovery(136, peerMAC, deviceMAC, dev, peer, router))
	return solicit, advert
}

// Another quarantined device's identity, with no host behind it.
var (
	otherMAC           = mustMAC("02:00:00:00:00:20")
	otherV4, otherV6   = "10.99.0.20", "fd99::20"
	otherQuarantinedAt = Entry{MAC: otherMAC, Addrs: addrs(otherV4, otherV6), Mode: ModeBlock}
)

// claimsOthers sends the peer, from the device, an ARP reply and a
// neighbour advert claiming the other quarantined device's addresses, and
// reports whether the peer took either. The peer knows the other device
// first (stale), as it would after talking to it.
func (l *lab) claimsOthers(t *testing.T) (arp, advert bool) {
	t.Helper()
	dev, peer := netip.MustParseAddr(deviceV6), netip.MustParseAddr(peerV6)
	try := func(ip string, frame []byte, isIt func([]byte) bool) bool {
		netnstest.CmdIn(t, l.peer, "ip", "neigh", "replace", ip, "lladdr", otherMAC.String(), "dev", "eth0", "nud", "stale")
		arrived := sendSeeing(t, l.device, [][]byte{frame}, l.peer, func(f []byte) bool {
			return hwaddr.FromBytes(f[6:12]) == deviceMAC && isIt(f)
		})
		taken := arrived && strings.Contains(netnstest.CmdIn(t, l.peer, "ip", "neigh", "show", ip), deviceMAC.String())
		netnstest.CmdIn(t, l.peer, "ip", "neigh", "del", ip, "dev", "eth0")
		return taken
	}
	arp = try(otherV4, arpReply(peerMAC, deviceMAC, netip.MustParseAddr(otherV4), netip.MustParseAddr(peerV4)), func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == unix.ETH_P_ARP
	})
	advert = try(otherV6, neighborDiscovery(136, peerMAC, deviceMAC, dev, peer, netip.MustParseAddr(otherV6)), func(f []byte) bool {
		return len(f) > 14+40 && binary.BigEndian.Uint16(f[12:]) == unix.ETH_P_IPV6 && f[14+40] == 136
	})
	return arp, advert
}
