package capture

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/net/bpf"
)

// Live capture modes, the values of LiveConfig.Mode.
const (
	// ModeAFPacket reads every frame the BPF filter passes from a
	// memory-mapped ring on the LAN interfaces.
	ModeAFPacket = "afpacket"
	// ModeNFLOG reads what nftables rules send to an NFLOG group: on the
	// router, the first bytes of each forwarded connection.
	ModeNFLOG = "nflog"
)

// LiveConfig selects and sizes the live packet source.
type LiveConfig struct {
	Mode string // ModeAFPacket or ModeNFLOG
	// Interfaces to capture on (afpacket).
	Interfaces []string
	// Ports decides what the afpacket filter passes.
	Ports    PortSet
	AFPacket AFPacketConfig
	NFLOG    NFLOGConfig
}

// DefaultLiveConfig is the configuration for an OpenWrt router: the ring
// on the LAN bridge br-lan, promiscuous so that traffic the bridge
// forwards between LAN ports is seen too, the inspectors' ports.
func DefaultLiveConfig() LiveConfig {
	return LiveConfig{
		Mode:       ModeAFPacket,
		Interfaces: []string{"br-lan"},
		Ports:      PortSet{Ports: DefaultPorts()},
		AFPacket: AFPacketConfig{
			BlockSize:    DefaultBlockSize,
			NumBlocks:    DefaultNumBlocks,
			FrameSize:    DefaultFrameSize,
			BlockTimeout: DefaultBlockTimeout,
			PollTimeout:  DefaultPollTimeout,
			Promiscuous:  true,
		},
		NFLOG: NFLOGConfig{
			Group:          DefaultNFLOGGroup,
			CopyRange:      maxNFLOGSnaplen,
			QueueThreshold: DefaultQueueThreshold,
			FlushTimeout:   DefaultFlushTimeout,
			BatchSize:      DefaultBatchSize,
			ReceiveBuffer:  DefaultReceiveBuffer,
		},
	}
}

// AFPacketConfig sizes the TPACKET_V3 rings. Each interface gets its own
// ring of BlockSize × NumBlocks bytes (2 MiB by default), locked in
// memory shared with the kernel: that is all the memory the source uses.
type AFPacketConfig struct {
	// Interfaces to capture. With several, a packet the router routes
	// from one to another is read once, as received from its sender.
	Interfaces []string
	// Filter is the classic BPF program attached to every ring (see
	// FilterFor); nil passes every frame.
	Filter []bpf.RawInstruction
	// BlockSize is the ring's unit of hand-over, a multiple of the page
	// size; a frame longer than a block is cut. Default 128 KiB.
	BlockSize int
	// NumBlocks per ring. Default 16.
	NumBlocks int
	// FrameSize is the kernel's frame slot size, a multiple of 16 that
	// divides BlockSize; with TPACKET_V3 frames are packed by their real
	// length, so it only bounds the frame count. Default 2048.
	FrameSize int
	// BlockTimeout: the kernel hands over a block that is not full after
	// this long, so a quiet network is still read promptly. Default 50 ms.
	BlockTimeout time.Duration
	// PollTimeout bounds how long a read waits before it notices Close or
	// the context's end. Default 200 ms.
	PollTimeout time.Duration
	// Snaplen keeps at most this many bytes of each frame; 0 keeps whole
	// frames (up to the block size).
	Snaplen int
	// Promiscuous also captures frames not addressed to the interface: on
	// a bridge, the traffic it forwards between its ports.
	Promiscuous bool
	// RestoreVLAN puts back the 802.1Q tag the kernel moved out of the
	// frame (VLAN offload), so that the decoder sees the VLAN id. It costs
	// a copy of each tagged frame; off, such frames read as untagged.
	RestoreVLAN bool
	// SkipMissing opens rings on the interfaces that exist and are up and
	// leaves out the others (a guest bridge switched off), which Missing
	// names; with none there, the source reads nothing until one is. Once
	// one of them is up (looked for every MissingCheck, default 10 s), or
	// a ring's interface goes down or away, ReadPacket returns
	// ErrInterfacesChanged, for the caller to open the source again.
	SkipMissing  bool
	MissingCheck time.Duration
}

// Defaults of AFPacketConfig; a zero field takes its default.
const (
	DefaultBlockSize    = 128 << 10
	DefaultNumBlocks    = 16
	DefaultFrameSize    = 2048
	DefaultBlockTimeout = 50 * time.Millisecond
	DefaultPollTimeout  = 200 * time.Millisecond
	DefaultMissingCheck = 10 * time.Second
)

// maxRingBytes caps one ring: more than this is a configuration mistake on
// a router.
const maxRingBytes = 64 << 20

// Upper bounds of the AF_PACKET timeouts.
const (
	maxBlockTimeout = 65535 * time.Millisecond
	maxPollTimeout  = time.Hour
)

