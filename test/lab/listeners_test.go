package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/api"
)

// dnsProxyPort is the DNS proxy's default port, which the lab's
// configuration keeps.
const dnsProxyPort = 5354

// TestLabListenersRetry: with the notice page's and the DNS proxy's
// ports taken when it starts, the daemon still comes up and enforces,
// shows each as a problem, and opens them once they are free.
func TestLabListenersRetry(t *testing.T) {
	requireLab(t)
	cam := homeDevices()[0]
	l := newLab(t, labOptions{tag: "r", devices: []host{cam}})
	var blockers []io.Closer
	defer func() {
		for _, b := range blockers {
			b.Close()
		}
	}()
	if err := netnstest.Run(l.ns("router"), func() error {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(routerLAN, strconv.Itoa(dnsProxyPort)))
		if err != nil {
			return err
		}
		blockers = append(blockers, udp)
		tcp, err := net.Listen("tcp", ":"+strconv.Itoa(noticePort))
		if err != nil {
			return err
		}
		blockers = append(blockers, tcp)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), l.daemonConfig("afpacket"))
	d.start(t)
	defer d.terminate()
	l.dhcp()

	c := api.NewClient(d.socket)
	problems := func() ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := c.Status(ctx)
		return s.Problems, err
	}
	has := func(ps []string, area string) bool {
		for _, p := range ps {
			if strings.HasPrefix(p, area+": ") {
				return true
			}
		}
		return false
	}
	if err := poll(10*time.Second, pollEvery, func() (bool, string) {
		ps, err := problems()
		if err != nil {
			return false, err.Error()
		}
		return has(ps, "dnsproxy") && has(ps, "notice"), fmt.Sprintf("problems %q, want dnsproxy and notice", ps)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.logs())
	}

	for _, b := range blockers {
		b.Close()
	}
	blockers = nil
	// The back-off doubles from 1 s to at most 30 s.
	if err := poll(45*time.Second, pollEvery, func() (bool, string) {
		ps, err := problems()
		if err != nil {
			return false, err.Error()
		}
		return !has(ps, "dnsproxy") && !has(ps, "notice"), fmt.Sprintf("problems %q once the ports are free", ps)
	}); err != nil {
		t.Fatalf("%v\n%s", err, l.logs())
	}
	code, _, err := l.httpGet(cam.role, fmt.Sprintf("http://%s:%d/", routerLAN, noticePort))
	if err != nil || code == 0 {
		t.Errorf("notice page after the retry: status %d, %v", code, err)
	}
	if !running(d.pid()) {
		t.Error("the daemon exited")
	}
}
