package quarantine

import (
	"strings"
	"testing"
)

// TestForwardNoDeadEstablishedRules: forward accepts established and
// related packets early, so a rule in a chain that forward reaches only
// after that accept, testing for those states, can never match. Such a
// rule reads as a way in that is not there.
func TestForwardNoDeadEstablishedRules(t *testing.T) {
	withCapture := dnsCfg()
	withCapture.Capture = CaptureConfig{Enabled: true, Group: 5, Snaplen: 256, Bytes: 4096}
	isolateLAN := testCfg
	isolateLAN.IsolateLAN = true
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"minimal", testCfg},
		{"dns_proxy_lan_interfaces", dnsCfg()},
		{"capture", withCapture},
		{"isolate_lan", isolateLAN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			chains := map[string][]ruleDef{}
			for _, c := range newLayout(cfg, true).inet.chains {
				chains[c.name] = c.rules
			}
			const establishedAccept = "ct state established,related "
			forward := chains["forward"]
			first := -1
			for i, r := range forward {
				// Unconditional: the state and a verdict, nothing else.
				if v, ok := strings.CutPrefix(r.text, establishedAccept); ok && (v == "accept" || strings.HasPrefix(v, "goto ")) {
					first = i
					break
				}
			}
			if first < 0 {
				t.Fatal("forward has no established fast path")
			}
			// The chains reached from the rules after it, and theirs.
			reached := map[string]bool{}
			queue := forward[first+1:]
			for len(queue) > 0 {
				r := queue[0]
				queue = queue[1:]
				for _, verb := range []string{"goto ", "jump "} {
					_, target, ok := strings.Cut(r.text, verb)
					if !ok || reached[target] {
						continue
					}
					reached[target] = true
					queue = append(queue, chains[target]...)
				}
			}
			for name := range reached {
				for _, r := range chains[name] {
					if strings.Contains(r.text, "ct state established") {
						t.Errorf("chain %s: rule %q can never match", name, r.text)
					}
				}
			}
		})
	}
}
