package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/store"
)

// TestLabSignals: the signals procd sends at the edges of the daemon's
// life. A SIGHUP that comes while the daemon still reads its
// configuration (procd's reload triggers fire around boot) waits and
// reloads it once it runs, instead of killing it; on SIGTERM what the
// daemon saw last reaches the state file.
func TestLabSignals(t *testing.T) {
	requireLab(t)
	cam := homeDevices()[0]
	l := newLab(t, labOptions{tag: "s", devices: []host{cam}})
	conf, err := os.ReadFile(l.daemonConfig("afpacket"))
	if err != nil {
		t.Fatal(err)
	}
	// The configuration is a FIFO: the daemon's reads of it wait for the
	// test, which so knows when the daemon is reading it.
	fifo := l.path("iotgw-fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	d := l.newDaemon(testenv.BuildDaemon(t, l.dir), fifo)
	d.spawn(t)

	if !t.Run("early_sighup_waits_for_the_daemon", func(t *testing.T) {
		w, err := openFIFOWriter(fifo)
		if err != nil {
			t.Fatalf("the daemon never read its configuration: %v\n%s", err, l.logs())
		}
		// The daemon is inside its first read of the configuration.
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		_, err = w.Write(conf)
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		d.waitUp(t)

		// The held SIGHUP reloads: the daemon reads the configuration
		// again, and takes its new policy mode.
		w, err = openFIFOWriter(fifo)
		if err != nil {
			t.Fatalf("no reload read the configuration: %v\n%s", err, l.logs())
		}
		monitor := strings.Replace(string(conf), `mode = "enforce"`, `mode = "monitor"`, 1)
		_, err = w.Write([]byte(monitor))
		w.Close()
		if err != nil {
			t.Fatal(err)
		}
		c := api.NewClient(d.socket)
		if err := poll(10*time.Second, pollEvery, func() (bool, string) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			s, err := c.Status(ctx)
			if err != nil {
				return false, err.Error()
			}
			return s.Mode == "monitor", fmt.Sprintf("policy mode %q after the reload, want monitor", s.Mode)
		}); err != nil {
			t.Fatalf("%v\n%s", err, l.logs())
		}
	}) {
		return // a daemon that did not come up has nothing to write
	}

	l.dhcp()
	t.Run("last_sighting_written_at_stop", func(t *testing.T) {
		sent := time.Now()
		if err := l.ping(cam.role, routerLAN); err != nil {
			t.Fatal(err)
		}
		// The capture hands over frames in blocks: stop only once the
		// daemon has the ping.
		if err := poll(10*time.Second, 20*time.Millisecond, func() (bool, string) {
			dev, err := d.device(cam.mac)
			return err == nil && !dev.LastSeen.Before(sent), fmt.Sprintf("camera last seen %v (%v)", dev.LastSeen, err)
		}); err != nil {
			t.Fatalf("the daemon never saw the camera's ping at %v: %v\n%s", sent, err, l.logs())
		}
		code, err := d.terminate()
		if err != nil || code != 0 {
			t.Fatalf("SIGTERM: exit status %d, %v\n%s", code, err, l.logs())
		}
		st := store.Open(store.Options{Path: l.path("state.json")})
		for _, rec := range st.Snapshot().Devices {
			if rec.MAC.String() != cam.mac {
				continue
			}
			if rec.LastSeen.Before(sent) {
				t.Errorf("the state file has the camera last seen at %v, before its ping at %v", rec.LastSeen, sent)
			}
			return
		}
		t.Errorf("the camera is not in the state file\n%s", l.logs())
	})
}

// openFIFOWriter waits until a reader has the FIFO at path open and
// returns its writing end.
func openFIFOWriter(path string) (*os.File, error) {
	var w *os.File
	err := poll(20*time.Second, 10*time.Millisecond, func() (bool, string) {
		var err error
		// Non-blocking: without a reader the open fails (ENXIO) rather
		// than waits, so that a daemon that never reads cannot hang the
		// test.
		w, err = os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		return err == nil, fmt.Sprint(err)
	})
	return w, err
}
