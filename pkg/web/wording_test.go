package web

import (
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
)

// TestOwnerWording: the page speaks to the owner in plain words: no
// markdown, no API keys, "you" for the owner.
func TestOwnerWording(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prep   func(r *rig)
		path   string
		form   url.Values
		accept string // "json": the script's request
		want   []string
		refuse []string
	}{
		{name: "identity_labels", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Identity = map[string]string{"os": "Linux", "oui_vendor": "Hangzhou Hikvision", "private_mac": "yes"}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"<dt>Operating system</dt><dd>Linux</dd>", "<dt>Maker of its network chip (from the MAC address)</dt><dd>Hangzhou Hikvision</dd>", "<dt>Private (random) MAC address</dt>"},
			refuse: []string{"<dt>os</dt>", "<dt>oui_vendor</dt>", "<dt>private_mac</dt>"}},
		{name: "quarantined_by_you", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "block", Since: r.clock.Now(), By: api.ByOwner}
		}, path: "/devices/" + cameraMAC, want: []string{", by you."}, refuse: []string{"by owner"}},
		{name: "quarantined_by_policy", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "block", Since: r.clock.Now(), By: "policy", Reason: "default password"}
		}, path: "/devices/" + cameraMAC, want: []string{", by policy. default password"}},
		// A quarantine kept after the device reported an update is
		// policy's; one kept from the firewall's rules has no author the
		// daemon knows: neither is named by its API key.
		{name: "quarantined_by_update", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "block", Since: r.clock.Now(), By: api.ByUpdate,
				Reason: "It now reports busybox 1.36.1 (was 1.19.3)."}
		}, path: "/devices/" + cameraMAC, want: []string{", by policy. It now reports busybox 1.36.1"}, refuse: []string{"by update"}},
		{name: "quarantined_by_firewall", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "block", Since: r.clock.Now(), By: api.ByFirewall,
				Reason: "Kept from the firewall's rules at start-up."}
		}, path: "/devices/" + cameraMAC, want: []string{", until released. Kept from the firewall's rules at start-up."}, refuse: []string{"by firewall"}},
		// A channel is an [[alert.channel]] block, not keys of [alert],
		// and takes effect at a reload: the page shows both.
		{name: "alert_channel_syntax", prep: func(*rig) {}, path: "/alerts",
			want:   []string{"[[alert.channel]]", `type = "ntfy"`, "iotgw check-config", "service iotgw reload"},
			refuse: []string{"<code>[alert]</code> section"}},
		// Each state's word is explained where the list shows it.
		{name: "device_states_explained", prep: func(*rig) {}, path: "/",
			want: []string{"<strong>Quarantined</strong>: cut off by iotgw", "<strong>Pending</strong>: policy will quarantine it",
				"<strong>Alert</strong>: something to look at", "<strong>OK</strong>: nothing found", "<strong>Trusted</strong>: you trust it"}},
		// Findings come with the owner's next step, worst kind first.
		{name: "advice_for_findings", prep: func(r *rig) {
			d := r.backend.devices[cameraMAC]
			d.Findings = append(d.Findings, &event.Event{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindPlaintextProtocol,
				Severity: event.SeverityLow, Summary: "Unencrypted HTTP to cloud.example-camera.com"})
		}, path: "/devices/" + cameraMAC,
			want: []string{"<h2>What to do</h2>", "<li>A login to or from it uses a factory-default password, the first one attackers try. Change that password to one of your own", "</li><li>It talks to the internet unencrypted."}},
		// A service that asks for no password has none to change.
		{name: "advice_for_a_login_without_password", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
				Severity: event.SeverityHigh, Summary: "TELNET shell without a login",
				Evidence: event.Evidence{"protocol": "telnet", "mechanism": "no login", "password_class": "none", "accepted": "yes"}}}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"<li>A service on it lets anyone in without a password"},
			refuse: []string{"Change that password"}},
		// A scrambled password or a token is no password in clear.
		{name: "advice_for_a_hashed_login", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindPlaintextCredentials,
				Severity: event.SeverityLow, Summary: "HTTP login sent without encryption (hashed, accepted: yes)",
				Evidence: event.Evidence{"protocol": "http", "mechanism": "digest", "password_class": "hashed", "accepted": "yes"}}}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"Login sent unencrypted", "<li>A login to or from it crosses the network unencrypted. The password is scrambled"},
			refuse: []string{"A password to or from it", "Password sent unencrypted"}},
		{name: "advice_for_a_token", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindPlaintextCredentials,
				Severity: event.SeverityMedium, Summary: "HTTP login sent without encryption (token, accepted: unknown)",
				Evidence: event.Evidence{"protocol": "http", "mechanism": "bearer", "password_class": "token", "accepted": "unknown"}}}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"<li>An access key to or from it crosses the network unencrypted"},
			refuse: []string{"A password to or from it"}},
		// A weak SSH client has no SSH service to turn off.
		{name: "advice_for_a_weak_ssh_client", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindWeakSSH,
				Severity: event.SeverityMedium, Summary: "Weak SSH negotiated: key exchange diffie-hellman-group1-sha1",
				Device:   event.Endpoint{MAC: cameraMAC, IP: "192.168.50.101"},
				Flow:     &event.Flow{Client: event.Endpoint{IP: "192.168.50.101"}, Server: event.Endpoint{IP: "198.51.100.7"}},
				Evidence: event.Evidence{"kex": "diffie-hellman-group1-sha1"}}}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"<li>SSH connections it opens use outdated encryption."},
			refuse: []string{"turn its SSH service off"}},
		{name: "advice_for_a_weak_ssh_server", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindWeakSSH,
				Severity: event.SeverityMedium, Summary: "Weak SSH negotiated: key exchange diffie-hellman-group1-sha1",
				Device:   event.Endpoint{MAC: cameraMAC, IP: "192.168.50.101"},
				Flow:     &event.Flow{Client: event.Endpoint{IP: "192.168.50.104"}, Server: event.Endpoint{IP: "192.168.50.101"}},
				Evidence: event.Evidence{"kex": "diffie-hellman-group1-sha1"}}}
		}, path: "/devices/" + cameraMAC,
			want: []string{"<li>An SSH connection to it used outdated encryption.", "turn its SSH service off"}},
		{name: "no_advice_without_findings", prep: func(r *rig) { r.backend.devices[cameraMAC].Findings = nil },
			path: "/devices/" + cameraMAC, refuse: []string{"What to do"}},
		// Kinds and evidence keys read in plain words; their codes stay
		// in title attributes for experts.
		{name: "finding_kind_and_evidence_labelled", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Findings[0].Evidence["password_hash"] = "0011223344556677"
		}, path: "/devices/" + cameraMAC,
			want: []string{`<span title="default_credentials">Factory-default password</span>`, "baseline rule 5.1-1",
				`<dt title="password_hash">Password fingerprint (not the password)</dt>`, `<dt title="user">User name (shortened)</dt>`},
			refuse: []string{">default_credentials", "<dt>password_hash</dt>", "<dt>user</dt>", "· provision 5.1-1"}},
		{name: "events_kind_filter_labelled", prep: func(*rig) {}, path: "/events",
			want:   []string{`<option value="default_credentials" title="default_credentials">Factory-default password</option>`, `title="dns_query">Name lookup (DNS)</option>`},
			refuse: []string{">default_credentials</option>", ">dns_query</option>"}},
		{name: "events_table_names_devices", prep: func(r *rig) {
			r.backend.events = []*event.Event{{Time: r.clock.Now(), Type: event.TypeFinding, Kind: event.KindWeakTLS, Severity: event.SeverityMedium,
				Device: event.Endpoint{MAC: cameraMAC}, Summary: "TLS 1.0 to cloud"}}
		}, path: "/events",
			want:   []string{`"><bdi>Hikvision camera</bdi></a><br><small class="mac">` + cameraMAC + "</small>", `<span title="weak_tls">Outdated encryption</span>`},
			refuse: []string{">" + cameraMAC + "</a>", ">weak_tls<"}},
		{name: "policy_kinds_and_mode_labelled", prep: func(r *rig) {
			r.srv.opt.Policy = func() config.Policy {
				return config.Policy{Mode: "enforce", QuarantineMode: "block", DefaultAction: "alert",
					Actions: map[string]config.Action{"default_credentials": "quarantine"}, Thresholds: map[string]int{"weak_tls": 3}}
			}
		}, path: "/policy",
			want: []string{`<tr><td><span title="default_credentials">Factory-default password</span></td><td>quarantine</td></tr>`,
				`<tr><td><span title="weak_tls">Outdated encryption</span></td><td>3 findings</td></tr>`,
				"<dt>Quarantine mode</dt><dd><strong>block</strong> — cut off from the network</dd>"},
			refuse: []string{"<td>default_credentials</td>", "<td>weak_tls</td>"}},
		// The modes say what they do where they are shown.
		{name: "enforce_mode_explained", prep: func(*rig) {}, path: "/",
			want: []string{"Policy mode <strong>enforce</strong> (acts: quarantines devices as the policy says)"}},
		{name: "quarantine_mode_explained", prep: func(r *rig) {
			d := r.backend.devices[cameraMAC]
			d.State, d.Quarantine = api.StateQuarantined, &api.Quarantine{Mode: "block", Since: r.clock.Now(), By: api.ByOwner}
		}, path: "/",
			want:   []string{`<small><span title="mode block">cut off from the network</span></small>`},
			refuse: []string{"<small>block</small>"}},
		{name: "device_quarantine_mode_explained", prep: func(r *rig) {
			r.backend.devices[cameraMAC].Quarantine = &api.Quarantine{Mode: "isolate", Since: r.clock.Now(), By: api.ByOwner}
		}, path: "/devices/" + cameraMAC,
			want:   []string{"<p><strong>Cut off from the internet</strong> <small>(mode isolate)</small> since "},
			refuse: []string{"Mode <strong>isolate</strong>"}},
		{name: "test_alert_form", prep: func(r *rig) { r.alerts.testErr = errors.New("ntfy: Post \"https://ntfy.sh/x\": connection refused") },
			path: "/alerts/test", form: url.Values{"name": {"phone"}},
			want: []string{`The test alert could not be sent: ntfy: Post "https://ntfy.sh/x": connection refused`}},
		{name: "test_alert_script", prep: func(r *rig) { r.alerts.testErr = errors.New("ntfy: connection refused") },
			path: "/alerts/test", form: url.Values{"name": {"phone"}}, accept: "json",
			want: []string{`"error":"The test alert could not be sent: ntfy: connection refused"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, b, tok := loggedIn(t)
			r.backend.mu.Lock()
			r.alerts.mu.Lock()
			tc.prep(r)
			r.alerts.mu.Unlock()
			r.backend.mu.Unlock()
			var body string
			if tc.form == nil {
				_, body = b.get(tc.path)
			} else {
				tc.form.Set("csrf", tok)
				var h http.Header
				if tc.accept == "json" {
					h = http.Header{"Accept": {"application/json"}}
				}
				body = readBody(t, b.do(http.MethodPost, tc.path, tc.form, h))
			}
			body = html.UnescapeString(body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in\n%s", w, body)
				}
			}
			for _, w := range tc.refuse {
				if strings.Contains(body, w) {
					t.Errorf("%q in\n%s", w, body)
				}
			}
		})
	}
}

// TestWrongSetupCodeMessage: the message names the command in plain
// text; the page shows no markdown.
func TestWrongSetupCodeMessage(t *testing.T) {
	r := newRig(t, false)
	b := r.browser("192.168.50.104")
	tok := b.formToken("/setup")
	resp, body := b.post("/setup", url.Values{"csrf": {tok}, "code": {"AAAA-BBBB-CCCC"}, "password": {goodPassword}, "confirm": {goodPassword}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong code: %s, want 401", resp.Status)
	}
	if want := "Wrong setup code. To read it, run iotgw setup-code on the router."; !strings.Contains(body, want) || strings.Contains(body, "`") {
		t.Errorf("want %q and no backtick in\n%s", want, body)
	}
}

// TestChannelExample: the channel the Alerts page shows is one the
// configuration takes.
func TestChannelExample(t *testing.T) {
	cfg, err := config.Parse("iotgw.toml", []byte(channelExample))
	if err != nil {
		t.Fatalf("the page's example channel: %v", err)
	}
	if n := len(cfg.Alert.Channels); n != 1 {
		t.Fatalf("the page's example makes %d channels, want 1", n)
	}
}
