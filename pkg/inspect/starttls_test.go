package inspect_test

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
)

// STARTTLS hands the rest of an SMTP session to the TLS analyzer: the
// corpus session's ClientHello is fingerprinted (MANIFEST: JA3
// fab507fe…, TLS 1.0) and the weak suite the server picked is a finding,
// while the session is no longer counted as plaintext use.
func TestStartTLSHandoff(t *testing.T) {
	col, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, "arkime-smtp-starttls.pcap"), nil, protocols.All()...)
	if err != nil {
		t.Fatal(err)
	}
	hellos := col.Kind(event.KindTLSClient)
	if len(hellos) != 1 || hellos[0].Evidence["ja3"] != "fab507fe132c544e8a0eb7c394affeae" || hellos[0].Evidence["ja4"] != "t10i290100_cdba58456bdf_e78b541c01a9" || hellos[0].Flow.App != "smtp" {
		t.Errorf("client hellos %v", hellos)
	}
	if n := len(col.Kind(event.KindWeakTLS)); n != 1 {
		t.Errorf("%d weak_tls findings, want 1 (TLS 1.0 with RC4)", n)
	}
	if n := len(col.Kind(event.KindPlaintextProtocol)); n != 0 {
		t.Errorf("%d plaintext_protocol findings for a session upgraded to TLS", n)
	}
	if n := len(col.Kind(event.KindPlaintextCredentials)); n != 0 {
		t.Errorf("%d credentials found after STARTTLS", n)
	}
}
