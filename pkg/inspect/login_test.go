package inspect

import (
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestCredentialEventRefused: a default or weak password the device that
// checked it refused is no default or weak password of that device's:
// about it, the login is only one sent in clear (capability 4), never a
// capability 1 finding that fails its 5.1 provisions or calls for
// quarantine. A login the device sent and another end refused (or whose
// outcome was not seen) stays what its class says.
func TestCredentialEventRefused(t *testing.T) {
	tests := []struct {
		name      string
		class     PasswordClass
		outcome   Outcome
		refused   bool // the subject checked the login and refused it
		kind      event.Kind
		provision string
		summary   string
	}{
		{"default_refused_by_the_device", ClassDefault, OutcomeRejected, true, event.KindPlaintextCredentials, "5.5-7", "a factory-default password the device refused"},
		{"weak_refused_by_the_device", ClassWeak, OutcomeRejected, true, event.KindPlaintextCredentials, "5.5-7", "a weak password the device refused"},
		{"weak_accepted", ClassWeak, OutcomeAccepted, false, event.KindWeakCredentials, "5.1-2", "weak password sent in clear"},
		{"weak_outcome_not_seen", ClassWeak, OutcomeUnknown, false, event.KindWeakCredentials, "5.1-2", "accepted: unknown"},
		{"weak_sent_by_the_device_refused_elsewhere", ClassWeak, OutcomeRejected, false, event.KindWeakCredentials, "5.1-2", "accepted: no"},
		{"default_accepted", ClassDefault, OutcomeAccepted, false, event.KindDefaultCredentials, "5.1-1", "factory-default credentials"},
		{"unique_refused", ClassUnique, OutcomeRejected, true, event.KindPlaintextCredentials, "5.5-7", "unique, accepted: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Credential{Protocol: "ftp", Mechanism: "USER/PASS", User: "b***", Class: tt.class}
			ev := credentialEvent(c, tt.outcome, tt.refused)
			if ev.Kind != tt.kind || ev.Provision != tt.provision || !strings.Contains(ev.Summary, tt.summary) {
				t.Errorf("%s %s %q, want %s %s with %q", ev.Kind, ev.Provision, ev.Summary, tt.kind, tt.provision, tt.summary)
			}
			if ev.Evidence["password_class"] != string(tt.class) || ev.Evidence["accepted"] != tt.outcome.String() {
				t.Errorf("evidence %v", ev.Evidence)
			}
		})
	}
}
