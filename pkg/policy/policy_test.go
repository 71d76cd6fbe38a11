package policy

import (
	"maps"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func finding(kind event.Kind, sev event.Severity, ev event.Evidence) *event.Event {
	return &event.Event{Type: event.TypeFinding, Time: t0, Kind: kind, Severity: sev, Summary: string(kind), Evidence: ev}
}

func counted(e *event.Event, n int) *event.Event {
	c := *e
	c.Count = n
	return &c
}

// later is e first seen d after t0, n times, as another finding of its
// kind (another protocol).
func later(e *event.Event, d time.Duration, n int) *event.Event {
	c := counted(e, n)
	c.Time = t0.Add(d)
	c.Evidence = maps.Clone(e.Evidence)
	if c.Evidence == nil {
		c.Evidence = event.Evidence{}
	}
	c.Evidence["protocol"] = "telnet"
	return c
}

// isolateAtThree isolates on plaintext protocols seen three times.
func isolateAtThree(p *config.Policy) {
	p.Actions["plaintext_protocol"] = config.ActionIsolate
	p.Thresholds = map[string]int{"plaintext_protocol": 3}
}

var cam = hwaddr.MAC{0xc0, 0x56, 0xe3, 1, 2, 3}

func TestEvaluate(t *testing.T) {
	defaultCreds := finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "yes"})
	plaintext := finding(event.KindPlaintextProtocol, event.SeverityLow, nil)
	info := finding(event.KindPlaintextProtocol, event.SeverityInfo, nil)
	outdatedExploited := finding(event.KindOutdatedFirmware, event.SeverityHigh, event.Evidence{"exploited": "yes"})
	outdated := finding(event.KindOutdatedFirmware, event.SeverityHigh, nil)
	obs := &event.Event{Type: event.TypeObservation, Kind: event.KindBanner}

	withRule := func(r config.DeviceRule) func(*config.Policy) {
		return func(p *config.Policy) { r.MAC = cam; p.Devices = append(p.Devices, r) }
	}
	tests := []struct {
		name      string
		tweak     func(*config.Policy)
		device    Device
		want      config.Action
		reasons   int
		note      bool
		enforcing bool
		now       time.Time
		pending   bool
	}{
		{name: "nothing", device: Device{MAC: cam}, want: config.ActionIgnore},
		{name: "observations_only", device: Device{MAC: cam, Findings: []*event.Event{obs}}, want: config.ActionIgnore},
		{name: "default_credentials_quarantine", device: Device{MAC: cam, Findings: []*event.Event{defaultCreds, plaintext}}, want: config.ActionQuarantine, reasons: 2},
		{name: "plaintext_alert", device: Device{MAC: cam, Findings: []*event.Event{plaintext}}, want: config.ActionAlert, reasons: 1},
		{name: "below_min_severity", device: Device{MAC: cam, Findings: []*event.Event{info}}, want: config.ActionIgnore},
		{name: "outdated_exploited_quarantine", device: Device{MAC: cam, Findings: []*event.Event{outdatedExploited}}, want: config.ActionQuarantine, reasons: 1},
		{name: "outdated_not_exploited_alert", device: Device{MAC: cam, Findings: []*event.Event{outdated}}, want: config.ActionAlert, reasons: 1},
		// A version only one forged datagram needs to claim (SSDP, mDNS,
		// DHCP) alerts; one seen over a connection too quarantines.
		{name: "outdated_exploited_from_announcements_only_alert", device: Device{MAC: cam, Findings: []*event.Event{
			finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "ssdp,dhcp"})}},
			want: config.ActionAlert, reasons: 1},
		// A source no list classes is as weak as a claim.
		{name: "outdated_exploited_from_unknown_source_alert", device: Device{MAC: cam, Findings: []*event.Event{
			finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "ssdp,banner/newproto"})}},
			want: config.ActionAlert, reasons: 1},
		{name: "outdated_exploited_confirmed_over_tcp", device: Device{MAC: cam, Findings: []*event.Event{
			finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "ssdp,http_server"})}},
			want: config.ActionQuarantine, reasons: 1},
		// A distribution's build may carry the fix under the upstream
		// version (Debian, Ubuntu, Red Hat backport): it alerts, whatever
		// the action and however firm its source; an upstream build of
		// the version quarantines.
		{name: "outdated_exploited_distribution_build_alert", device: Device{MAC: cam, Findings: []*event.Event{
			finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "http_server", "distribution_build": "yes", "distribution": "Ubuntu"})}},
			want: config.ActionAlert, reasons: 1},
		{name: "outdated_distribution_build_alert_when_any_configured", tweak: func(p *config.Policy) { p.QuarantineExploitedOnly = false },
			device: Device{MAC: cam, Findings: []*event.Event{
				finding(event.KindOutdatedFirmware, event.SeverityHigh, event.Evidence{"software_source": "banner/ssh", "distribution_build": "yes", "distribution": "Debian"})}},
			want: config.ActionAlert, reasons: 1},
		{name: "outdated_distribution_build_alert_when_isolating", tweak: func(p *config.Policy) { p.Actions["outdated_firmware"] = config.ActionIsolate },
			device: Device{MAC: cam, Findings: []*event.Event{
				finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "http_server", "distribution_build": "yes"})}},
			want: config.ActionAlert, reasons: 1},
		{name: "outdated_exploited_upstream_build_quarantine", device: Device{MAC: cam, Findings: []*event.Event{
			finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "http_server", "distribution_build": "no"})}},
			want: config.ActionQuarantine, reasons: 1},
		{name: "outdated_any_when_configured", tweak: func(p *config.Policy) { p.QuarantineExploitedOnly = false },
			device: Device{MAC: cam, Findings: []*event.Event{outdated}}, want: config.ActionQuarantine, reasons: 1},
		{name: "trusted_downgraded", tweak: withRule(config.DeviceRule{Trusted: true}),
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionAlert, reasons: 1, note: true},
		{name: "protected_downgraded", device: Device{MAC: cam, Protected: true, Findings: []*event.Event{defaultCreds}}, want: config.ActionAlert, reasons: 1, note: true},
		{name: "exempt_kind", tweak: withRule(config.DeviceRule{Exempt: []string{"default_credentials"}}),
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionIgnore},
		{name: "forced_quarantine", tweak: withRule(config.DeviceRule{Force: config.ActionQuarantine}),
			device: Device{MAC: cam}, want: config.ActionQuarantine, note: true},
		{name: "isolate_action", tweak: func(p *config.Policy) { p.Actions["plaintext_protocol"] = config.ActionIsolate },
			device: Device{MAC: cam, Findings: []*event.Event{plaintext}}, want: config.ActionIsolate, reasons: 1},
		{name: "ignore_action", tweak: func(p *config.Policy) { p.Actions["default_credentials"] = config.ActionIgnore },
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionIgnore},
		{name: "enforce_mode", tweak: func(p *config.Policy) { p.Mode = "enforce" },
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionQuarantine, reasons: 1, enforcing: true},
		{name: "grace_pending", tweak: func(p *config.Policy) { p.Grace.Duration = 10 * time.Minute },
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, now: t0.Add(time.Minute), want: config.ActionAlert, reasons: 1, note: true, pending: true},
		{name: "grace_over", tweak: func(p *config.Policy) { p.Grace.Duration = 10 * time.Minute },
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, now: t0.Add(11 * time.Minute), want: config.ActionQuarantine, reasons: 1},
		{name: "grace_offline_ignored", tweak: func(p *config.Policy) { p.Grace.Duration = 10 * time.Minute },
			device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionQuarantine, reasons: 1},
		{name: "grace_not_for_forced", tweak: func(p *config.Policy) { p.Grace.Duration = 10 * time.Minute },
			device: Device{MAC: cam, Owner: &config.DeviceRule{MAC: cam, Force: config.ActionQuarantine}}, now: t0, want: config.ActionQuarantine, note: true},
		{name: "threshold_not_reached", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"plaintext_protocol": 3} },
			device: Device{MAC: cam, Findings: []*event.Event{plaintext}}, want: config.ActionIgnore},
		{name: "threshold_reached_by_count", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"plaintext_protocol": 3} },
			device: Device{MAC: cam, Findings: []*event.Event{counted(plaintext, 3)}}, want: config.ActionAlert, reasons: 1},
		{name: "owner_rule_beats_config", tweak: withRule(config.DeviceRule{Force: config.ActionQuarantine}),
			device: Device{MAC: cam, Owner: &config.DeviceRule{MAC: cam, Trusted: true}, Findings: []*event.Event{defaultCreds}}, want: config.ActionAlert, reasons: 1, note: true},
		{name: "released_knowing_the_finding", device: Device{MAC: cam, ReleasedAt: t0.Add(time.Minute), Findings: []*event.Event{defaultCreds}},
			want: config.ActionAlert, reasons: 1},
		{name: "new_finding_after_release", device: Device{MAC: cam, ReleasedAt: t0.Add(-time.Minute), Findings: []*event.Event{defaultCreds}},
			want: config.ActionQuarantine, reasons: 1},
		// A threshold counts only what the owner has not seen: after a
		// release, one new finding does not isolate again; three do.
		{name: "threshold_after_release_counts_new_findings_only", tweak: isolateAtThree,
			device: Device{MAC: cam, ReleasedAt: t0.Add(time.Hour), Findings: []*event.Event{counted(plaintext, 3), later(plaintext, 2*time.Hour, 1)}},
			want:   config.ActionAlert, reasons: 2},
		{name: "threshold_after_release_reached_again", tweak: isolateAtThree,
			device: Device{MAC: cam, ReleasedAt: t0.Add(time.Hour), Findings: []*event.Event{counted(plaintext, 3), later(plaintext, 2*time.Hour, 3)}},
			want:   config.ActionIsolate, reasons: 2},
		// Low findings below min_severity do not count towards a
		// threshold that a medium one then reaches.
		{name: "threshold_counts_only_findings_at_min_severity", tweak: func(p *config.Policy) {
			isolateAtThree(p)
			p.MinSeverity = event.SeverityMedium
		}, device: Device{MAC: cam, Findings: []*event.Event{counted(plaintext, 2), later(finding(event.KindPlaintextProtocol, event.SeverityMedium, nil), time.Minute, 1)}},
			want: config.ActionIgnore},
		// Towards a threshold for quarantine count only findings that
		// would quarantine: logins not seen accepted (refused, their
		// answer missed, on a joined connection) and versions only
		// announced (which anyone can forge in the device's name) count
		// towards alerting.
		{name: "threshold_quarantine_counts_no_unconfirmed_login", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"default_credentials": 3} },
			device: Device{MAC: cam, Findings: []*event.Event{
				defaultCreds,
				later(finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "no"}), time.Minute, 2)}},
			want: config.ActionAlert, reasons: 2},
		{name: "threshold_quarantine_reached_by_confirmed_logins", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"default_credentials": 3} },
			device: Device{MAC: cam, Findings: []*event.Event{
				counted(defaultCreds, 3),
				later(finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "no"}), time.Minute, 2)}},
			want: config.ActionQuarantine, reasons: 2},
		{name: "threshold_quarantine_counts_no_forgeable_version", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"outdated_firmware": 2} },
			device: Device{MAC: cam, Findings: []*event.Event{
				outdatedExploited,
				later(finding(event.KindOutdatedFirmware, event.SeverityCritical, event.Evidence{"exploited": "yes", "software_source": "ssdp"}), time.Minute, 5)}},
			want: config.ActionAlert, reasons: 2},
		// After a release, likewise: refused logins since do not make
		// up the count for quarantining again.
		{name: "threshold_after_release_counts_no_unconfirmed_login", tweak: func(p *config.Policy) { p.Thresholds = map[string]int{"default_credentials": 2} },
			device: Device{MAC: cam, ReleasedAt: t0.Add(time.Hour), Findings: []*event.Event{
				counted(defaultCreds, 2),
				later(defaultCreds, 2*time.Hour, 1),
				later(finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "no", "user": "x"}), 2*time.Hour, 1)}},
			want: config.ActionAlert, reasons: 3},
		// A grace period that ran before the owner's release does not
		// carry over to a new finding after it.
		{name: "grace_starts_again_after_release", tweak: func(p *config.Policy) { p.Grace.Duration = time.Hour },
			device: Device{MAC: cam, ReleasedAt: t0.Add(2 * time.Hour), StrongSince: t0,
				Findings: []*event.Event{later(defaultCreds, 2*time.Hour+10*time.Minute, 1)}},
			now: t0.Add(2*time.Hour + 11*time.Minute), want: config.ActionAlert, reasons: 1, note: true, pending: true},
		{name: "rule_for_other_mac_ignored", tweak: func(p *config.Policy) {
			p.Devices = append(p.Devices, config.DeviceRule{MAC: hwaddr.MAC{2}, Trusted: true})
		}, device: Device{MAC: cam, Findings: []*event.Event{defaultCreds}}, want: config.ActionQuarantine, reasons: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := config.Default().Policy
			if tt.tweak != nil {
				tt.tweak(&p)
			}
			v := Evaluate(&p, &tt.device, tt.now)
			if v.Action != tt.want || len(v.Reasons) != tt.reasons || (v.Note != "") != tt.note || v.Enforce != tt.enforcing || !v.PendingUntil.IsZero() != tt.pending {
				t.Errorf("verdict %+v; want action %s, %d reasons, note %v, enforce %v", v, tt.want, tt.reasons, tt.note, tt.enforcing)
			}
			for i := 1; i < len(v.Reasons); i++ {
				if rank(v.Reasons[i].Action) > rank(v.Reasons[i-1].Action) {
					t.Errorf("reasons not ordered strongest first: %+v", v.Reasons)
				}
			}
		})
	}
}

