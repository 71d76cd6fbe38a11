package netwatch

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// leaseTest is a loop reading one lease file in a temporary directory.
type leaseTest struct {
	t     *testing.T
	path  string
	l     *loop
	clk   *fakeClock
	out   chan Event
	mtime time.Time
}

func newLeaseTest(t *testing.T, size int) *leaseTest {
	path := filepath.Join(t.TempDir(), "dhcp.leases")
	l, clk, out := testLoop(t, Config{LeaseFiles: []string{path}}, size)
	return &leaseTest{t: t, path: path, l: l, clk: clk, out: out, mtime: time.Unix(1700000000, 0)}
}

// write replaces the file and gives it a new modification time, as the
// DHCP servers do.
func (lt *leaseTest) write(content string) {
	lt.t.Helper()
	if err := os.WriteFile(lt.path, []byte(content), 0o644); err != nil {
		lt.t.Fatal(err)
	}
	lt.mtime = lt.mtime.Add(time.Second)
	if err := os.Chtimes(lt.path, lt.mtime, lt.mtime); err != nil {
		lt.t.Fatal(err)
	}
}

func (lt *leaseTest) poll() []Event {
	lt.l.pollLeases()
	return drain(lt.out)
}

// dnsmasqLine is a lease expiring after d on the fake clock.
func (lt *leaseTest) dnsmasqLine(mac, ip, host string, d time.Duration) string {
	return fmt.Sprintf("%d %s %s %s *\n", lt.clk.Now().Add(d).Unix(), mac, ip, host)
}

func TestLeaseFilePolling(t *testing.T) {
	lt := newLeaseTest(t, 16)
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("missing file: %+v", evs)
	}
	camLease := lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour)
	expired := lt.dnsmasqLine("00:12:34:56:78:9c", "10.97.0.12", "old", -time.Minute)
	lt.write(camLease + expired)
	evs := lt.poll()
	want := []Event{LeaseSeen{
		MAC: camMAC, IP: camIP, Hostname: "cam", Expires: lt.clk.Now().Add(12 * time.Hour).Truncate(time.Second),
		Time: lt.clk.Now(),
	}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("first read\n got %+v\nwant %+v", evs, want)
	}
	if lt.l.devices.get(camMAC) == nil {
		t.Fatal("leased device not tracked")
	}

	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("unchanged file: %+v", evs)
	}
	lt.write(camLease + expired)
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("file rewritten with the same leases: %+v", evs)
	}

	// Renewals keep the device present.
	for range 3 {
		lt.clk.Advance(20 * time.Minute)
		lt.write(lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour))
		evs := lt.poll()
		if len(evs) != 1 || evs[0].(LeaseSeen).MAC != camMAC {
			t.Fatalf("renewal: %+v", evs)
		}
		lt.l.checkAway()
		if evs := drain(lt.out); len(evs) != 0 {
			t.Fatalf("renewing device reported: %+v", evs)
		}
	}
	lt.clk.Advance(30 * time.Minute)
	lt.l.checkAway()
	if evs := drain(lt.out); len(evs) != 1 || evs[0].(DeviceAway).MAC != camMAC {
		t.Fatalf("after renewals stop: %+v", evs)
	}

	// The file goes (the DHCP server was switched off) and comes back.
	if err := os.Remove(lt.path); err != nil {
		t.Fatal(err)
	}
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("file removed: %+v", evs)
	}
	lt.write(lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour))
	if evs := lt.poll(); len(evs) != 1 {
		t.Fatalf("file back: %+v", evs)
	}
	if d := lt.l.devices.get(camMAC); d.away {
		t.Error("a lease written after the first read did not bring the device back")
	}
}

// TestLeaseJitterIsNoRenewal: odhcpd rewrites every lease whenever any
// client talks to it, and an unchanged lease's expiry may move by a
// second: that is no sign of life, or a device that left would stay
// present until its lease ran out.
func TestLeaseJitterIsNoRenewal(t *testing.T) {
	lt := newLeaseTest(t, 16)
	expires := lt.clk.Now().Add(12 * time.Hour)
	line := func(jitter time.Duration) string {
		return fmt.Sprintf("%d 00:12:34:56:78:9a 10.97.0.10 cam *\n", expires.Add(jitter).Unix())
	}
	lt.write(line(0))
	lt.poll()
	lt.l.handle(neigh(camMAC, camIP)) // a sign of life after the first read
	drain(lt.out)
	for i := range 8 {
		lt.clk.Advance(5 * time.Minute)
		lt.write(line(time.Duration(i%2) * time.Second))
		if evs := lt.poll(); len(evs) != 0 {
			t.Fatalf("rewrite %d with the expiry a second off: %+v", i, evs)
		}
		lt.l.checkAway()
		drain(lt.out)
	}
	if d := lt.l.devices.get(camMAC); d == nil || !d.away {
		t.Error("the camera, silent for 40 minutes, is not away")
	}
}

func TestLeaseFirstReadIsNoSignOfLife(t *testing.T) {
	// A lease in the file at start-up says nothing of when the device was
	// last there: it is tracked from start-up, not kept present.
	lt := newLeaseTest(t, 16)
	lt.l.handle(neigh(camMAC, camIP))
	lt.clk.Advance(20 * time.Minute)
	lt.write(lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour))
	if evs := lt.poll(); len(evs) != 2 {
		t.Fatalf("first read: %+v", evs)
	}
	lt.clk.Advance(10 * time.Minute)
	lt.l.checkAway()
	if evs := drain(lt.out); len(evs) != 1 {
		t.Fatalf("got %+v, want the camera away 30 min after its neighbour entry", evs)
	}
}

