package netnstest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The pieces of a home network in namespaces that the quarantine's
// traffic lab and the OpenWrt fw4 zone test both build: hosts on a
// router's bridge, servers that name themselves, and clients that ask
// them from inside a namespace. Written once so that the two labs
// cannot drift apart in how a host is wired or an answer is read.

// Role is the role part of a name New made (prefix-PID-N-role), for
// messages.
func Role(ns string) string { return ns[strings.LastIndex(ns, "-")+1:] }

// NoDAD turns off duplicate address detection in each namespace for the
// interfaces created after it: their IPv6 addresses, link-local ones
// too, would otherwise be tentative, and IPv6 dead, for a second or two.
func NoDAD(t testing.TB, namespaces ...string) {
	t.Helper()
	for _, ns := range namespaces {
		CmdIn(t, ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad")
	}
}

// LANHost is a host on a router's bridge, for BridgeHost.
type LANHost struct {
	NS     string // the host's namespace
	Port   string // the router's end of the host's veth, a port of the bridge
	MAC    string // the host's eth0
	V4, V6 string // the host's addresses, in CIDR form
}

// BridgeHost plugs host h into bridge in namespace router as a device
// on a home router's LAN: a veth pair whose router end is a port of the
// bridge and whose host end is the host's eth0, with h's MAC and
// addresses (the IPv6 one without duplicate address detection), up, and
// default routes via gw4 and gw6, the router's addresses on the bridge.
func BridgeHost(t testing.TB, router, bridge string, h LANHost, gw4, gw6 string) {
	t.Helper()
	Cmd(t, "ip", "-n", router, "link", "add", h.Port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
	Cmd(t, "ip", "-n", router, "link", "set", h.Port, "master", bridge, "up")
	Cmd(t, "ip", "-n", h.NS, "link", "set", "eth0", "address", h.MAC, "up")
	Cmd(t, "ip", "-n", h.NS, "addr", "add", h.V4, "dev", "eth0")
	Cmd(t, "ip", "-n", h.NS, "addr", "add", h.V6, "dev", "eth0", "nodad")
	Cmd(t, "ip", "-n", h.NS, "route", "add", "default", "via", gw4)
	Cmd(t, "ip", "-n", h.NS, "-6", "route", "add", "default", "via", gw6)
}

// ServeName accepts TCP connections on addr in ns until the test ends
// and sends each the line name, so that a client (FetchLine) can tell
// which server it reached, whatever redirect took it there. seen, when
// not nil, is told each peer's address.
func ServeName(t testing.TB, ns, addr, name string, seen func(net.Addr)) {
	t.Helper()
	var ln net.Listener
	if err := Run(ns, func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if seen != nil {
				seen(c.RemoteAddr())
			}
			fmt.Fprintf(c, "%s\n", name)
			c.Close()
		}
	}()
}

// ServeDNS answers A queries over UDP and TCP on addr in ns with the
// address answer, other queries with no data, so that a client
// (QueryA) can tell which server answered, whatever redirect took the
// query there. seen, when not nil, is told each client's address. The
// returned stop closes both listeners; the test's end does too.
func ServeDNS(t testing.TB, ns, addr, answer string, seen func(net.Addr)) (stop func()) {
	t.Helper()
	ip := net.ParseIP(answer)
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		if seen != nil {
			seen(w.RemoteAddr())
		}
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Qtype == dns.TypeA {
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: ip}}
		}
		_ = w.WriteMsg(m)
	})
	var pc net.PacketConn
	var ln net.Listener
	err := Run(ns, func() (err error) {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen dns %s in %s: %v", addr, ns, err)
	}
	servers := []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}}
	for _, srv := range servers {
		go func() { _ = srv.ActivateAndServe() }()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			// Shutdown fails for a server not yet started; closing the
			// sockets stops it either way.
			for _, srv := range servers {
				_ = srv.Shutdown()
			}
			pc.Close()
			ln.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// Dial connects from namespace ns to address on network, as
// net.DialTimeout does (no timeout when it is 0); the connection may be
// used from any goroutine.
func Dial(ns, network, address string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := Run(ns, func() (err error) {
		c, err = net.DialTimeout(network, address, timeout)
		return err
	})
	return c, err
}

// Send sends payload in one write from namespace ns to address on
// network ("udp4", "tcp" …), and closes the socket.
func Send(ns, network, address string, payload []byte) error {
	return Run(ns, func() error {
		c, err := net.Dial(network, address)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(payload)
		return err
	})
}

// FetchLine connects over TCP from ns to address and returns the line
// the server sent (a ServeName server's name), without its line end;
// connecting and reading each take at most timeout.
func FetchLine(ns, address string, timeout time.Duration) (string, error) {
	c, err := Dial(ns, "tcp", address, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// QueryA asks over c, within timeout, for the A record of a name no
// server knows and returns the one address answered: a ServeDNS
// server's, which names it. An answer to another query, or with other
// than one A record, is an error.
func QueryA(c net.Conn, timeout time.Duration) (net.IP, error) {
	c.SetDeadline(time.Now().Add(timeout))
	conn := &dns.Conn{Conn: c}
	q := new(dns.Msg)
	q.SetQuestion("probe.example.test.", dns.TypeA)
	if err := conn.WriteMsg(q); err != nil {
		return nil, err
	}
	r, err := conn.ReadMsg()
	if err != nil {
		return nil, err
	}
	if len(r.Answer) != 1 || r.Id != q.Id {
		return nil, fmt.Errorf("answer %v", r)
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok {
		return nil, fmt.Errorf("answer %v", r.Answer[0])
	}
	return a.A, nil
}
