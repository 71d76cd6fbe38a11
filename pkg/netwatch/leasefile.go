package netwatch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// maxLeaseFile caps the bytes read from a lease file; a home network's
// file is a few kilobytes.
const maxLeaseFile = 1 << 20

// fileStamp identifies one version of a file: dnsmasq rewrites its lease
// file in place, odhcpd replaces its state file by renaming.
type fileStamp struct {
	mtime time.Time
	size  int64
	inode uint64
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{mtime: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = uint64(st.Ino)
	}
	return s
}

type leaseKey struct {
	mac hwaddr.MAC
	ip  netip.Addr
}

type leaseValue struct {
	expires  time.Time
	hostname string
	iface    string
}

// leaseJitter is how far a lease's expiry may move between rewrites
// without counting as a renewal. odhcpd writes each expiry as its own
// monotonic deadline minus its monotonic now plus the wall clock, each
// rounded, and rewrites every lease at any client's exchange: an unchanged
// lease's expiry moves by a second now and then. A renewal moves it by
// much of the lease time.
const leaseJitter = time.Minute

// same reports whether v is the same lease as l, up to leaseJitter.
func (l leaseValue) same(v leaseValue) bool {
	if l.hostname != v.hostname || l.iface != v.iface || l.expires.IsZero() != v.expires.IsZero() {
		return false
	}
	d := l.expires.Sub(v.expires)
	return -leaseJitter <= d && d <= leaseJitter
}

// leaseFile is what the watcher knows of one lease file.
type leaseFile struct {
	path  string
	stamp fileStamp
	// delivered are the leases the consumer has received.
	delivered map[leaseKey]leaseValue
	// read is set once the file has been read and all it held delivered.
	// The first read says nothing about when a lease was last renewed;
	// later changes are renewals, and so signs of life.
	read bool
	// retry is set when an event could not be delivered: the file is
	// parsed again at the next poll even if unchanged.
	retry   bool
	lastErr string
}

// pollLeases checks every lease file for a change.
func (l *loop) pollLeases() {
	for _, f := range l.files {
		l.pollLeaseFile(f)
	}
}

func (l *loop) pollLeaseFile(f *leaseFile) {
	fi, err := os.Stat(f.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// No such server, or it has not written yet: as if empty.
			f.stamp, f.delivered, f.retry = fileStamp{}, nil, false
			f.read = true
			return
		}
		l.fileError(f, err)
		return
	}
	stamp := stampOf(fi)
	if stamp == f.stamp && !f.retry {
		return
	}
	data, err := l.readFile(f.path, maxLeaseFile)
	if err != nil {
		l.fileError(f, err)
		return
	}
	// dnsmasq rewrites its file in place (truncate, then write in small
	// chunks): a file that changed while it was read is read again at the
	// next poll.
	if after, err := os.Stat(f.path); err != nil || stampOf(after) != stamp {
		return
	}
	f.stamp, f.lastErr = stamp, ""
	if len(data) > maxLeaseFile {
		// Parse the complete lines that fit.
		data = data[:bytes.LastIndexByte(data[:maxLeaseFile], '\n')+1]
		l.w.stats.leaseTruncated.Add(1)
	}
	leases, st := parseLeases(data)
	l.w.stats.leaseGarbage.Add(uint64(st.garbage + st.untrusted))
	l.w.stats.leaseNoMAC.Add(uint64(st.noMAC))
	l.w.stats.leaseTruncated.Add(uint64(st.truncated))

	now := l.w.clock.Now()
	next := make(map[leaseKey]leaseValue, len(leases))
	f.retry = false
	for _, ls := range leases {
		if !ls.expires.IsZero() && !ls.expires.After(now) {
			continue
		}
		k := leaseKey{ls.mac, ls.ip}
		v := leaseValue{expires: ls.expires, hostname: ls.hostname, iface: ls.iface}
		old, had := f.delivered[k]
		if had && old.same(v) {
			next[k] = old // against what was delivered: jitter must not add up
			continue
		}
		l.leaseActivity(ls.mac, now, f.read)
		ev := LeaseSeen{
			MAC: ls.mac, IP: ls.ip, Hostname: ls.hostname, Expires: ls.expires,
			Iface: ls.iface, MACFromDUID: ls.macFromDUID, Time: now,
		}
		switch {
		case l.emit(ev):
			next[k] = v
		case had:
			next[k] = old
			f.retry = true
		default:
			f.retry = true
		}
	}
	// A lease missing from this read may be in the part of a rewrite not
	// yet written: it is remembered until it expires, so that it coming
	// back unchanged is no news (no renewal, no sign of life). Infinite
	// leases are static configuration and are not kept; nor is anything
	// past maxLeases.
	for k, v := range f.delivered {
		if _, ok := next[k]; ok || v.expires.IsZero() || !v.expires.After(now) || len(next) >= maxLeases {
			continue
		}
		next[k] = v
	}
	f.delivered = next
	if !f.retry {
		f.read = true
	}
}

// leaseActivity tracks the device of a new or changed lease; a change
// after the first read is a renewal, and so a sign of life.
func (l *loop) leaseActivity(mac hwaddr.MAC, now time.Time, renewal bool) {
	d := l.devices.get(mac)
	switch {
	case d == nil:
		l.track(mac, now)
	case renewal:
		l.markSeen(d, now, true)
	}
}

func (l *loop) fileError(f *leaseFile, err error) {
	if msg := err.Error(); msg != f.lastErr {
		f.lastErr = msg
		l.w.log.Warn("netwatch: cannot read lease file", "path", f.path, "err", err)
	}
}

// readBounded reads at most max+1 bytes of path, so that the caller can
// tell a file that is too long.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}