// Evaluate is pure: the same input gives the same verdict and the input
// is not modified.
func TestEvaluatePure(t *testing.T) {
	p := config.Default().Policy
	d := Device{MAC: cam, Findings: []*event.Event{
		finding(event.KindPlaintextProtocol, event.SeverityLow, nil),
		finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "yes"}),
	}}
	a, b := Evaluate(&p, &d, time.Time{}), Evaluate(&p, &d, time.Time{})
	if a.Action != b.Action || len(a.Reasons) != len(b.Reasons) || a.Reasons[0] != b.Reasons[0] {
		t.Errorf("two evaluations differ: %+v vs %+v", a, b)
	}
	if d.Findings[0].Kind != event.KindPlaintextProtocol {
		t.Error("Evaluate reordered the device's findings")
	}
}

// A finding with a threshold first seen yesterday reaches its threshold
// now: the grace period runs from now, and later evaluations keep that
// start through StrongSince.
func TestGraceStartsWhenThresholdIsReached(t *testing.T) {
	p := config.Default().Policy
	p.Mode = "enforce"
	p.Actions["plaintext_credentials"] = config.ActionIsolate
	p.Thresholds = map[string]int{"plaintext_credentials": 3}
	p.Grace.Duration = 10 * time.Minute
	now := t0.Add(24 * time.Hour)
	f := counted(finding(event.KindPlaintextCredentials, event.SeverityHigh, nil), 3)
	f.LastTime = now
	d := &Device{MAC: cam, Findings: []*event.Event{f}}
	v := Evaluate(&p, d, now)
	if v.Pending != config.ActionIsolate || !v.PendingUntil.Equal(now.Add(10*time.Minute)) || !v.StrongSince.Equal(now) {
		t.Fatalf("verdict %+v, want isolate pending until %v", v, now.Add(10*time.Minute))
	}
	// Five minutes on, still pending until the same instant.
	d.StrongSince = v.StrongSince
	v = Evaluate(&p, d, now.Add(5*time.Minute))
	if v.Pending != config.ActionIsolate || !v.PendingUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("five minutes on: verdict %+v", v)
	}
	// Past it: isolated.
	v = Evaluate(&p, d, now.Add(11*time.Minute))
	if v.Action != config.ActionIsolate || v.Pending != "" {
		t.Fatalf("past the grace period: verdict %+v", v)
	}
	// Without a threshold the first sighting still counts.
	delete(p.Thresholds, "plaintext_credentials")
	if v := Evaluate(&p, &Device{MAC: cam, Findings: []*event.Event{f}}, now); v.Action != config.ActionIsolate || !v.StrongSince.Equal(f.Time) {
		t.Fatalf("no threshold: verdict %+v", v)
	}
	// No longer calling for it: StrongSince is cleared.
	p.Actions["plaintext_credentials"] = config.ActionAlert
	if v := Evaluate(&p, d, now); !v.StrongSince.IsZero() {
		t.Fatalf("alert only: StrongSince %v", v.StrongSince)
	}
}

