package ssh

import (
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// kexinit stands in for the binary packets after the identification.
const kexinit = "\x00\x00\x01\x14\x0a\x14\x9f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x00\x00\x00\x2ecurve25519-sha256"

func TestIdentification(t *testing.T) {
	tests := []struct {
		name   string
		port   string // the server's, "22" when empty
		script func(c *inspecttest.Conv)
		banner string // "" for none
	}{
		{"server_first", "", func(c *inspecttest.Conv) {
			c.Server("SSH-2.0-dropbear_2014.63\r\n").Client("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n" + kexinit).Server(kexinit)
		}, "SSH-2.0-dropbear_2014.63"},
		{"client_first", "", func(c *inspecttest.Conv) {
			c.Client("SSH-2.0-OpenSSH_9.2p1\r\n" + kexinit).Server("SSH-2.0-OpenSSH_7.4p1\r\n" + kexinit)
		}, "SSH-2.0-OpenSSH_7.4p1"},
		{"split_and_bare_lf", "", func(c *inspecttest.Conv) {
			c.Server("SSH-2.0-drop").Server("bear_2019.78\n" + kexinit)
		}, "SSH-2.0-dropbear_2019.78"},
		{"lines_before", "", func(c *inspecttest.Conv) {
			c.Server("Welcome to the hall camera\r\nUnauthorized access prohibited\r\nSSH-2.0-dropbear_2017.75\r\n")
		}, "SSH-2.0-dropbear_2017.75"},
		{"lines_before_other_port", "8022", func(c *inspecttest.Conv) {
			c.Server("Welcome to the hall camera\r\nSSH-2.0-dropbear_2017.75\r\n").Client("SSH-2.0-OpenSSH_9.2p1\r\n" + kexinit)
		}, "SSH-2.0-dropbear_2017.75"},
		{"no_identification", "", func(c *inspecttest.Conv) {
			c.Server(strings.Repeat("not ssh\r\n", maxLinesBefore+2) + "SSH-2.0-dropbear_2017.75\r\n")
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			port := tt.port
			if port == "" {
				port = "22"
			}
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:"+port)
			tt.script(c)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindBanner)
			if tt.banner == "" {
				if len(got) != 0 {
					t.Fatalf("banners %v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].Evidence["protocol"] != "ssh" || got[0].Evidence["banner"] != tt.banner || got[0].Device.IP != "192.168.1.20" {
				t.Fatalf("banners %v, want %q about the server", got, tt.banner)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, port string
		dir        inspect.Dir
		b          string
		want       inspect.Confidence
	}{
		{"identification_any_port", "8022", inspect.ToClient, "SSH-2.0-x\r\n", inspect.ContentMatch},
		{"client_identification", "8022", inspect.ToServer, "SSH-2.0-x\r\n", inspect.ContentMatch},
		{"lines_before_any_port", "8022", inspect.ToClient, "Welcome\r\nAuthorized use only\nSSH-2.0-dropbear_2017.75\r\n", inspect.ContentMatch},
		{"lines_before_unfinished", "8022", inspect.ToClient, "Welcome\r\nSSH-2.0-drop", inspect.ContentMatch},
		{"ssh_port", "22", inspect.ToClient, "hello\r\n", inspect.PortMatch},
		{"other", "8022", inspect.ToClient, "hello\r\n", inspect.NoMatch},
		{"not_at_line_start", "8022", inspect.ToClient, "hello SSH-2.0-x\r\n", inspect.NoMatch},
		{"client_lines_before", "8022", inspect.ToServer, "hello\r\nSSH-2.0-x\r\n", inspect.NoMatch},
		{"too_many_lines_before", "8022", inspect.ToClient, strings.Repeat("hello\r\n", maxLinesBefore) + "SSH-2.0-x\r\n", inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspecttest.FirstMatch(t, New(), true, "192.168.1.10:40000", "192.168.1.20:"+tt.port, tt.dir, []byte(tt.b))
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestClientBytesNotHeld: the client's binary packets are consumed, not
// held waiting for a line end that never comes.
func TestClientBytesNotHeld(t *testing.T) {
	s := inspecttest.NewSession(t, New(), "198.51.100.7:22")
	s.Client("SSH-2.0-OpenSSH_9.2p1\r\n")
	f, a := s.Analyzer(t)
	if n := a.Feed(f, inspect.ToServer, []byte(kexinit)); n != len(kexinit) {
		t.Errorf("consumed %d of %d client bytes", n, len(kexinit))
	}
	inspecttest.ExchangeNoAllocs(t, f, a, []byte(kexinit), []byte("Please wait\r\n"))
}

// FuzzAnalyzer: any bytes from either side, in segments of any size,
// make at most one banner and a finding per end, and every offer table
// lent is given back when the connection ends.
func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte("SSH-2.0-dropbear_2014.63\r\n"), []byte("SSH-2.0-OpenSSH_9.2\r\n"+kexinit), uint8(0))
	f.Add([]byte("a\nb\nSSH-1.99-x\n"), []byte(""), uint8(0))
	weak := offer{kex: "diffie-hellman-group1-sha1", hostKey: "ssh-dss", ciphers: "3des-cbc", macs: "hmac-md5"}
	f.Add(append([]byte(serverIdent), weak.packet()...), append([]byte(clientIdent), modern.with(offer{kex: modern.kex + ",diffie-hellman-group1-sha1"}).packet()...), uint8(0))
	f.Add(append([]byte(serverIdent), modern.packet()...), append([]byte(clientIdent), modern.packet()...), uint8(0))
	f.Add(append([]byte(serverIdent), weak.packet()...), append([]byte(clientIdent), weak.packet()...), uint8(6))
	f.Fuzz(func(t *testing.T, server, client []byte, seg uint8) {
		col := &inspecttest.Collector{}
		p := New()
		e := inspecttest.Engine(t, col, nil, p)
		c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:22")
		if seg == 0 {
			c.ServerBytes(server).ClientBytes(client)
		} else {
			inspecttest.Interleave(c, client, server, int(seg))
		}
		c.Close()
		e.Flush()
		if n := len(col.Kind(event.KindBanner)); n > 1 {
			t.Fatalf("%d banners from one connection", n)
		}
		if n := len(col.Kind(event.KindWeakSSH)); n > 2 {
			t.Fatalf("%d weak_ssh findings from one connection", n)
		}
		if p.offers.Lent() != 0 {
			t.Fatalf("%d offer tables still lent after the connection ended", p.offers.Lent())
		}
	})
}

// TestAbandonGivesTheTableBack: after a panic in the analyzer the engine
// calls Abandon, which gives its offer table back: a few panics would
// otherwise keep every table lent for good.
func TestAbandonGivesTheTableBack(t *testing.T) {
	p := New()
	s := inspecttest.NewSession(t, p, "198.51.100.7:22")
	s.Client("SSH-2.0-OpenSSH_9.2p1\r\n")
	f, a := s.Analyzer(t)
	a.Feed(f, inspect.ToServer, []byte(kexinit)[:40])
	if p.offers.Lent() != 1 {
		t.Fatalf("%d offer tables lent while a KEXINIT is read, want 1", p.offers.Lent())
	}
	a.(inspect.Abandoner).Abandon(f)
	if p.offers.Lent() != 0 {
		t.Errorf("%d offer tables still lent after Abandon", p.offers.Lent())
	}
}
