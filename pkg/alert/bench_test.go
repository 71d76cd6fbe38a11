package alert

import "testing"

// BenchmarkRepeatedFinding is the common case on a busy network: a
// device repeats a finding already alerted (a camera's default login
// every minute): build the alert, find it in the dedup memory, queue
// nothing.
func BenchmarkRepeatedFinding(b *testing.B) {
	d, err := New(Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, Options{Outbox: &memOutbox{}})
	if err != nil {
		b.Fatal(err)
	}
	ev := credEvent("yes")
	dev := Device{Name: "Hall camera", Vendor: "Xiongmai"}
	a, _ := FromEvent(ev, dev)
	d.Notify(a)
	b.ReportAllocs()
	for b.Loop() {
		a, _ := FromEvent(ev, dev)
		if d.Notify(a) != 0 {
			b.Fatal("a repeat was queued")
		}
	}
}

// BenchmarkNewAlert queues a new alert for one channel (outbox in
// memory): JSON encoding and the queue.
func BenchmarkNewAlert(b *testing.B) {
	o := &memOutbox{}
	d, err := New(Config{Channels: []ChannelConfig{webhookChannel("hook", nil)}}, Options{Outbox: o, MaxPending: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	a, _ := FromEvent(credEvent("yes"), Device{Name: "Hall camera"})
	b.ReportAllocs()
	for b.Loop() {
		a.DedupKey = ""
		a.ID = ""
		d.Notify(a)
	}
}
