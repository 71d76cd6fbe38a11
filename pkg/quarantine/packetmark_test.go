package quarantine

import (
	"strings"
	"testing"
)

// TestLayoutPacketMark pins the afpacket layout: the spent fast path
// (after the jump that checks a quarantined MAC) and the capture chain
// mark the packet (its bit only) where the nflog layout returns or logs,
// nothing goes to NFLOG, and the bridge table has no capture chain even
// with bridge conntrack.
func TestLayoutPacketMark(t *testing.T) {
	cfg := dnsCfg()
	cfg.Capture = CaptureConfig{Enabled: true, Bytes: 4096, PacketMark: DefaultPacketMark}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	l := newLayout(cfg, true)
	chains := map[string][]string{}
	for _, c := range l.inet.chains {
		for _, r := range c.rules {
			chains[c.name] = append(chains[c.name], r.text)
		}
	}
	wantForward := []string{
		"ct status seen-reply / expected,seen-reply ct direction reply ct mark & 0x00008000 == 0x00008000 meta mark set meta mark | 0x20000000 return",
		"ct status seen-reply / expected,seen-reply ct direction original ct mark & 0x00004000 == 0x00004000 meta mark set meta mark | 0x20000000 return",
	}
	if got := chains["forward"][1:3]; strings.Join(got, "\n") != strings.Join(wantForward, "\n") {
		t.Errorf("forward chain starts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantForward, "\n"))
	}
	wantCapture := []string{
		"ct direction reply ct reply bytes >= 4096 ct reply packets >= 4 ct mark set ct mark | 0x00008000 meta mark set meta mark | 0x20000000 return",
		"ct direction original ct original bytes >= 4096 ct original packets >= 4 ct mark set ct mark | 0x00004000 meta mark set meta mark | 0x20000000 return",
		"ct packets 0 ct mark set ct mark | 0x0000c000 meta mark set meta mark | 0x20000000 return",
	}
	if got := chains["capture"]; strings.Join(got, "\n") != strings.Join(wantCapture, "\n") {
		t.Errorf("capture chain:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCapture, "\n"))
	}
	// What no quarantine stops still reaches the capture chain, once.
	if n := strings.Count(strings.Join(chains["forward"], "\n"), "goto capture"); n < 2 {
		t.Errorf("forward chain reaches capture %d times:\n%s", n, strings.Join(chains["forward"], "\n"))
	}
	for name, rules := range chains {
		for _, r := range rules {
			if strings.Contains(r, "log group") {
				t.Errorf("chain %s logs: %s", name, r)
			}
		}
	}
	for _, c := range l.bridge.chains {
		if c.name == "capture" {
			t.Error("the bridge table has a capture chain")
		}
	}
	if l.bridgeCapture {
		t.Error("bridgeCapture set")
	}

	// The nflog layout is untouched by the field's existence.
	nflogCfg := dnsCfg()
	nflogCfg.Capture = CaptureConfig{Enabled: true, Group: 5, Snaplen: 256, Bytes: 4096}
	nflogCfg, err = nflogCfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range captureRules(nflogCfg.Capture) {
		if strings.Contains(r.text, "meta mark") {
			t.Errorf("nflog capture rule marks: %s", r.text)
		}
	}
	if l2 := newLayout(nflogCfg, false); l2.tag == l.tag {
		t.Error("the afpacket and nflog layouts have the same tag")
	}
}
