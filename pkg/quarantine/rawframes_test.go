package quarantine

import (
	"encoding/binary"
	"net"
	"net/netip"
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
	f := make([]byte, 14+20, 14+20+len(payload))
	copy(f[0:], dstMAC[:])
	copy(f[6:], srcMAC[:])
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_IP)
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
	if err := netnstest.Run(from, func() error {
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
