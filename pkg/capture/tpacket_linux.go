package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// tpRing is one TPACKET_V3 receive ring: a packet socket bound to one
// interface and the block ring it shares with the kernel. It reads the
// ring itself rather than through gopacket's afpacket, whose reader
// updates a 64-bit counter atomically at an offset that is not 8-byte
// aligned on 32-bit builds (MIPS and ARMv7 routers), which faults there,
// and which allocates a frame for every VLAN tag it puts back.
//
// A tpRing is used by one goroutine at a time, except setFilter, which
// may be called while another goroutine waits in next.
type tpRing struct {
	fd        int
	mem       []byte // the mmapped ring
	blockSize int
	numBlocks int
	ifindex   int
	poll      int // poll timeout, ms
	vlan      bool

	cur   int    // block being read or waited for
	inUse bool   // cur is ours (TP_STATUS_USER) until released
	left  int    // frames of cur not handed out yet
	rel   uint64 // next frame header, from the start of cur (checked when read)
	// scratch holds a frame with its VLAN tag put back: one buffer per
	// ring, valid like a ring frame until the next call.
	scratch []byte
	// cleanup releases the socket and the ring if the ring is dropped
	// without close (a source closed while its last frame was lent and
	// never read again).
	cleanup runtime.Cleanup
}

// tpResources are what a ring holds in the kernel.
type tpResources struct {
	fd  int
	mem []byte
}

func (res tpResources) release() {
	if res.mem != nil {
		unix.Munmap(res.mem)
	}
	unix.Close(res.fd)
}

// Layout of the kernel's TPACKET_V3 structures (linux/if_packet.h), in
// the host's byte order.
const (
	// struct tpacket_block_desc: version, offset_to_priv, then
	// tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt.
	blockStatusOff = 8
	blockNumPkts   = 12
	blockFirstPkt  = 16
	// struct tpacket3_hdr.
	pktNextOff  = 0
	pktSec      = 4
	pktNsec     = 8
	pktSnaplen  = 12
	pktLen      = 16
	pktStatus   = 20
	pktMac      = 24
	pktVLANTCI  = 32
	pktVLANTPID = 36
	pktHdrLen   = 48
	blockHdrLen = 48 // struct tpacket_block_desc
	// struct sockaddr_ll follows the frame header at
	// TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) = 48: family (2),
	// protocol (2), ifindex (4), hatype (2), pkttype (1), halen (1),
	// addr (8). The kernel puts the frame after it.
	sllPktType = pktHdrLen + 10
	sllEnd     = pktHdrLen + 20

	packetOutgoing = 4 // PACKET_OUTGOING, a sll_pkttype

	tpStatusKernel        = 0
	tpStatusUser          = 1 << 0
	tpStatusVLANValid     = 1 << 4
	tpStatusVLANTPIDValid = 1 << 6
)

// bpfMaxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS).
const bpfMaxInstructions = 4096

// errPollTimeout: no frame arrived within the poll timeout.
var errPollTimeout = errors.New("afpacket: poll timeout")

// htons converts a 16-bit value to network byte order as the packet
// socket calls want it, on hosts of either byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// openTPRing opens a ring on interface name with filter attached. The
// socket receives nothing before it is bound, and it is bound only after
// the filter is attached and the ring set up, so no unfiltered frame
// reaches the ring.
func openTPRing(name string, cfg AFPacketConfig, filter []bpf.RawInstruction) (*tpRing, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	r := &tpRing{
		fd: fd, blockSize: cfg.BlockSize, numBlocks: cfg.NumBlocks, ifindex: ifi.Index,
		poll: int(cfg.PollTimeout / time.Millisecond), vlan: cfg.RestoreVLAN,
	}
	if err := r.setup(cfg, filter); err != nil {
		tpResources{fd: r.fd, mem: r.mem}.release()
		return nil, err
	}
	r.cleanup = runtime.AddCleanup(r, tpResources.release, tpResources{fd: r.fd, mem: r.mem})
	if r.vlan {
		r.scratch = make([]byte, r.blockSize+4)
	}
	return r, nil
}

func (r *tpRing) setup(cfg AFPacketConfig, filter []bpf.RawInstruction) error {
	if err := r.setFilter(filter); err != nil {
		return fmt.Errorf("attach filter: %w", err)
	}
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.NumBlocks),
		Frame_size:     uint32(cfg.FrameSize),
		Frame_nr:       uint32(cfg.BlockSize / cfg.FrameSize * cfg.NumBlocks),
		Retire_blk_tov: uint32(max(cfg.BlockTimeout/time.Millisecond, 1)),
	}
	if err := unix.SetsockoptTpacketReq3(r.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("receive ring of %d × %d bytes: %w", cfg.NumBlocks, cfg.BlockSize, err)
	}
	mem, err := unix.Mmap(r.fd, 0, cfg.BlockSize*cfg.NumBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map the ring: %w", err)
	}
	r.mem = mem
	if cfg.Promiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(r.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	if err := unix.Bind(r.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: r.ifindex}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	return nil
}

