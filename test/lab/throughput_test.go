package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/api"
)

// bulkPort is the port of the bulk transfer: HTTP's, so that the afpacket
// filter passes every packet to the daemon (a large download over plain
// HTTP is the capture's worst case) and the NFLOG fast path has work to
// save.
const bulkPort = "80"

// bulkSeconds is the length of each transfer.
const bulkSeconds = 5

// bulkRounds is how often each configuration is measured, interleaved,
// so that a busy host shows as spread rather than as a difference.
const bulkRounds = 5

// TestLabThroughput measures bulk TCP transfers (iperf3) without iotgw,
// with only its tables, with iotgw capturing through afpacket, and with
// the NFLOG fast path, and the daemon's CPU time, peak memory and
// packets read during each. Two paths: a download through the router
// (WAN → laptop: the inet tables) and a transfer between two LAN
// devices (workstation → laptop: the bridge table, whose every rule an
// ordinary device's frame passes). It asserts that every transfer
// completes and that the daemon survives it, not the numbers: they
// depend on the machine. docs/lab.md records them.
func TestLabThroughput(t *testing.T) {
	requireLab(t)
	devices := homeDevices()
	l := newLab(t, labOptions{tag: "t", devices: []host{devices[3], devices[4]}})
	bin := testenv.BuildDaemon(t, l.dir)
	l.start("wan", "wan-iperf3", "iperf3", "-s", "-B", cloudHost, "-p", bulkPort)
	l.waitListen("wan", "tcp", 80)
	l.dhcp()
	l.start("workstation", "workstation-iperf3", "iperf3", "-s", "-B", devices[4].ip, "-p", bulkPort)
	l.waitListen("workstation", "tcp", 80)

	paths := []bulkPath{
		{name: "download", server: cloudHost},
		{name: "LAN to LAN", server: devices[4].ip},
	}
	// "rules" is iotgw's nftables tables (the nflog layout, with the
	// capture chain and conntrack accounting) without a running daemon:
	// the kernel's share of the cost. "afpacket-unmarked" is afpacket
	// with capture.packet_mark = 0: every frame on the port is read.
	modes := []string{"none", "rules", "afpacket-unmarked", "afpacket", "nflog"}
	samples := map[bulkPath]map[string][]bulkSample{}
	for _, p := range paths {
		samples[p] = map[string][]bulkSample{}
	}
	for round := range bulkRounds {
		for _, mode := range modes {
			ss, err := l.measureBulk(t, bin, mode, paths)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round+1, mode, err)
			}
			for i, p := range paths {
				t.Logf("round %d, %s, %s: %s", round+1, p.name, mode, ss[i])
				samples[p][mode] = append(samples[p][mode], ss[i])
			}
		}
	}
	for _, p := range paths {
		base := median(samples[p]["none"], func(s bulkSample) float64 { return s.res.bitsPerSecond })
		for _, mode := range modes {
			ss := samples[p][mode]
			mbit := func(s bulkSample) float64 { return s.res.bitsPerSecond / 1e6 }
			lo, hi := minMax(ss, mbit)
			line := fmt.Sprintf("MEASURE bulk %s, iotgw %s: median %.0f Mbit/s (%.0f–%.0f over %d runs of %d s), %.0f%% of the median without iotgw",
				p.name, mode, median(ss, mbit), lo, hi, len(ss), bulkSeconds, 100*median(ss, mbit)*1e6/base)
			if mode != "none" && mode != "rules" {
				cpu := median(ss, func(s bulkSample) float64 { return 100 * s.cpu.Seconds() / s.res.seconds })
				_, hwm := minMax(ss, func(s bulkSample) float64 { return float64(s.hwmKB) / 1024 })
				pkts := median(ss, func(s bulkSample) float64 { return float64(s.packets) })
				mib := median(ss, func(s bulkSample) float64 { return float64(s.res.bytes) / (1 << 20) })
				line += fmt.Sprintf("; daemon CPU median %.0f%% of one core, peak RSS %.1f MiB, median %.0f packets read for %.0f MiB transferred", cpu, hwm, pkts, mib)
			}
			t.Log(line)
		}
	}
}

// bulkPath is a transfer the laptop receives: from the WAN host through
// the router, or from another LAN device across the bridge.
type bulkPath struct {
	name   string
	server string // the address of the iperf3 server that sends
}

// bulkSample is one transfer and what the daemon spent on it.
type bulkSample struct {
	res     bulkResult
	cpu     time.Duration // the daemon's user+system time during the transfer
	hwmKB   int           // the daemon's peak resident set since it started
	packets uint64        // packets the daemon read during the transfer
}

func (s bulkSample) String() string {
	return fmt.Sprintf("%s; daemon CPU %v, peak RSS %d KiB, %d packets read", s.res, s.cpu, s.hwmKB, s.packets)
}

