package capture

import (
	"strings"
	"testing"
	"time"
)

func TestAFPacketConfigDefaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     AFPacketConfig
		wantErr string
	}{
		{"defaults", AFPacketConfig{Interfaces: []string{"br-lan"}}, ""},
		{"no_interface", AFPacketConfig{}, "no interface"},
		{"negative_snaplen", AFPacketConfig{Interfaces: []string{"x"}, Snaplen: -1}, "negative"},
		{"ring_too_large", AFPacketConfig{Interfaces: []string{"x"}, BlockSize: 1 << 20, NumBlocks: 65}, "at most"},
		{"frame_not_aligned", AFPacketConfig{Interfaces: []string{"x"}, FrameSize: 1000}, "multiple of 16"},
		{"frame_not_dividing_block", AFPacketConfig{Interfaces: []string{"x"}, FrameSize: 3 << 10}, "dividing"},
		{"poll_timeout_too_short", AFPacketConfig{Interfaces: []string{"x"}, PollTimeout: time.Microsecond}, "1ms"},
		// 1 MiB × 4096 is 0 in a 32-bit int: no product is trusted.
		{"ring_size_wraps_int32", AFPacketConfig{Interfaces: []string{"x"}, BlockSize: 1 << 20, NumBlocks: 4096}, "at most"},
		// The kernel keeps the block timeout in 16 bits of milliseconds.
		{"block_timeout_wraps", AFPacketConfig{Interfaces: []string{"x"}, BlockTimeout: 65536 * time.Millisecond}, "block timeout at most"},
		{"poll_timeout_too_long", AFPacketConfig{Interfaces: []string{"x"}, PollTimeout: 30 * 24 * time.Hour}, "poll timeout at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.BlockSize*got.NumBlocks != 2<<20 || got.FrameSize != DefaultFrameSize || got.PollTimeout != DefaultPollTimeout || got.BlockTimeout != DefaultBlockTimeout {
				t.Errorf("defaults %+v", got)
			}
		})
	}
}

func TestNFLOGConfigDefaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     NFLOGConfig
		wantErr string
	}{
		{"defaults", NFLOGConfig{Group: 7}, ""},
		{"copy_range_too_large", NFLOGConfig{CopyRange: 70000}, "copy range"},
		{"flush_too_short", NFLOGConfig{FlushTimeout: time.Millisecond}, "flush timeout"},
		{"batch_too_large", NFLOGConfig{BatchSize: 1 << 20}, "batch size"},
		{"batch_too_small", NFLOGConfig{BatchSize: 100}, "batch size"},
		{"receive_buffer_too_large", NFLOGConfig{ReceiveBuffer: 1 << 30}, "receive buffer"},
		{"negative_threshold", NFLOGConfig{QueueThreshold: -1}, "threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := NFLOGConfig{Group: 7, CopyRange: 0xffff, QueueThreshold: DefaultQueueThreshold, FlushTimeout: DefaultFlushTimeout,
				BatchSize: DefaultBatchSize, ReceiveBuffer: DefaultReceiveBuffer}
			if got != want {
				t.Errorf("defaults %+v, want %+v", got, want)
			}
		})
	}
}

// TestDefaultLiveConfig checks that the router defaults are usable as
// they stand: the filter builds and both sources' settings validate.
func TestDefaultLiveConfig(t *testing.T) {
	c := DefaultLiveConfig()
	if c.Mode != ModeAFPacket || len(c.Interfaces) != 1 || c.Interfaces[0] != "br-lan" || !c.AFPacket.Promiscuous {
		t.Errorf("defaults %+v", c)
	}
	if _, err := FilterFor(c.Ports); err != nil {
		t.Error(err)
	}
	c.AFPacket.Interfaces = c.Interfaces
	if _, err := c.AFPacket.withDefaults(); err != nil {
		t.Error(err)
	}
	if _, err := c.NFLOG.withDefaults(); err != nil {
		t.Error(err)
	}
}
