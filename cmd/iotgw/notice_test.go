package main

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// The notice page answers distrusted devices: a header flood is refused
// and idle connections beyond maxNoticeConns wait in the backlog instead
// of each holding memory in the daemon.
func TestNoticeServerLimits(t *testing.T) {
	addr := startNotice(t)
	url := "http://" + addr + "/"
	get := func(timeout time.Duration, header string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if header != "" {
			req.Header.Set("X-Flood", header)
		}
		c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
		return c.Do(req)
	}
	resp, err := get(10*time.Second, strings.Repeat("a", 8<<10))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("8 KiB of headers: status %d, want 431", resp.StatusCode)
	}

	idle := testenv.HoldConns(t, addr, maxNoticeConns, maxNoticeConnsPerSource)
	// Every slot is held: the next request is not served while they stay.
	if resp, err := get(500*time.Millisecond, ""); err == nil {
		resp.Body.Close()
		t.Fatalf("request %d served while %d connections were open", maxNoticeConns+1, maxNoticeConns)
	}
	// Well within the 5 s header timeout that frees slots by itself.
	idle[0].Close()
	resp, err = get(2*time.Second, "")
	if err != nil {
		t.Fatalf("a freed slot did not serve the next request: %v", err)
	}
	resp.Body.Close()
}

// One quarantined device cannot hold every slot of the notice page.
func TestNoticeServerSharesPerSource(t *testing.T) {
	addr := startNotice(t)
	held := testenv.HoldConns(t, addr, maxNoticeConnsPerSource+1, maxNoticeConnsPerSource+1) // all from one address
	testenv.ExpectRefused(t, held[maxNoticeConnsPerSource], []byte("GET / HTTP/1.0\r\n\r\n"), "a connection beyond one device's share")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("another device was not served: %v", err)
	}
	resp.Body.Close()
}

// A quarantined device that gives itself more addresses gets at most half
// the notice page's slots: each address holds its share, and the
// addresses its MAC holds half the total together. The loopback sources
// 127.0.0.2 to .6 are seen as the LAN clients 192.168.1.2 to .6, which
// the neighbour table says are one device.
func TestNoticeServerSharesPerDevice(t *testing.T) {
	device := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x0a}
	addr := startNoticeWith(t, func(netip.Addr) bool { return true }, func(a netip.Addr) (hwaddr.MAC, bool) {
		return device, netip.MustParsePrefix("192.168.1.0/24").Contains(a) && a != netip.MustParseAddr("192.168.1.1")
	})
	// 127.0.0.2 to .5, a share each: half of the slots.
	testenv.HoldConns(t, addr, maxNoticeConns/2, maxNoticeConnsPerSource)
	for _, src := range []struct {
		ip   net.IP
		what string
	}{
		{net.IPv4(127, 0, 0, 5), "a connection beyond one address's share"},
		{net.IPv4(127, 0, 0, 6), "a connection from a fifth address of a device holding half"},
	} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.ip}}
		extra, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		testenv.ExpectRefused(t, extra, []byte("GET / HTTP/1.0\r\n\r\n"), src.what)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("another device was not served: %v", err)
	}
	resp.Body.Close()
}

// Only neighbours on the LAN are served: another source's connection is
// closed unanswered.
func TestNoticeServesOnlyTheLAN(t *testing.T) {
	addr := startNoticeFrom(t, func(netip.Addr) bool { return false })
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	testenv.ExpectRefused(t, conn, []byte("GET / HTTP/1.0\r\n\r\n"), "a connection from off the LAN")
	allowed := startNoticeFrom(t, func(a netip.Addr) bool { return a == netip.MustParseAddr("192.168.1.1") })
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + allowed + "/")
	if err != nil {
		t.Fatalf("a LAN client was not served: %v", err)
	}
	resp.Body.Close()
}

// startNotice serves a stand-in notice page on loopback until the test
// ends, to every client.
func startNotice(t *testing.T) string {
	t.Helper()
	return startNoticeFrom(t, func(netip.Addr) bool { return true })
}

// startNoticeFrom is startNotice serving the clients fromLAN admits.
func startNoticeFrom(t *testing.T, fromLAN func(netip.Addr) bool) string {
	t.Helper()
	return startNoticeWith(t, fromLAN, nil)
}

// startNoticeWith is startNoticeFrom with holderOf for the shares. The
// page sees its loopback clients 127.0.0.N as LAN clients 192.168.1.N
// (testenv.LANView).
func startNoticeWith(t *testing.T, fromLAN func(netip.Addr) bool, holderOf func(netip.Addr) (hwaddr.MAC, bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serveNotice(ctx, testenv.LANView(ln), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("quarantined")) }), fromLAN, holderOf)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveNotice: %v", err)
		}
	})
	return ln.Addr().String()
}