// measureBulk runs one transfer along each path with the daemon in
// capture mode mode, without iotgw ("none"), or with only the tables a
// stopped daemon leaves ("rules"). The tables are removed afterwards.
func (l *lab) measureBulk(t *testing.T, bin, mode string, paths []bulkPath) ([]bulkSample, error) {
	transferAll := func(each func(bulkPath) (bulkSample, error)) ([]bulkSample, error) {
		var ss []bulkSample
		for _, p := range paths {
			s, err := each(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			ss = append(ss, s)
		}
		return ss, nil
	}
	transfer := func(p bulkPath) (bulkSample, error) {
		res, err := l.bulkTransfer(p.server)
		return bulkSample{res: res}, err
	}
	if mode == "none" {
		return transferAll(transfer)
	}
	config := ""
	switch mode {
	case "rules":
		config = l.daemonConfig("nflog")
	case "afpacket-unmarked":
		config = l.unmarkedConfig()
	default:
		config = l.daemonConfig(mode)
	}
	d := l.newDaemon(bin, config)
	d.start(t)
	var ss []bulkSample
	var err error
	if mode != "rules" {
		ss, err = transferAll(func(p bulkPath) (bulkSample, error) { return d.measure(l, p) })
	}
	code, stopErr := d.terminate()
	if err == nil && (stopErr != nil || code != 0) {
		err = fmt.Errorf("iotgw run on SIGTERM: exit %d, %v", code, stopErr)
	}
	if mode == "rules" && err == nil {
		ss, err = transferAll(transfer)
	}
	if out, uerr := d.cli("uninstall-rules"); err == nil && uerr != nil {
		err = fmt.Errorf("iotgw uninstall-rules: %v\n%s", uerr, out)
	}
	return ss, err
}

// measure runs one transfer along p and takes what the daemon spent on it.
func (d *daemon) measure(l *lab, p bulkPath) (bulkSample, error) {
	before, err := readUsage(d.pid())
	if err != nil {
		return bulkSample{}, err
	}
	p0, err := d.packets()
	if err != nil {
		return bulkSample{}, err
	}
	res, err := l.bulkTransfer(p.server)
	if err != nil {
		return bulkSample{}, err
	}
	after, err := readUsage(d.pid())
	if err != nil {
		return bulkSample{}, fmt.Errorf("the daemon is gone after the transfer: %w", err)
	}
	p1, err := d.packets()
	if err != nil {
		return bulkSample{}, err
	}
	return bulkSample{res: res, cpu: after.cpu - before.cpu, hwmKB: after.hwmKB, packets: p1 - p0}, nil
}

// median of f over samples (the mean of the middle two for an even count).
func median(samples []bulkSample, f func(bulkSample) float64) float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = f(s)
	}
	sort.Float64s(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func minMax(samples []bulkSample, f func(bulkSample) float64) (lo, hi float64) {
	for i, s := range samples {
		v := f(s)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

// bulkResult is one iperf3 run as the receiver saw it.
type bulkResult struct {
	bitsPerSecond float64
	bytes         int64
	seconds       float64
	retransmits   int
}

func (r bulkResult) String() string {
	return fmt.Sprintf("%.0f Mbit/s received (%.1f MiB in %.1f s, %d retransmits)",
		r.bitsPerSecond/1e6, float64(r.bytes)/(1<<20), r.seconds, r.retransmits)
}

// bulkTransfer runs iperf3 in reverse (the server sends, the laptop
// receives) for bulkSeconds and parses its JSON report.
func (l *lab) bulkTransfer(server string) (bulkResult, error) {
	args := []string{"iperf3", "-c", server, "-p", bulkPort, "-t", fmt.Sprint(bulkSeconds), "-R", "-J"}
	if runtime.NumCPU() >= 2 {
		// The sender on one core, the receiver on
		// another: the forwarding runs in the sender's softirq, and a
		// sender the scheduler moves around spreads the results more
		// than the rules under test change them.
		args = append(args, "-A", "0,1")
	}
	out, err := l.dev("laptop", time.Duration(bulkSeconds+20)*time.Second, args...)
	if err != nil {
		return bulkResult{}, fmt.Errorf("iperf3: %v\n%s", err, out)
	}
	var rep struct {
		End struct {
			SumSent struct {
				Retransmits int `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Seconds       float64 `json:"seconds"`
				Bytes         int64   `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return bulkResult{}, fmt.Errorf("iperf3 -J: %w\n%s", err, out)
	}
	if rep.Error != "" {
		return bulkResult{}, fmt.Errorf("iperf3: %s", rep.Error)
	}
	r := rep.End.SumReceived
	if r.Bytes == 0 {
		return bulkResult{}, fmt.Errorf("iperf3 received nothing:\n%s", out)
	}
	return bulkResult{bitsPerSecond: r.BitsPerSecond, bytes: r.Bytes, seconds: r.Seconds, retransmits: rep.End.SumSent.Retransmits}, nil
}

// packets is the number of packets the daemon has read from its source.
func (d *daemon) packets() (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := api.NewClient(d.socket).Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("iotgw status: %w", err)
	}
	return s.Packets, nil
}
