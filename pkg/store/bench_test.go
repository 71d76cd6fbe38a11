package store

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// benchDevice is a device with n findings shaped like the inspectors'
// output: a flow, redacted evidence, a count.
func benchDevice(i, n int) DeviceRecord {
	m := hwaddr.MAC{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
	d := DeviceRecord{
		MAC:       m,
		Identity:  Identity{Vendor: "Espressif", Model: "ESP32", Firmware: "1.2.3", Category: "plug", Hostname: fmt.Sprintf("plug-%d", i)},
		Addrs:     []netip.Addr{netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)})},
		FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Second),
	}
	for j := range n {
		f := finding(event.KindPlaintextCredentials, t0.Add(time.Duration(i*n+j)*time.Second), event.Evidence{
			"protocol": "mqtt", "user": "de***", "password_class": "unique", "password_hash": "k1:9f86d081884c7d65",
			"accepted": "yes", "port": fmt.Sprint(1883 + j),
		})
		f.Device = event.Endpoint{MAC: m.String(), IP: d.Addrs[0].String()}
		f.Count = j + 1
		f.LastTime = f.Time.Add(time.Minute)
		d.Findings = append(d.Findings, f)
	}
	return d
}

// benchStore fills a store; maxBytes 0 is the default cap, whose memory
// budget forgets the oldest findings of a state this large.
func benchStore(b *testing.B, path string, devices, findings, maxBytes int) *Store {
	s := newStore(Options{Path: path, MaxDevices: devices, MaxBytes: maxBytes})
	for i := range devices {
		if err := s.PutDevice(benchDevice(i, findings)); err != nil {
			b.Fatal(err)
		}
		if err := s.PutVerdict(Verdict{MAC: benchDevice(i, 0).MAC, Action: "alert", Time: t0,
			Reasons: []Reason{{Kind: event.KindPlaintextCredentials, Severity: event.SeverityMedium, Action: "alert", Summary: "MQTT password in clear"}}}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkEncode1000x20 encodes 1,000 devices with 20 findings each,
// uncapped: the size of such a state and the CPU a write costs.
func BenchmarkEncode1000x20(b *testing.B) {
	s := benchStore(b, filepath.Join(b.TempDir(), "state.json"), 1000, 20, 64<<20)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		data, _, err := encode(s.document(), math.MaxInt)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "bytes/file")
}

// BenchmarkEncode1000x20Capped encodes the same state held in memory
// uncapped, cut to the default 4 MiB file cap: the cost of the exact
// backstop when the memory budget did not act first.
func BenchmarkEncode1000x20Capped(b *testing.B) {
	s := benchStore(b, filepath.Join(b.TempDir(), "state.json"), 1000, 20, 64<<20)
	var size int
	var t trimReport
	b.ReportAllocs()
	for b.Loop() {
		data, tr, err := encode(s.document(), DefaultMaxBytes)
		if err != nil {
			b.Fatal(err)
		}
		size, t = len(data), tr
	}
	b.ReportMetric(float64(size), "bytes/file")
	b.ReportMetric(float64(t.findings), "findings_left_out")
}

// BenchmarkWrite1000x20 is a whole write with the default cap on this
// machine's disk (the memory budget has already forgotten the oldest
// findings): encode, temporary file, fsync, rename, directory fsync.
func BenchmarkWrite1000x20(b *testing.B) {
	s := benchStore(b, filepath.Join(b.TempDir(), "state.json"), 1000, 20, 0)
	b.ReportAllocs()
	for b.Loop() {
		s.mu.Lock()
		s.gen++
		s.mu.Unlock()
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().Bytes), "bytes/file")
}

// BenchmarkOpen1000x20 reads a capped file of that state back at start.
func BenchmarkOpen1000x20(b *testing.B) {
	path := filepath.Join(b.TempDir(), "state.json")
	if err := benchStore(b, path, 1000, 20, 0).Flush(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := Open(Options{Path: path, MaxDevices: 1000})
		if n := len(s.devices); n != 1000 {
			b.Fatalf("%d devices loaded", n)
		}
	}
	b.ReportMetric(float64(fi.Size()), "bytes/file")
}

// BenchmarkPutDevice is the routine update the inventory makes for one
// device with 20 findings.
func BenchmarkPutDevice(b *testing.B) {
	s := benchStore(b, filepath.Join(b.TempDir(), "state.json"), 1000, 0, 0)
	d := benchDevice(500, 20)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.PutDevice(d); err != nil {
			b.Fatal(err)
		}
	}
}
