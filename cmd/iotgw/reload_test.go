package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/config"
)

// TestNeedRestart: a reload names the sections it did not apply, and only
// those.
func TestNeedRestart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"policy", func(c *config.Config) { c.Policy.Mode = "enforce" }, nil},
		{"management addresses", func(c *config.Config) {
			c.Daemon.ManagementAddresses = []netip.Addr{netip.MustParseAddr("192.168.1.50")}
		}, nil},
		{"feed file", func(c *config.Config) { c.Advisory.FeedFile = "/etc/iotgw/feed.json" }, nil},
		{"web and dns proxy", func(c *config.Config) { c.Web.Port++; c.DNSProxy.Port++ }, []string{"dnsproxy", "web"}},
		{"an alert channel", func(c *config.Config) {
			c.Alert.Channels = []alert.ChannelConfig{{Type: alert.TypeNtfy, Name: "phone", Topic: "x"}}
		}, []string{"alert"}},
		{"log level", func(c *config.Config) { c.Daemon.LogLevel = "debug" }, []string{"daemon"}},
	} {
		running, next := config.Default(), config.Default()
		tc.change(next)
		if got := needRestart(running, next); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
