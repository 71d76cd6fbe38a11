//go:build linux

package capture

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_log configuration (linux/netfilter/nfnetlink_log.h).
const (
	nfulaCfgCmd     = 1
	nfulaCfgMode    = 2
	nfulaCfgNlbufsz = 3
	nfulaCfgTimeout = 4
	nfulaCfgQthresh = 5
	nfulaCfgFlags   = 6

	nfulnlCfgCmdBind = 1
	nfulnlCopyPacket = 2
	nfulnlCfgFlagSeq = 0x0001
	nfnetlinkV0      = 0
)

// NFLOG reads packets that nftables rules log to one NFLOG group, over a
// NETLINK_NETFILTER socket. Each packet is returned as an Ethernet frame
// (see nflogBatch for how the header is made) borrowed from the receive
// buffer until the next ReadPacket. Not safe for concurrent ReadPacket;
// Close and Stats may be called from any goroutine.
//
// The log rules match on conntrack, which reassembles IP fragments
// before its hooks: a fragmented datagram is logged whole up to the
// rules' snap length (config's default keeps what the decoder would
// reassemble), and the decoder's reassembly has nothing to do here. It
// is for AF_PACKET, which sees frames as they are on the wire.
type NFLOG struct {
	conn  *netlink.Conn
	raw   syscall.RawConn
	ctx   context.Context
	group uint16

	buf   []byte
	batch nflogBatch
	stats nflogCounters

	// recv is the RawConn read callback, made once so that reading does
	// not allocate; it leaves its result in n and errno.
	recv  func(fd uintptr) bool
	n     int
	errno syscall.Errno

	stopCtx   func() bool
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// setReceiveBuffer sets the socket's receive buffer to size. SO_RCVBUF
// is capped at net.core.rmem_max (about 208 KiB by default), which would
// leave a burst a fifth of the room asked for; the daemon holds
// CAP_NET_ADMIN, which SO_RCVBUFFORCE needs. Without it, the capped size.
func setReceiveBuffer(conn *netlink.Conn, raw syscall.RawConn, size int) error {
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
	}); err != nil {
		return err
	}
	if serr == nil {
		return nil
	}
	return conn.SetReadBuffer(size)
}

// OpenNFLOG binds an NFLOG group. It fails if another program (ulogd)
// holds the group. ReadPacket returns ctx.Err() once ctx ends.
func OpenNFLOG(ctx context.Context, cfg NFLOGConfig) (*NFLOG, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("nflog: %w", err)
	}
	// The kernel adds messages to a batch until its buffer's tailroom runs
	// out, and the allocation rounds BatchSize (or one large message) up
	// to a power of two: a datagram can be nearly twice BatchSize. The
	// receive buffer is that rounded size (128 KiB by default).
	bufSize := 1 << bits.Len(uint(max(cfg.BatchSize, cfg.CopyRange+4096)+512-1))
	l := &NFLOG{conn: conn, raw: raw, ctx: ctx, group: cfg.Group, buf: make([]byte, bufSize)}
	l.batch = nflogBatch{order: binary.NativeEndian, stats: &l.stats, group: cfg.Group}
	l.recv = l.recvFrom
	if err := setReceiveBuffer(conn, raw, cfg.ReceiveBuffer); err != nil {
		conn.Close()
		return nil, fmt.Errorf("nflog: receive buffer: %w", err)
	}
	if err := l.bind(cfg); err != nil {
		conn.Close()
		return nil, err
	}
	l.stopCtx = context.AfterFunc(ctx, func() {
		// A deadline in the past wakes a blocked read.
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	})
	return l, nil
}