func (c AFPacketConfig) withDefaults() (AFPacketConfig, error) {
	if len(c.Interfaces) == 0 {
		return c, errors.New("afpacket: no interface")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.BlockSize, DefaultBlockSize)
	def(&c.NumBlocks, DefaultNumBlocks)
	def(&c.FrameSize, DefaultFrameSize)
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.MissingCheck == 0 {
		c.MissingCheck = DefaultMissingCheck
	}
	switch {
	case c.BlockSize < 0 || c.NumBlocks < 0 || c.FrameSize < 0 || c.Snaplen < 0:
		return c, errors.New("afpacket: negative ring size or snap length")
	case c.BlockSize > maxRingBytes/c.NumBlocks: // no product that overflows a 32-bit int
		return c, fmt.Errorf("afpacket: ring of %d × %d bytes, at most %d", c.NumBlocks, c.BlockSize, maxRingBytes)
	case c.FrameSize%16 != 0 || c.BlockSize%c.FrameSize != 0:
		return c, fmt.Errorf("afpacket: frame size %d must be a multiple of 16 dividing the block size %d", c.FrameSize, c.BlockSize)
	case c.BlockTimeout < time.Millisecond || c.PollTimeout < time.Millisecond || c.MissingCheck < time.Millisecond:
		return c, errors.New("afpacket: block and poll timeouts and the missing check must be at least 1ms")
	case c.BlockTimeout > maxBlockTimeout || c.PollTimeout > maxPollTimeout:
		// The kernel keeps the block timeout in 16 bits of milliseconds,
		// and poll takes a C int of them.
		return c, fmt.Errorf("afpacket: block timeout at most %v, poll timeout at most %v", maxBlockTimeout, maxPollTimeout)
	}
	return c, nil
}

// AFPacketStats counts an AF_PACKET source's frames. Fields only grow.
type AFPacketStats struct {
	Packets uint64 // frames returned by ReadPacket
	Kernel  uint64 // frames the filter passed to the rings, dropped ones included
	Drops   uint64 // frames lost because a ring was full
}

// NFLOGConfig binds the NFLOG source to its group and sets how the kernel
// batches packets. Memory: the socket's ReceiveBuffer in the kernel and
// one BatchSize buffer (at least one full packet message) in the daemon.
type NFLOGConfig struct {
	// Group is the NFLOG group the nftables rules log to ("log group N").
	Group uint16
	// CopyRange is the most bytes of a packet copied (the rules' snaplen
	// also applies). 0 means the largest, 65535.
	CopyRange int
	// QueueThreshold: the kernel sends once this many packets wait.
	// Default 32.
	QueueThreshold int
	// FlushTimeout: the kernel sends waiting packets after this long,
	// however few (10 ms steps). Default 50 ms.
	FlushTimeout time.Duration
	// BatchSize is the kernel's buffer for one batch of messages
	// (nlbufsiz), at most 128 KiB. Default 64 KiB.
	BatchSize int
	// ReceiveBuffer is the socket's receive buffer; when batches arrive
	// faster than they are read and it fills, the kernel drops them.
	// Default 1 MiB.
	ReceiveBuffer int
}

// Defaults of NFLOGConfig; a zero field takes its default.
const (
	DefaultNFLOGGroup     = 7
	DefaultQueueThreshold = 32
	DefaultFlushTimeout   = 50 * time.Millisecond
	DefaultBatchSize      = 64 << 10
	DefaultReceiveBuffer  = 1 << 20
	maxNFLOGBatch         = 128 << 10
	maxReceiveBuffer      = 64 << 20
)

func (c NFLOGConfig) withDefaults() (NFLOGConfig, error) {
	if c.CopyRange == 0 {
		c.CopyRange = maxNFLOGSnaplen
	}
	if c.QueueThreshold == 0 {
		c.QueueThreshold = DefaultQueueThreshold
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.ReceiveBuffer == 0 {
		c.ReceiveBuffer = DefaultReceiveBuffer
	}
	switch {
	case c.CopyRange < 0 || c.CopyRange > maxNFLOGSnaplen:
		return c, fmt.Errorf("nflog: copy range %d outside 1..%d", c.CopyRange, maxNFLOGSnaplen)
	case c.QueueThreshold < 0:
		return c, errors.New("nflog: negative queue threshold")
	case c.FlushTimeout < 10*time.Millisecond:
		return c, errors.New("nflog: flush timeout below 10ms")
	case c.BatchSize < 4096 || c.BatchSize > maxNFLOGBatch:
		return c, fmt.Errorf("nflog: batch size %d outside 4096..%d", c.BatchSize, maxNFLOGBatch)
	case c.ReceiveBuffer < 0 || c.ReceiveBuffer > maxReceiveBuffer:
		return c, fmt.Errorf("nflog: receive buffer %d outside 0..%d", c.ReceiveBuffer, maxReceiveBuffer)
	}
	return c, nil
}