// setFilter attaches a classic BPF program in place of the last.
func (r *tpRing) setFilter(filter []bpf.RawInstruction) error {
	if len(filter) == 0 || len(filter) > bpfMaxInstructions {
		return fmt.Errorf("filter of %d instructions: want 1 to %d", len(filter), bpfMaxInstructions)
	}
	prog := make([]unix.SockFilter, len(filter))
	for i, ins := range filter {
		prog[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

// blockStatus is the status word of block i, which the kernel and the
// reader hand over to each other: read and written atomically, which
// also orders the frame reads before the hand-back. Blocks start on page
// boundaries, so the word is aligned.
func (r *tpRing) blockStatus(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*r.blockSize+blockStatusOff]))
}

func (r *tpRing) u32(off int) uint32 { return binary.NativeEndian.Uint32(r.mem[off:]) }

// next returns the next frame, borrowed from the ring (or the VLAN
// scratch buffer) until the following call. It returns errPollTimeout
// when nothing arrived within the poll timeout.
func (r *tpRing) next() ([]byte, Info, error) {
	for {
		if r.left > 0 {
			return r.frame()
		}
		if r.inUse {
			// Every frame of the block was handed out and the caller is
			// done with the last: give the block back.
			atomic.StoreUint32(r.blockStatus(r.cur), tpStatusKernel)
			r.inUse = false
			r.cur = (r.cur + 1) % r.numBlocks
		}
		if atomic.LoadUint32(r.blockStatus(r.cur))&tpStatusUser != 0 {
			base := r.cur * r.blockSize
			r.inUse = true
			// No more frames than headers fit in a block, whatever the
			// word says; the offsets are checked frame by frame, in 64
			// bits so that no kernel value wraps a 32-bit int.
			r.left = int(min(uint64(r.u32(base+blockNumPkts)), uint64(r.blockSize/pktHdrLen)))
			r.rel = uint64(r.u32(base + blockFirstPkt))
			continue
		}
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
		n, err := unix.Poll(fds, r.poll)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return nil, Info{}, fmt.Errorf("poll: %w", err)
		case n == 0:
			return nil, Info{}, errPollTimeout
		case fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0:
			// The interface went down or away (ENETDOWN), or the socket
			// was closed: the ring will not fill again.
			if soErr, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
				return nil, Info{}, fmt.Errorf("packet socket: %w", unix.Errno(soErr))
			}
			return nil, Info{}, fmt.Errorf("packet socket: poll events %#x", fds[0].Revents)
		}
	}
}

// frame reads the frame header at r.rel and moves to the next. A header
// or frame outside the block is an error, after which the block goes
// back to the kernel at the next call.
func (r *tpRing) frame() ([]byte, Info, error) {
	bs := uint64(r.blockSize)
	if r.rel < blockHdrLen || r.rel+pktHdrLen > bs {
		r.left = 0
		return nil, Info{}, fmt.Errorf("afpacket: frame header at %d outside block %d", r.rel, r.cur)
	}
	h := r.cur*r.blockSize + int(r.rel)
	snap, mac := uint64(r.u32(h+pktSnaplen)), uint64(binary.NativeEndian.Uint16(r.mem[h+pktMac:]))
	if mac < sllEnd || r.rel+mac+snap > bs {
		r.left = 0
		return nil, Info{}, fmt.Errorf("afpacket: frame of %d bytes at %d+%d outside block %d", snap, r.rel, mac, r.cur)
	}
	start := h + int(mac)
	length := int(min(uint64(r.u32(h+pktLen)), 1<<30)) // a length beyond any frame is still positive
	status := r.u32(h + pktStatus)
	info := Info{
		Timestamp:     time.Unix(int64(r.u32(h+pktSec)), int64(r.u32(h+pktNsec))),
		CaptureLength: int(snap),
		Length:        length,
		LinkType:      LinkTypeEthernet,
		Interface:     r.ifindex,
		Outgoing:      r.mem[h+sllPktType] == packetOutgoing,
	}
	end := start + int(snap)
	data := r.mem[start:end:end]
	r.left--
	r.rel += uint64(r.u32(h + pktNextOff))
	if r.vlan && status&tpStatusVLANValid != 0 && snap >= 12 {
		tpid := uint16(0x8100)
		if status&tpStatusVLANTPIDValid != 0 {
			tpid = binary.NativeEndian.Uint16(r.mem[h+pktVLANTPID:])
		}
		out := r.scratch[:snap+4]
		copy(out, data[:12])
		binary.BigEndian.PutUint16(out[12:], tpid)
		binary.BigEndian.PutUint16(out[14:], uint16(r.u32(h+pktVLANTCI)))
		copy(out[16:], data[12:])
		data = out
		info.CaptureLength += 4
		info.Length += 4
	}
	return data, info, nil
}

// stats returns what the kernel counted since the last call (reading
// PACKET_STATISTICS resets it): frames the filter passed, drops
// included, and drops.
func (r *tpRing) stats() (packets, drops uint32, err error) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, err
	}
	return st.Packets, st.Drops, nil
}

// close unmaps the ring and closes the socket; the ring is not used
// again.
func (r *tpRing) close() {
	if r.fd < 0 {
		return
	}
	r.cleanup.Stop()
	tpResources{fd: r.fd, mem: r.mem}.release()
	r.fd, r.mem = -1, nil
}
