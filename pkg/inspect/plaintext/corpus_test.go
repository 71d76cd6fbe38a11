package plaintext

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
)

// TestCorpus runs every capture of the shared corpus through the text
// analyzer (behind the FTP analyzer, as in the registry) and compares the
// personal data found with what a reader of each capture finds. The
// corpus was collected for credentials, so most files hold none: for
// them nothing may be reported.
func TestCorpus(t *testing.T) {
	want := map[string][]string{
		// Digest username="user12345678@domain.xxxx" between two LAN hosts.
		"arkime-http-digestauth.pcap": {"email username lan_to_lan low"},
		// MAIL FROM/RCPT TO of a client submitting mail to an internet server.
		"arkime-smtp-data-250.pcap": {"email  lan_to_wan medium"},
		"sv-smtp-bug-5981.pcap":     {"email  lan_to_wan medium"},
		// A POP3 server on the internet delivering mail with addresses in
		// its headers, on two connections.
		"zeek-pop3-pop3.pcap": {"email  wan_to_lan medium", "email  wan_to_lan medium"},
	}
	dir := filepath.Dir(inspecttest.CorpusFile(t, "zeek-empty.pcap"))
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range files {
		name := ent.Name()
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, filepath.Join(dir, name), nil, ftp.New(), New(pii.New()))
			if err != nil {
				t.Logf("read error (the capture is truncated on purpose): %v", err)
			}
			var got []string
			for _, ev := range c.Kind(event.KindPersonalData) {
				got = append(got, strings.Join([]string{ev.Evidence["data_kind"], ev.Evidence["field"], ev.Evidence["direction"], ev.Severity.String()}, " "))
			}
			if !slices.Equal(got, want[name]) {
				t.Fatalf("personal data %q, want %q", got, want[name])
			}
			// Flows in clear between LAN hosts are observations, not
			// findings (TestPlaintextProtocolOnTheLAN).
			n := len(c.Kind(event.KindScanning))
			for _, ev := range c.Kind(event.KindPlaintextProtocol) {
				if ev.IsFinding() {
					n++
				}
			}
			if n != 0 {
				t.Fatalf("%d scanning/plaintext_protocol findings in a capture without any", n)
			}
			for _, secret := range []string{"user12345678@domain", "12345678@aol.com", "xxxxxx@xxxxx.co.uk", "digitalinvestigator@networksims.com"} {
				if inspecttest.Leaks(t, c.Events, secret) {
					t.Errorf("%q leaked", secret)
				}
			}
		})
	}
}

// TestCorpusSMTPToInternet labels the SMTP submissions of the corpus with
// a stand-in SMTP protocol, as the real one will, and expects one
// plaintext_protocol finding per client, server and protocol.
func TestCorpusSMTPToInternet(t *testing.T) {
	tests := []struct{ file, dst, port string }{
		{"arkime-smtp-data-250.pcap", "64.12.168.40", "587"},
		{"sv-smtp-bug-5981.pcap", "217.12.11.66", "587"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			smtp := &portProto{name: "smtp", port: 587}
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, smtp, New(pii.New()))
			if err != nil {
				t.Fatal(err)
			}
			got := c.Kind(event.KindPlaintextProtocol)
			if len(got) != 1 || got[0].Evidence["destination"] != tt.dst || got[0].Evidence["port"] != tt.port ||
				got[0].Evidence["protocol"] != "smtp" || got[0].Severity != event.SeverityLow {
				t.Fatalf("plaintext_protocol findings %v", got)
			}
		})
	}
}

// portProto claims flows to one server port.
type portProto struct {
	name string
	port uint16
}

func (p *portProto) Name() string { return p.name }
func (p *portProto) Match(f *inspect.Flow, _ inspect.Dir, _ []byte) inspect.Confidence {
	if f.Server().Port() == p.port {
		return inspect.PortMatch
	}
	return inspect.NoMatch
}
func (p *portProto) NewAnalyzer(*inspect.Flow) inspect.Analyzer { return nopAnalyzer{} }