// TestDefaultLoginSeenAccepted: a default login quarantines only where
// the server was seen to accept it, on a connection seen from its
// handshake or by the router's own audit; one whose answer was not seen,
// or on a connection anyone could have made up, alerts.
func TestDefaultLoginSeenAccepted(t *testing.T) {
	opened := &event.Flow{Transport: "tcp"}
	joined := &event.Flow{Transport: "tcp", Joined: true}
	tests := []struct {
		name     string
		accepted string
		flow     *event.Flow
		want     config.Action
	}{
		{"accepted_on_an_opened_connection", "yes", opened, config.ActionQuarantine},
		{"accepted_in_the_audit", "yes", nil, config.ActionQuarantine},
		{"answer_not_seen", "unknown", opened, config.ActionAlert},
		{"no_answer_recorded", "", opened, config.ActionAlert},
		{"accepted_on_a_joined_connection", "yes", joined, config.ActionAlert},
	}
	p := config.Default().Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": tt.accepted})
			f.Flow = tt.flow
			if got := Evaluate(&p, &Device{MAC: cam, Findings: []*event.Event{f}}, t0).Action; got != tt.want {
				t.Errorf("verdict %s, want %s", got, tt.want)
			}
		})
	}
}

// TestProtectedNote: a protected device's note names what protects it
// when the caller knows (analyze knows only addresses), and the router
// or management device otherwise.
func TestProtectedNote(t *testing.T) {
	defaultCreds := finding(event.KindDefaultCredentials, event.SeverityHigh, event.Evidence{"accepted": "yes"})
	for _, tt := range []struct {
		as, want string
	}{
		{"", "protected (router or management device): would otherwise quarantine"},
		{"management address", "protected (management address): would otherwise quarantine"},
	} {
		d := &Device{MAC: cam, Protected: true, ProtectedAs: tt.as, Findings: []*event.Event{defaultCreds}}
		if v := Evaluate(&config.Default().Policy, d, time.Time{}); v.Action != config.ActionAlert || v.Note != tt.want {
			t.Errorf("protected as %q: %s, note %q; want alert, %q", tt.as, v.Action, v.Note, tt.want)
		}
	}
}