// bind binds the group and sets copy mode, batching and sequence numbers
// in one request, so that no packet arrives before the group is set up,
// then waits for the kernel's acknowledgement.
func (l *NFLOG) bind(cfg NFLOGConfig) error {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(nfulaCfgCmd, []byte{nfulnlCfgCmdBind})
	mode := binary.BigEndian.AppendUint32(nil, uint32(cfg.CopyRange))
	ae.Bytes(nfulaCfgMode, append(mode, nfulnlCopyPacket, 0))
	ae.Bytes(nfulaCfgNlbufsz, be32(uint32(cfg.BatchSize)))
	ae.Bytes(nfulaCfgTimeout, be32(uint32(cfg.FlushTimeout/(10*time.Millisecond))))
	ae.Bytes(nfulaCfgQthresh, be32(uint32(cfg.QueueThreshold)))
	ae.Bytes(nfulaCfgFlags, binary.BigEndian.AppendUint16(nil, nfulnlCfgFlagSeq))
	attrs, err := ae.Encode()
	if err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	// nfgenmsg: family AF_UNSPEC, version, group in network order.
	body := binary.BigEndian.AppendUint16([]byte{unix.AF_UNSPEC, nfnetlinkV0}, cfg.Group)
	req, err := l.conn.Send(netlink.Message{
		Header: netlink.Header{Type: nfulnlMsgConfig, Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(body, attrs...),
	})
	if err != nil {
		return fmt.Errorf("nflog: bind group %d: %w", cfg.Group, err)
	}
	acked := false
	var ackErr error
	l.batch.ack = func(seq uint32, errno int32) {
		if seq != req.Header.Sequence {
			return
		}
		acked = true
		if errno != 0 {
			ackErr = syscall.Errno(-errno)
		}
	}
	defer func() { l.batch.ack = nil }()
	// Bounded: the acknowledgement follows the request at once; packets
	// logged meanwhile are read and dropped.
	if err := l.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	for !acked {
		if err := l.fill(); err != nil {
			return fmt.Errorf("nflog: bind group %d: %w", cfg.Group, err)
		}
		for {
			if _, _, ok := l.batch.next(); !ok {
				break
			}
		}
	}
	if ackErr != nil {
		return fmt.Errorf("nflog: bind group %d: %w", cfg.Group, ackErr)
	}
	// Packets read while waiting were dropped: count from here.
	l.stats = nflogCounters{}
	l.batch.seqValid = false
	return l.conn.SetReadDeadline(time.Time{})
}

// recvFrom is the RawConn read callback: one datagram into buf. MSG_TRUNC
// makes the kernel report the datagram's real length.
func (l *NFLOG) recvFrom(fd uintptr) bool {
	n, _, e := syscall.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&l.buf[0])), uintptr(len(l.buf)), unix.MSG_TRUNC, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false // wait for the socket to become readable
	}
	l.n, l.errno = int(n), e
	return true
}

// fill reads the next datagram into the batch. ENOBUFS (the kernel
// dropped messages for want of socket buffer) is counted and reading goes
// on; a datagram longer than the buffer is counted, and the whole
// messages that fitted are read.
func (l *NFLOG) fill() error {
	for {
		if err := l.raw.Read(l.recv); err != nil {
			return err
		}
		switch {
		case l.errno == unix.ENOBUFS:
			l.stats.overruns.Add(1)
			continue
		case l.errno != 0:
			return l.errno
		case l.n > len(l.buf):
			l.stats.truncated.Add(1)
			l.n = len(l.buf)
		}
		l.batch.reset(l.buf[:l.n], time.Now())
		return nil
	}
}

// ReadPacket returns the next logged packet as an Ethernet frame. After
// Close it returns io.EOF, after the context ends its error.
func (l *NFLOG) ReadPacket() ([]byte, Info, error) {
	for {
		if data, info, ok := l.batch.next(); ok {
			return data, info, nil
		}
		if err := l.ctx.Err(); err != nil {
			return nil, Info{}, err
		}
		if err := l.fill(); err != nil {
			switch {
			case l.closed.Load():
				return nil, Info{}, io.EOF
			case l.ctx.Err() != nil:
				return nil, Info{}, l.ctx.Err()
			}
			return nil, Info{}, fmt.Errorf("nflog: read: %w", err)
		}
	}
}

// Close unbinds the group (the kernel does so when the socket closes). A
// ReadPacket blocked in another goroutine returns io.EOF at once.
func (l *NFLOG) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		l.stopCtx()
		l.closeErr = l.conn.Close()
	})
	return l.closeErr
}

// Stats returns the counters; safe to call from any goroutine.
func (l *NFLOG) Stats() NFLOGStats { return l.stats.snapshot() }

// Lost implements LossReporter: the packets the kernel logged but never
// delivered (gaps in the sequence numbers).
func (l *NFLOG) Lost() uint64 { return l.stats.drops.Load() }
