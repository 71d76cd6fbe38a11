package inspect_test

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
)

// anyFlow runs a protocol on every flow, whatever its bytes.
type anyFlow struct{ inspect.Protocol }

func (anyFlow) Match(*inspect.Flow, inspect.Dir, []byte) inspect.Confidence {
	return inspect.ContentMatch
}

// TestEveryAnalyzerTakesLossFirst: every protocol's analyzer copes with
// Gap in both directions before it read a byte (the capture lost the
// start of each direction before the flow was identified): it does not
// panic, nor report anything of the lines after the loss, which are no
// greeting, command or reply it can place: not even a line that would
// have been the greeting of a connection seen from its start.
func TestEveryAnalyzerTakesLossFirst(t *testing.T) {
	ports := map[string]string{
		"tls": "443", "http": "80", "rtsp": "554", "sip": "5060", "ftp": "21", "smtp": "25", "pop3": "110", "imap": "143",
		"telnet": "23", "ssh": "22", "mqtt": "1883", "snmp": "161", "dhcp": "67", "dns": "53", "ssdp": "1900", "wsd": "3702", "text": "9999",
	}
	// What would be the greeting, had the server's first bytes not been
	// lost: a banner naming the account.
	greetings := map[string]string{
		"imap":   "* OK Anna Schmidt's mail\r\n",
		"pop3":   "+OK Anna Schmidt's mail\r\n",
		"telnet": "Anna Schmidt's camera\r\nlogin: ",
	}
	for _, p := range protocols.All() {
		t.Run(p.Name(), func(t *testing.T) {
			port, ok := ports[p.Name()]
			if !ok {
				t.Fatalf("no port for %s", p.Name())
			}
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, anyFlow{p})
			c := inspecttest.NewTCP(e, inspecttest.LANClient, "198.51.100.7:"+port)
			c.Lose(inspect.ToClient, 40).Lose(inspect.ToServer, 40)
			first, ok := greetings[p.Name()]
			if !ok {
				first = "ok\r\n"
			}
			c.Server(first).Client("ok\r\n")
			c.Close()
			e.Flush()
			for _, ev := range col.Events {
				t.Errorf("%s event %v of bytes after a loss", ev.Kind, ev.Evidence)
			}
		})
	}
}
