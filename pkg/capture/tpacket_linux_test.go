package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/netnstest"
)

// fakeFrame is one frame a fake ring block holds.
type fakeFrame struct {
	data     []byte
	length   int // tp_len; 0: len(data)
	vlanTCI  uint16
	vlanTPID uint16 // 0: no TPID given
	vlan     bool
	sec      uint32
	outgoing bool // sll_pkttype PACKET_OUTGOING, else PACKET_HOST
}

// fakeRing lays out blocks as the kernel does (host byte order, frames
// 16-byte aligned after a 48-byte header), each marked handed to the
// reader; the socket is none, so a read past them fails at poll.
func fakeRing(t *testing.T, blockSize int, blocks ...[]fakeFrame) *tpRing {
	t.Helper()
	mem := make([]byte, blockSize*len(blocks))
	ne := binary.NativeEndian
	for i, frames := range blocks {
		base := i * blockSize
		ne.PutUint32(mem[base+blockStatusOff:], tpStatusUser)
		ne.PutUint32(mem[base+blockNumPkts:], uint32(len(frames)))
		first := 48
		ne.PutUint32(mem[base+blockFirstPkt:], uint32(first))
		h := base + first
		for j, f := range frames {
			const mac = 82 // tp_mac as the kernel sets it for Ethernet: after the header and sockaddr_ll, the network header aligned
			size := (mac + len(f.data) + 15) &^ 15
			if h+size > base+blockSize {
				t.Fatalf("fake block %d overflows", i)
			}
			status := uint32(tpStatusUser)
			if f.vlan {
				status |= tpStatusVLANValid
				ne.PutUint32(mem[h+pktVLANTCI:], uint32(f.vlanTCI))
				if f.vlanTPID != 0 {
					status |= tpStatusVLANTPIDValid
					ne.PutUint16(mem[h+pktVLANTPID:], f.vlanTPID)
				}
			}
			length := f.length
			if length == 0 {
				length = len(f.data)
			}
			ne.PutUint32(mem[h+pktSec:], f.sec)
			ne.PutUint32(mem[h+pktSnaplen:], uint32(len(f.data)))
			ne.PutUint32(mem[h+pktLen:], uint32(length))
			ne.PutUint32(mem[h+pktStatus:], status)
			ne.PutUint16(mem[h+pktMac:], mac)
			if f.outgoing {
				mem[h+sllPktType] = packetOutgoing
			}
			copy(mem[h+mac:], f.data)
			if j < len(frames)-1 {
				ne.PutUint32(mem[h+pktNextOff:], uint32(size))
			}
			h += size
		}
	}
	return &tpRing{fd: -1, mem: mem, blockSize: blockSize, numBlocks: len(blocks),
		ifindex: 7, vlan: true, scratch: make([]byte, blockSize+4)}
}

// ethFrame is a minimal Ethernet frame: addresses, type, payload.
func ethFrame(etherType uint16, payload string) []byte {
	b := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, byte(etherType >> 8), byte(etherType)}
	return append(b, payload...)
}

// TestTPRingReadsBlocks reads frames across blocks as the kernel lays
// them out, gives each block back once its last frame was read, puts a
// VLAN tag back (with the kernel's TPID or 802.1Q), and reads a frame
// cut by the snap length with its real length.
func TestTPRingReadsBlocks(t *testing.T) {
	r := fakeRing(t, 4096,
		[]fakeFrame{
			{data: ethFrame(0x0800, "first"), sec: 100},
			{data: ethFrame(0x0800, "second"), length: 1514, outgoing: true},
			{data: ethFrame(0x0800, "tagged"), vlan: true, vlanTCI: 0x2064},
		},
		[]fakeFrame{
			{data: ethFrame(0x86dd, "qinq"), vlan: true, vlanTCI: 7, vlanTPID: 0x88a8},
		},
	)
	tag := func(tpid, tci uint16, inner []byte) []byte {
		b := append([]byte{}, inner[:12]...)
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, tci)
		return append(b, inner[12:]...)
	}
	want := []struct {
		data           []byte
		capLen, length int
	}{
		{ethFrame(0x0800, "first"), 19, 19},
		{ethFrame(0x0800, "second"), 20, 1514},
		{tag(0x8100, 0x2064, ethFrame(0x0800, "tagged")), 24, 24},
		{tag(0x88a8, 7, ethFrame(0x86dd, "qinq")), 22, 22},
	}
	for i, w := range want {
		data, info, err := r.next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(data, w.data) || info.CaptureLength != w.capLen || info.Length != w.length {
			t.Errorf("frame %d: % x (%d of %d), want % x (%d of %d)", i, data, info.CaptureLength, info.Length, w.data, w.capLen, w.length)
		}
		if info.Interface != 7 || info.LinkType != LinkTypeEthernet || info.Outgoing != (i == 1) {
			t.Errorf("frame %d: %+v", i, info)
		}
		if i == 0 && !info.Timestamp.Equal(time.Unix(100, 0)) {
			t.Errorf("frame 0 at %v", info.Timestamp)
		}
		if i == 3 {
			// The first block went back to the kernel when the reader
			// moved on from its last frame; the second is still lent.
			if s := binary.NativeEndian.Uint32(r.mem[blockStatusOff:]); s != tpStatusKernel {
				t.Errorf("block 0 status %#x after its frames were read", s)
			}
			if s := binary.NativeEndian.Uint32(r.mem[4096+blockStatusOff:]); s&tpStatusUser == 0 {
				t.Errorf("block 1 status %#x while its frame is lent", s)
			}
		}
	}
	// Nothing more: the second block goes back, and waiting for the
	// next needs the socket, which the fake has not.
	if _, _, err := r.next(); err == nil {
		t.Fatal("read past the last frame without a socket")
	}
	if s := binary.NativeEndian.Uint32(r.mem[4096+blockStatusOff:]); s != tpStatusKernel {
		t.Errorf("block 1 status %#x after its frame was read", s)
	}
}

