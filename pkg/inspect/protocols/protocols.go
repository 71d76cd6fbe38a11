// Package protocols is the one reviewed list of application protocols the
// engine runs, in priority order: when two protocols are equally sure of a
// flow, the earlier one wins. The generic plaintext analyzer comes last so
// that every real protocol's port match beats its guess.
package protocols

import (
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/dhcp"
	"github.com/iotgw/iotgw/pkg/inspect/dns"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/imap"
	"github.com/iotgw/iotgw/pkg/inspect/mqtt"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
	"github.com/iotgw/iotgw/pkg/inspect/plaintext"
	"github.com/iotgw/iotgw/pkg/inspect/pop3"
	"github.com/iotgw/iotgw/pkg/inspect/rtsp"
	"github.com/iotgw/iotgw/pkg/inspect/sip"
	"github.com/iotgw/iotgw/pkg/inspect/smtp"
	"github.com/iotgw/iotgw/pkg/inspect/snmp"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
	"github.com/iotgw/iotgw/pkg/inspect/ssh"
	"github.com/iotgw/iotgw/pkg/inspect/telnet"
	"github.com/iotgw/iotgw/pkg/inspect/tls"
	"github.com/iotgw/iotgw/pkg/inspect/wsd"
)

// All returns a fresh instance of every protocol. Instances hold pooled
// per-flow state, so each engine needs its own.
func All() []inspect.Protocol {
	scanner := pii.New()
	return []inspect.Protocol{
		tls.New(),
		http.New(scanner),
		rtsp.New(),
		sip.New(),
		ftp.New(),
		smtp.New(),
		pop3.New(),
		imap.New(),
		telnet.New(),
		ssh.New(),
		mqtt.New(scanner),
		snmp.New(),
		dhcp.New(),
		dns.New(),
		ssdp.New(),
		wsd.New(),
		plaintext.New(scanner),
	}
}
