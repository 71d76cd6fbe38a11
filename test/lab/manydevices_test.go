package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/api"
)

// Size of the crowd: the goal of issue 5 is RSS < 40 MB with 1,000
// devices and 100,000 flows.
const (
	crowdDevices = 1000
	crowdFlows   = 100 // per device
	crowdMaxFlow = 131072
)

// TestLabManyDevices measures the daemon's memory with a thousand
// devices and a hundred thousand connections: one namespace sends TCP
// SYNs from 1,000 made-up MACs and addresses, 100 source ports each. It
// asserts that the daemon survives and keeps its documented bounds
// (inspect.max_devices, inspect.max_flows), not the numbers, which
// docs/lab.md records.
func TestLabManyDevices(t *testing.T) {
	requireLab(t)
	crowd := host{role: "crowd", mac: "02:77:ff:ff:ff:01"}
	l := newLab(t, labOptions{tag: "m", devices: []host{crowd}})
	l.must("ip", "-n", l.ns("crowd"), "link", "set", "eth0", "up")
	bin := testenv.BuildDaemon(t, l.dir)
	cfg := l.writeFile("iotgw-crowd.toml", fmt.Sprintf(`[lan]
prefixes = [%q, "10.77.0.0/16"]

[inspect]
max_flows = %d
max_devices = 1024

[policy]
mode = "enforce"

[daemon]
socket = %q
router_addresses = [%q]

[capture]
mode = "afpacket"
interfaces = ["br-lan"]

[store]
path = %q
`, lanPrefix, crowdMaxFlow, l.path("iotgw.sock"), routerLAN, l.path("state.json")))
	d := l.newDaemon(bin, cfg)
	d.start(t)
	idle, err := readUsage(d.pid())
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	out, err := l.in("crowd", 3*time.Minute, "python3", l.path("bin/crowd.py"), "eth0",
		fmt.Sprint(crowdDevices), fmt.Sprint(crowdFlows))
	if err != nil {
		t.Fatalf("crowd.py: %v\n%s", err, out)
	}
	sendTime := time.Since(start)
	// Wait until the daemon has read what the ring holds (the count
	// stops growing), then read its numbers.
	var s api.Status
	var last uint64
	_ = poll(20*time.Second, 500*time.Millisecond, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		s, err = api.NewClient(d.socket).Status(ctx)
		done := err == nil && s.Packets == last
		last = s.Packets
		return done, ""
	})
	if err != nil {
		t.Fatalf("iotgw status: %v", err)
	}
	u, err := readUsage(d.pid())
	if err != nil {
		t.Fatalf("the daemon did not survive the crowd: %v\n%s", err, l.logs())
	}
	t.Logf("crowd.py: %s in %v", out, sendTime.Round(time.Millisecond))
	mib := func(kb int) float64 { return float64(kb) / 1024 }
	t.Logf("MEASURE many devices: %d devices and %d flows in the daemon after %d packets; RSS %.1f MiB (%.1f anonymous, %.1f mapped from files; peak %.1f MiB), when idle %.1f MiB (%.1f anonymous, %.1f from files), CPU %v",
		s.Devices, s.Flows, s.Packets, mib(u.rssKB), mib(u.anonKB), mib(u.fileKB), mib(u.hwmKB),
		mib(idle.rssKB), mib(idle.anonKB), mib(idle.fileKB), (u.cpu - idle.cpu).Round(10*time.Millisecond))
	if s.Devices == 0 || s.Devices > 1024 {
		t.Errorf("the daemon holds %d devices, want between 1 and max_devices (1024)", s.Devices)
	}
	if s.Flows == 0 || s.Flows > crowdMaxFlow {
		t.Errorf("the daemon holds %d flows, want between 1 and max_flows (%d)", s.Flows, crowdMaxFlow)
	}
}