// TestTPRingRefusesBadOffsets: offsets that point outside their block
// are an error, never a read of another block or a panic, also where a
// kernel value does not fit a 32-bit int; the block then goes back to
// the kernel.
func TestTPRingRefusesBadOffsets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mangle func(mem []byte)
	}{
		{"first_frame_past_block", func(mem []byte) { binary.NativeEndian.PutUint32(mem[blockFirstPkt:], 4090) }},
		{"snaplen_past_block", func(mem []byte) { binary.NativeEndian.PutUint32(mem[48+pktSnaplen:], 8000) }},
		{"next_past_block", func(mem []byte) { binary.NativeEndian.PutUint32(mem[48+pktNextOff:], 1<<30) }},
		{"next_back_into_block_header", func(mem []byte) { binary.NativeEndian.PutUint32(mem[48+pktNextOff:], 0xffffff00) }},
		{"snaplen_negative_as_int32", func(mem []byte) { binary.NativeEndian.PutUint32(mem[48+pktSnaplen:], 0x80000000) }},
		{"first_frame_wraps_int32", func(mem []byte) { binary.NativeEndian.PutUint32(mem[blockFirstPkt:], 0x7ffffff0) }},
		{"first_frame_in_block_header", func(mem []byte) { binary.NativeEndian.PutUint32(mem[blockFirstPkt:], 8) }},
		{"mac_inside_frame_header", func(mem []byte) { binary.NativeEndian.PutUint16(mem[48+pktMac:], 4) }},
		{"mac_inside_sockaddr_ll", func(mem []byte) { binary.NativeEndian.PutUint16(mem[48+pktMac:], 60) }},
		{"num_pkts_negative_as_int32", func(mem []byte) {
			binary.NativeEndian.PutUint32(mem[blockNumPkts:], 0xffffffff)
			binary.NativeEndian.PutUint32(mem[48+112+pktNextOff:], 1<<20) // the second frame (after the first's 82+15 bytes, aligned) points away
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fakeRing(t, 4096, []fakeFrame{{data: ethFrame(0x0800, "a")}, {data: ethFrame(0x0800, "b")}})
			tc.mangle(r.mem)
			var err error
			for range 3 { // the two frames, then what the block's word claims
				if _, _, err = r.next(); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), "outside block") {
				t.Fatalf("err %v, want a frame outside its block", err)
			}
			if _, _, err := r.next(); err != errPollTimeout {
				t.Fatalf("read after the bad frame: %v, want the wait for the next block", err)
			}
			if s := binary.NativeEndian.Uint32(r.mem[blockStatusOff:]); s != tpStatusKernel {
				t.Errorf("block status %#x after a bad frame: not given back", s)
			}
		})
	}
}

// TestTPRingVLANAllocatesNothing: putting a tag back uses the ring's
// scratch buffer, not a new frame.
func TestTPRingVLANAllocatesNothing(t *testing.T) {
	frames := make([]fakeFrame, 8)
	for i := range frames {
		frames[i] = fakeFrame{data: ethFrame(0x0800, "tagged frame"), vlan: true, vlanTCI: 100}
	}
	r := fakeRing(t, 4096, frames)
	allocs := testing.AllocsPerRun(5, func() {
		if _, _, err := r.next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per tagged frame", allocs)
	}
}

// TestAFPacketCountsDrops fills a one-block ring that nobody reads: the
// kernel's drops reach Stats, and every dropped frame is also in Kernel.
func TestAFPacketCountsDrops(t *testing.T) {
	requireRoot(t)
	router, device := netnstest.New(t, "iotgwcap", "rtr"), netnstest.New(t, "iotgwcap", "dev")
	netnstest.Veth(t, router, "lan0", "10.98.9.1/24", device, "eth0", "10.98.9.2/24")
	src := openIn(t, router, context.Background(), AFPacketConfig{
		Interfaces: []string{"lan0"}, BlockSize: 4096, NumBlocks: 1, FrameSize: 2048,
		BlockTimeout: time.Millisecond})
	defer src.Close()
	// Sent in rounds until the kernel counted enough: the first frames
	// wait for ARP, and the neighbour queue may drop some of them.
	const sent = 200
	var st AFPacketStats
	deadline := time.Now().Add(10 * time.Second)
	for st.Kernel < sent || st.Drops == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after sending %d-frame rounds into a ring of 4 KiB nobody read", st, sent)
		}
		if err := netnstest.Run(device, func() error {
			c, err := net.ListenPacket("udp4", "10.98.9.2:0")
			if err != nil {
				return err
			}
			defer c.Close()
			to := &net.UDPAddr{IP: net.IPv4(10, 98, 9, 1), Port: 9}
			payload := bytes.Repeat([]byte{'x'}, 1000)
			for range sent {
				if _, err := c.WriteTo(payload, to); err != nil {
					return fmt.Errorf("send: %w", err)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Reading the kernel's counters resets them: the source adds
		// them up.
		st = src.Stats()
	}
	if st.Kernel < st.Drops {
		t.Errorf("stats %+v: drops not counted among the frames", st)
	}
	if st.Packets != 0 {
		t.Errorf("stats %+v: packets read, none were", st)
	}
}