func TestLeaseDroppedIsSentAgain(t *testing.T) {
	lt := newLeaseTest(t, 1)
	lt.write(lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", time.Hour) +
		lt.dnsmasqLine("00:12:34:56:78:9b", "10.97.0.11", "plug", time.Hour))
	first := lt.poll()
	second := lt.poll() // file unchanged, but one lease was not delivered
	third := lt.poll()
	if len(first) != 1 || len(second) != 1 || len(third) != 0 {
		t.Fatalf("polls: %+v, %+v, %+v", first, second, third)
	}
	if first[0].(LeaseSeen).MAC == second[0].(LeaseSeen).MAC {
		t.Fatalf("the same lease twice: %+v %+v", first, second)
	}
	if got := lt.l.w.Stats().Dropped; got != 1 {
		t.Errorf("dropped %d, want 1", got)
	}
}

func TestLeaseFileTooLong(t *testing.T) {
	lt := newLeaseTest(t, 16)
	line := lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", time.Hour)
	filler := "# " + strings.Repeat("x", 200) + "\n"
	var b strings.Builder
	b.WriteString(line)
	for b.Len() < maxLeaseFile+1000 {
		b.WriteString(filler)
	}
	b.WriteString(lt.dnsmasqLine("00:12:34:56:78:9b", "10.97.0.11", "plug", time.Hour))
	lt.write(b.String())
	evs := lt.poll()
	if len(evs) != 1 || evs[0].(LeaseSeen).MAC != camMAC {
		t.Fatalf("got %+v, want the lease within the first megabyte only", evs)
	}
	st := lt.l.w.Stats()
	if st.LeasesTruncated != 1 || st.LeaseLinesSkipped == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLeaseFileUnreadable(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir() // a directory where a file is expected
	clk := newFakeClock()
	w, err := New(Config{LeaseFiles: []string{dir}}, withClock(clk),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Event, 4)
	l := newLoop(w, out)
	for range 3 {
		l.pollLeases()
	}
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("events %+v", evs)
	}
	if n := strings.Count(logs.String(), "cannot read lease file"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestLeaseODHCPDReplacedByRename(t *testing.T) {
	lt := newLeaseTest(t, 16)
	exp := lt.clk.Now().Add(time.Hour).Unix()
	lt.write(fmt.Sprintf("# br-lan 00123456789a ipv4 cam %d c0a8010a 32 10.97.0.10/32\n", exp))
	if evs := lt.poll(); len(evs) != 1 || evs[0].(LeaseSeen).Iface != "br-lan" {
		t.Fatalf("first: %+v", evs)
	}
	tmp := filepath.Join(filepath.Dir(lt.path), ".odhcpd.tmp")
	content := fmt.Sprintf("# br-lan 00123456789a ipv4 cam %d c0a8010a 32 10.97.0.20/32\n", exp)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, lt.path); err != nil {
		t.Fatal(err)
	}
	evs := lt.poll()
	if len(evs) != 1 || evs[0].(LeaseSeen).IP != netip.MustParseAddr("10.97.0.20") {
		t.Fatalf("after rename: %+v", evs)
	}
}

// TestLeaseFileMidRewrite: dnsmasq rewrites its file in place, so a poll
// can see part of it. A lease missing from that read and back unchanged
// in the next is no news: no second LeaseSeen, and no sign of life for a
// device that is away.
func TestLeaseFileMidRewrite(t *testing.T) {
	lt := newLeaseTest(t, 16)
	cam := lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour)
	plug := lt.dnsmasqLine("00:12:34:56:78:9b", "10.97.0.11", "plug", 12*time.Hour)
	lt.write(cam + plug)
	if evs := lt.poll(); len(evs) != 2 {
		t.Fatalf("first read: %+v", evs)
	}
	lt.clk.Advance(31 * time.Minute)
	lt.l.checkAway()
	if evs := drain(lt.out); len(evs) != 2 {
		t.Fatalf("want both away: %+v", evs)
	}
	lt.write(cam) // the rewrite, half done
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("half-written file: %+v", evs)
	}
	lt.write(cam + plug) // and done: nothing changed
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("rewritten file with the same leases: %+v", evs)
	}
	if d := lt.l.devices.get(plugMAC); d == nil || !d.away {
		t.Error("the plug came back from a rewrite of its unchanged lease")
	}
}

// A file the server rewrites while it is being read is not taken: what
// was read may be half old, half new. The next poll reads it whole.
func TestLeaseFileChangedWhileRead(t *testing.T) {
	lt := newLeaseTest(t, 16)
	cam := lt.dnsmasqLine("00:12:34:56:78:9a", "10.97.0.10", "cam", 12*time.Hour)
	plug := lt.dnsmasqLine("00:12:34:56:78:9b", "10.97.0.11", "plug", 12*time.Hour)
	lt.write(cam)
	rewrites := 1
	lt.l.readFile = func(path string, max int64) ([]byte, error) {
		data, err := readBounded(path, max)
		if rewrites > 0 {
			rewrites--
			lt.write(cam + plug) // the server writes while we read
		}
		return data, err
	}
	if evs := lt.poll(); len(evs) != 0 {
		t.Fatalf("a file that changed while read was taken: %+v", evs)
	}
	evs := lt.poll()
	if len(evs) != 2 {
		t.Fatalf("the next poll: %+v, want both leases", evs)
	}
}