// TestGraceAcrossClockSteps: findings keep the times the clock read when
// they were seen, and NTP or the owner may set the clock since. The grace
// period runs from the start the caller passes back (which it moves with
// the step) while the device still calls for isolation, and a finding or
// a start in the clock's future, dated before the clock was set back,
// counts from now.
func TestGraceAcrossClockSteps(t *testing.T) {
	const grace = time.Hour
	seen := finding(event.KindPlaintextCredentials, event.SeverityHigh, nil) // at t0
	for _, tc := range []struct {
		name        string
		strongSince time.Time // the previous verdict's, as the caller moved it
		now         time.Time
		wantUntil   time.Time
	}{
		{"step_forward_a_year", t0.AddDate(1, 0, 0), t0.AddDate(1, 0, 0).Add(time.Minute), t0.AddDate(1, 0, 0).Add(grace)},
		{"step_back_a_day", t0.Add(-24 * time.Hour), t0.Add(-24*time.Hour + time.Minute), t0.Add(-24*time.Hour + grace)},
		{"first_evaluation_after_a_step_back", time.Time{}, t0.Add(-24 * time.Hour), t0.Add(-24*time.Hour + grace)},
		{"no_step", t0, t0.Add(time.Minute), t0.Add(grace)},
		// Saved by a run whose clock ran ahead and read back after the
		// clock was set back: no step of this run moved it.
		{"saved_start_in_the_clocks_future", t0, t0.Add(-24 * time.Hour), t0.Add(-24*time.Hour + grace)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := config.Default().Policy
			p.Mode = "enforce"
			p.Actions["plaintext_credentials"] = config.ActionIsolate
			p.Grace.Duration = grace
			v := Evaluate(&p, &Device{MAC: cam, Findings: []*event.Event{seen}, StrongSince: tc.strongSince}, tc.now)
			if v.Pending != config.ActionIsolate || !v.PendingUntil.Equal(tc.wantUntil) {
				t.Errorf("verdict %+v, want isolation pending until %s", v, tc.wantUntil)
			}
		})
	}
}
