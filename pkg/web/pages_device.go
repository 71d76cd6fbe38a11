package web

import (
	"maps"
	"slices"
	"strings"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
)

// severityBadge is a severity's coloured label.
func severityBadge(w *markup.Writer, s event.Severity) {
	w.Raw("<span")
	w.Attr("class", "sev sev-"+s.String())
	w.Raw(">")
	w.Text(s.String())
	w.Raw("</span>")
}

func deviceContent(w *markup.Writer, v *view) {
	p := v.Page.(devicePage)
	d := p.D
	w.Raw("<h1><bdi>")
	w.Text(d.DisplayName())
	w.Raw("</bdi> <span")
	w.Attr("class", "state st-"+d.State)
	w.Raw(` id="device-state">`)
	w.Text(stateLabel(d.State))
	w.Raw("</span></h1>\n<dl class=\"facts\">\n  <dt>MAC</dt><dd class=\"mac\">")
	w.Text(d.MAC)
	w.Raw("</dd>\n")
	if d.Name != "" {
		w.Raw("  <dt>Name</dt><dd>")
		w.Text(d.Name)
		w.Raw("</dd>\n")
	}
	w.Raw("  <dt>Vendor / type</dt><dd>")
	vendorType(w, d)
	w.Raw("</dd>\n  <dt>Addresses</dt><dd>")
	if len(d.Addrs) > 0 {
		w.Text(strings.Join(d.Addrs, ", "))
	} else {
		w.Raw(`<span class="muted">none seen</span>`)
	}
	w.Raw("</dd>\n")
	if len(d.Hostnames) > 0 {
		// Each isolated, as the device's name is: a right-to-left one
		// would take the comma and the next one's digits into its run.
		w.Raw("  <dt>Host names</dt><dd>")
		for i, h := range d.Hostnames {
			if i > 0 {
				w.Raw(", ")
			}
			w.Raw("<bdi>")
			w.Text(h)
			w.Raw("</bdi>")
		}
		w.Raw("</dd>\n")
	}
	w.Raw("  <dt>First seen</dt><dd>")
	timeTag(w, d.FirstSeen)
	w.Raw("</dd>\n  <dt>Last seen</dt><dd>")
	timeTag(w, d.LastSeen)
	w.Raw(" (")
	w.Text(ago(v.Now, d.LastSeen))
	w.Raw(")")
	if d.Away {
		w.Raw(", away")
	}
	w.Raw("</dd>\n</dl>\n\n")

	if q := d.Quarantine; q != nil {
		w.Raw("<section class=\"card quarantined\" id=\"quarantine-info\">\n  <h2>Quarantined</h2>\n  <p><strong>")
		w.Text(modeWords(q.Mode))
		w.Raw("</strong> <small>(mode ")
		w.Text(q.Mode)
		w.Raw(")</small> since ")
		timeTag(w, q.Since)
		if !q.Until.IsZero() {
			w.Raw(", until ")
			timeTag(w, q.Until)
		} else {
			w.Raw(", until released")
		}
		if by := quarantineAuthor(q.By); by != "" {
			w.Raw(", by ")
			w.Text(by)
		}
		w.Raw(".")
		if q.Reason != "" && q.By != api.ByOwner {
			w.Raw(" ")
			w.Text(q.Reason)
		}
		w.Raw("</p>\n</section>\n")
	}
	if d.Awaiting != "" {
		w.Raw("<section class=\"card\">\n  <h2>Waiting for you</h2>\n  <p>Policy would quarantine this device, but waits for your confirmation: ")
		w.Text(d.Awaiting)
		w.Raw(". Quarantine it below to confirm, or mark it trusted.</p>\n</section>\n")
	}
	if vd := d.Verdict; len(vd.Reasons) > 0 {
		w.Raw("<section class=\"card\">\n  <h2>Policy says: ")
		w.Text(string(vd.Action))
		if !vd.Enforce {
			w.Raw(" <small>(monitor mode: not enforced)</small>")
		}
		w.Raw("</h2>\n")
		if vd.Note != "" {
			w.Raw("  <p>")
			w.Text(vd.Note)
			w.Raw("</p>\n")
		}
		if !vd.PendingUntil.IsZero() {
			w.Raw("  <p>")
			w.Text(string(vd.Pending))
			w.Raw(" takes effect at ")
			timeTag(w, vd.PendingUntil)
			w.Raw(" unless you mark the device trusted.</p>\n")
		}
		w.Raw("  <ul>")
		for _, r := range vd.Reasons {
			w.Raw("<li>")
			severityBadge(w, r.Severity)
			w.Raw(" ")
			w.Text(r.Summary)
			w.Raw("</li>")
		}
		w.Raw("</ul>\n</section>\n")
	}
	adviceSection(w, d.Findings)
	w.Raw("\n")
	deviceActions(w, v, p)
	w.Raw("\n")
	drawSVG(w, p.Picture)
	w.Raw("\n")
	if len(p.D.Identity) > 0 {
		w.Raw("<section class=\"card\" id=\"identity\">\n  <h2>Identity</h2>\n  <dl class=\"facts\">")
		for _, k := range slices.Sorted(maps.Keys(p.D.Identity)) {
			fact(w, identityLabel(k), p.D.Identity[k])
		}
		w.Raw("</dl>\n</section>\n")
	}
	softwareSection(w, p.D.Software)
	w.Raw("\n")
	scorecardSection(w, p.Card)
	w.Raw("\n")
	findingsSection(w, p)
}

// adviceSection tells the owner what to do about the device's findings,
// one line per step, the step for the worst finding first: the findings
// say what was seen, in terms a non-expert may not act on.
func adviceSection(w *markup.Writer, findings []*event.Event) {
	worst := map[string]event.Severity{}
	var steps []string
	for _, f := range findings {
		step := advice(f)
		if !f.IsFinding() || step == "" {
			continue
		}
		if sev, seen := worst[step]; !seen {
			steps = append(steps, step)
			worst[step] = f.Severity
		} else if f.Severity > sev {
			worst[step] = f.Severity
		}
	}
	if len(steps) == 0 {
		return
	}
	slices.SortStableFunc(steps, func(a, b string) int { return int(worst[b]) - int(worst[a]) })
	w.Raw("<section class=\"card\" id=\"advice\">\n  <h2>What to do</h2>\n  <ul>")
	for _, step := range steps {
		w.Raw("<li>")
		w.Text(step)
		w.Raw("</li>")
	}
	w.Raw("</ul>\n</section>\n")
}

// advice is the owner's next step for a finding, "" for one that has
// none: one step per kind, but for a default_credentials finding of a
// service that asks for no password or takes any (password_class none),
// which has no password to change.
func advice(f *event.Event) string {
	switch f.Kind {
	case event.KindDefaultCredentials:
		if f.Evidence["password_class"] == "none" {
			return "A service on it lets anyone in without a password: it asks for none, or takes any. Turn that service off in its settings, " +
				"or set a password on the device; if it offers neither, update it or replace it."
		}
		return "A login to or from it uses a factory-default password, the first one attackers try. Change that password to one of your own in the device's app or settings page; " +
			"if it cannot be changed, quarantine the device (or keep it quarantined) or replace it."
	case event.KindWeakCredentials:
		return "It uses a password that is easy to guess. Change it to a longer one of your own in the device's app or settings page."
	case event.KindPlaintextCredentials:
		// The same kind holds scrambled passwords and tokens: the
		// owner's risk and next step differ from a password in clear.
		switch f.Evidence["password_class"] {
		case "hashed":
			return "A login to or from it crosses the network unencrypted. The password is scrambled, but whoever reads the exchange can test guesses against it at leisure: " +
				"turn on encryption (TLS, HTTPS) in its settings if it offers it, and give it a long password of its own."
		case "token":
			return "An access key to or from it crosses the network unencrypted; whoever reads it can use it until it expires. " +
				"Turn on encryption (TLS, HTTPS) in its settings if it offers it."
		}
		return "A password to or from it crosses the network unencrypted, where others can read it. Turn on encryption (TLS, HTTPS) in its settings if it offers it, " +
			"and use that password nowhere else."
	case event.KindPersonalData:
		return "It sends personal data unencrypted. Look for an encrypted option or an update in its app or settings; " +
			"if there is none, give it no more personal data than it needs."
	case event.KindPlaintextProtocol:
		return "It talks to the internet unencrypted. Look for a secure (TLS, HTTPS) option or a firmware update in its app or settings."
	case event.KindWeakTLS:
		return "Its encryption is outdated. Update its firmware; if its maker no longer updates it, think about replacing it."
	case event.KindWeakSSH:
		if f.Flow != nil && f.Flow.Client.IP == f.Device.IP {
			// The client of the connection: it has no SSH service to turn off.
			return "SSH connections it opens use outdated encryption. Update its firmware; if its maker no longer updates it, think about replacing it."
		}
		return "An SSH connection to it used outdated encryption. Update the device's firmware (and the SSH program you use to reach it); " +
			"if its maker no longer updates it, turn its SSH service off or think about replacing it."
	case event.KindFirmwareOverHTTP:
		return "It downloads its updates unencrypted, so they could be tampered with on the way. Tell its maker; " +
			"update it from the maker's website over HTTPS if you can."
	case event.KindScanning:
		return "It tries to connect to many hosts on the internet on the ports worms spread through (telnet, SSH and others), a sign that it may be infected. " +
			"Unplug it, reset it to factory settings, update it and change its password before you use it again."
	case event.KindOutdatedFirmware:
		return "Its software has known security holes. Update its firmware in its app or settings, or from its maker's website; " +
			"if its maker no longer updates it, replace it."
	case event.KindExposedService:
		return "It accepts logins unencrypted (telnet, FTP) from other devices. Turn that service off in its settings if you do not use it."
	}
	return ""
}

// quarantineAuthor says who quarantined the device, in the owner's
// words: "you" for the owner, who reads their own page; "policy" also
// for policy's quarantine kept after the device reported an update;
// none for one kept from the firewall's rules at start-up, whose author
// was lost with the saved state and whose reason says so.
func quarantineAuthor(by string) string {
	switch by {
	case api.ByOwner:
		return "you"
	case api.ByUpdate:
		return "policy"
	case api.ByFirewall:
		return ""
	}
	return by
}

// identityLabel is an identity key of the API in the owner's words.
func identityLabel(key string) string {
	switch key {
	case "firmware":
		return "Firmware"
	case "os":
		return "Operating system"
	case "oui_vendor":
		return "Maker of its network chip (from the MAC address)"
	case "private_mac":
		return "Private (random) MAC address"
	case "dns_server":
		return "Answers DNS queries"
	}
	return key
}

// softwareSection lists the products and versions the device showed:
// what outdated-firmware findings are matched against, and where each
// was seen, with the claims that named another version.
func softwareSection(w *markup.Writer, sw []api.Software) {
	if len(sw) == 0 {
		return
	}
	w.Raw("<section class=\"card\" id=\"software\">\n  <h2>Software</h2>\n  <table><thead><tr><th>Product</th><th>Version</th><th>Seen in</th></tr></thead><tbody>\n")
	for _, s := range sw {
		w.Raw("  <tr><td>")
		w.Text(s.Product)
		w.Raw("</td><td>")
		if s.Version == "" {
			w.Raw("not named")
		} else {
			w.Text(s.Version)
		}
		if s.Distribution != "" {
			// Its version may not show the fixes it carries.
			w.Raw("<br><small>")
			w.Text(s.Distribution)
			w.Raw(" build: fixes may be backported</small>")
		}
		w.Raw("</td><td>")
		w.Text(s.Source)
		if len(s.Disputed) > 0 {
			w.Raw("<br><small>not believed: ")
			w.Text(strings.Join(s.Disputed, ", "))
			w.Raw("</small>")
		}
		w.Raw("</td></tr>\n")
	}
	w.Raw("  </tbody></table>\n</section>\n")
}

// The questions the page's script asks before an action that cuts a
// device off, or may: a tap on a phone is easily a slip. Without the
// script the forms post at once.
const (
	confirmQuarantine = "Quarantine this device? It is cut off at once, as the mode says, for the time set or until you release it."
	confirmUntrust    = "Stop trusting this device? Policy judges it again at once and may quarantine it."
)

func deviceActions(w *markup.Writer, v *view, p devicePage) {
	d := p.D
	w.Raw("<section class=\"card actions\" id=\"actions\">\n  <h2>Actions</h2>\n")
	if d.Quarantine != nil {
		w.Raw("  <form method=\"post\"")
		w.URLAttr("action", "/devices/", d.MAC, "/release")
		w.Raw(" class=\"row\">\n    ")
		tokenField(w, v.CSRF)
		w.Raw("\n    <button type=\"submit\" id=\"release\">Release from quarantine</button>\n  </form>\n")
	} else if d.Trusted {
		// The daemon refuses to quarantine a trusted device: a form
		// here would only ever answer with an error.
		w.Raw("  <p id=\"trusted-note\">A trusted device is never quarantined. To quarantine it, stop trusting it first.</p>\n")
	} else {
		w.Raw("  <form method=\"post\"")
		w.URLAttr("action", "/devices/", d.MAC, "/quarantine")
		w.Raw(" class=\"row\" id=\"quarantine-form\" data-confirm=\"" + confirmQuarantine + "\">\n    ")
		tokenField(w, v.CSRF)
		w.Raw("\n    <label>Mode\n      <select name=\"mode\" id=\"mode\">\n        <option value=\"\"")
		selected(w, p.Form.Mode == "")
		w.Raw(">default (from policy)</option>\n        ")
		for _, m := range p.Modes {
			option(w, m, p.Form.Mode == m)
		}
		w.Raw("\n      </select>\n    </label>\n    <label>For <input name=\"for\" id=\"for\"")
		w.Attr("value", p.Form.For)
		w.Raw(` list="durations" size="8" placeholder="until released" inputmode="text"></label>
    <datalist id="durations"><option value="30m"><option value="1h"><option value="24h"><option value="168h"></datalist>
    <button type="submit" id="quarantine" class="danger">Quarantine</button>
  </form>
  <p class="hint">block: only DHCP, DNS and the notice page · isolate: no internet, LAN allowed · updates-only: only the vendor's update servers. Empty duration: until you release it.</p>
`)
	}
	w.Raw("  <form method=\"post\"")
	w.URLAttr("action", "/devices/", d.MAC, "/trust")
	if d.Trusted {
		w.Raw(" data-confirm=\"" + confirmUntrust + "\"")
	}
	w.Raw(" class=\"row\">\n    ")
	tokenField(w, v.CSRF)
	w.Raw("\n    ")
	if d.Trusted {
		w.Raw("<input type=\"hidden\" name=\"trusted\" value=\"false\"><button type=\"submit\" id=\"untrust\">Stop trusting</button>\n")
	} else {
		w.Raw("<input type=\"hidden\" name=\"trusted\" value=\"true\"><button type=\"submit\" id=\"trust\">Trust this device</button> " +
			"<small>a trusted device is never quarantined; findings are still shown</small>")
	}
	w.Raw("\n  </form>\n  <form method=\"post\"")
	w.URLAttr("action", "/devices/", d.MAC, "/name")
	w.Raw(" class=\"row\">\n    ")
	tokenField(w, v.CSRF)
	w.Raw("\n    <label>Name <input name=\"name\" id=\"name\"")
	w.Attr("value", p.Form.Name)
	w.Raw(" maxlength=\"64\" placeholder=\"Hall camera\"></label>\n    <button type=\"submit\" id=\"rename\">Rename</button>\n" +
		"    <small>empty: its automatic name again</small>\n  </form>\n</section>\n")
}

// svgAxis writes one lane of the picture: its label, its axis line and,
// when the lane is empty, a note in the middle.
func svgAxis(w *markup.Writer, textY, lineY float64, label string, empty bool, emptyNote string) {
	w.Raw("<text")
	w.NumAttr("x", labelX)
	w.NumAttr("y", textY)
	w.Raw(` class="pic-label">`)
	w.Text(label)
	w.Raw("</text>\n    <line")
	w.NumAttr("x1", picLeft)
	w.NumAttr("y1", lineY)
	w.NumAttr("x2", picRight)
	w.NumAttr("y2", lineY)
	w.Raw(` class="pic-axis"/>` + "\n    ")
	if empty {
		w.Raw("<text")
		w.NumAttr("x", picMiddle)
		w.NumAttr("y", textY)
		w.Raw(` class="pic-empty" text-anchor="middle">`)
		w.Text(emptyNote)
		w.Raw("</text>")
	}
}

// drawSVG writes the picture section: the layout is drawPicture's, every
// number goes through NumAttr and every title through Text.
func drawSVG(w *markup.Writer, p picture) {
	w.Raw("<section class=\"card\" id=\"picture\">\n  <h2>Findings and traffic</h2>\n  <svg class=\"picture\" viewBox=\"0 0 ")
	w.Int(picWidth)
	w.Raw(" ")
	w.Int(picHeight)
	w.Raw(`" role="img"`)
	w.Attr("aria-label", "Timeline of findings and traffic volume from "+p.Start+" to "+p.End)
	w.Raw(">\n    ")
	svgAxis(w, (findingsTop+findingsBot)/2, findingsBot, "findings", p.NoFindings, "no findings")
	w.Raw("\n    ")
	for _, m := range p.Markers {
		w.Raw("<g")
		w.Attr("class", "pic-marker "+m.Class)
		w.Raw("><title>")
		w.Text(m.Title)
		w.Raw("</title><circle")
		w.NumAttr("cx", m.X)
		w.NumAttr("cy", m.Y)
		w.NumAttr("r", m.R)
		w.Raw("/>")
		if m.Count > 1 {
			w.Raw("<text")
			w.NumAttr("x", m.X)
			w.NumAttr("y", m.Y)
			w.Raw(` dy="3.5" text-anchor="middle" class="pic-count">`)
			w.Int(m.Count)
			w.Raw("</text>")
		}
		w.Raw("</g>")
	}
	w.Raw("\n    ")
	svgAxis(w, (trafficTop+trafficBot)/2, trafficBot, "traffic", p.NoTraffic, "no traffic figures yet")
	w.Raw("\n    ")
	for _, b := range p.Bars {
		w.Raw("<rect")
		w.NumAttr("x", b.X)
		w.NumAttr("y", b.Y)
		w.NumAttr("width", b.W)
		w.NumAttr("height", b.H)
		w.Raw(` class="pic-bar"><title>`)
		w.Text(b.Title)
		w.Raw("</title></rect>")
	}
	w.Raw("\n    ")
	if p.Start != "" {
		w.Raw("<text")
		w.NumAttr("x", picLeft)
		w.NumAttr("y", labelY)
		w.Raw(` class="pic-time">`)
		w.Text(p.Start)
		w.Raw("</text>\n    <text")
		w.NumAttr("x", picRight)
		w.NumAttr("y", labelY)
		w.Raw(` class="pic-time" text-anchor="end">`)
		w.Text(p.End)
		w.Raw("</text>")
	}
	w.Raw(`
  </svg>
  <p class="legend"><span class="sev sev-low">low</span> <span class="sev sev-medium">medium</span> <span class="sev sev-high">high</span> <span class="sev sev-critical">critical</span> — higher and bigger is worse</p>
</section>
`)
}

func scorecardSection(w *markup.Writer, c *device.Card) {
	w.Raw("<section class=\"card\" id=\"scorecard\">\n  <h2>Security baseline (ETSI EN 303 645)</h2>\n")
	if c == nil {
		w.Raw("    <p class=\"empty\">No scorecard yet for this device.</p>\n</section>\n")
		return
	}
	for _, cp := range c.Capabilities {
		w.Raw("    <details class=\"cap\"")
		if cp.Status == device.Fail {
			w.Raw(" open")
		}
		w.Raw(">\n      <summary>")
		verdict(w, cp.Status)
		w.Raw(" ")
		w.Int(int(cp.Capability))
		w.Raw(". ")
		w.Text(cp.Name)
		w.Raw("</summary>\n      ")
		provisions(w, cp.Provisions)
		w.Raw("\n    </details>\n")
	}
	if len(c.Other) > 0 {
		w.Raw("    <details class=\"cap\"><summary>Other observable provisions</summary>\n      ")
		provisions(w, c.Other)
		w.Raw("\n    </details>\n")
	}
	if ct := c.Contact; ct != nil {
		w.Raw("    <p>Vendor security contact: ")
		w.Text(ct.Name)
		if ct.Policy != "" {
			w.Raw(" — ")
			w.Text(ct.Policy)
		}
		if ct.NoneFound {
			w.Raw(" — no disclosure policy found")
		}
		w.Raw("</p>\n")
	}
	w.Raw("    <p class=\"hint\">pass: positive evidence seen · fail: a finding contradicts it · unknown: nothing seen either way.</p>\n</section>\n")
}

// verdict is a pass/fail/unknown label.
func verdict(w *markup.Writer, s device.Status) {
	w.Raw("<span")
	w.Attr("class", "verdict v-"+string(s))
	w.Raw(">")
	w.Text(string(s))
	w.Raw("</span>")
}

func provisions(w *markup.Writer, ps []device.Provision) {
	w.Raw(`<ul class="provisions">`)
	for _, p := range ps {
		w.Raw("\n        <li>")
		verdict(w, p.Status)
		w.Raw(" <strong>")
		w.Text(p.ID)
		w.Raw("</strong> ")
		w.Text(p.Title)
		w.Raw("\n          ")
		if len(p.Reasons) > 0 {
			w.Raw(`<ul class="evidence">`)
			for _, r := range p.Reasons {
				w.Raw("<li>")
				w.Text(r)
				w.Raw("</li>")
			}
			w.Raw("</ul>")
		}
		w.Raw("</li>\n      ")
	}
	w.Raw("</ul>")
}

func findingsSection(w *markup.Writer, p devicePage) {
	w.Raw("<section class=\"card\" id=\"findings\">\n  <h2>Findings</h2>\n")
	if len(p.Findings) == 0 {
		w.Raw("  <p class=\"empty\">No findings: nothing this device did fell short of the baseline.</p>\n")
	} else {
		w.Raw("  <ol class=\"timeline\">\n")
		for _, f := range p.Findings {
			w.Raw("    <li>")
			severityBadge(w, f.Severity)
			w.Raw("\n      ")
			timeTag(w, f.Time)
			if f.Count > 1 {
				w.Raw(" <small>× ")
				w.Int(f.Count)
				w.Raw(", last ")
				timeTag(w, f.LastTime)
				w.Raw("</small>")
			}
			w.Raw("\n      <div>")
			w.Text(f.Summary)
			w.Raw("</div>\n      <small class=\"muted\">")
			kindName(w, f.Kind)
			if f.Provision != "" {
				w.Raw(" · ")
				coded(w, "baseline rule "+f.Provision, "ETSI EN 303 645 provision "+f.Provision)
			}
			if fl := f.Flow; fl != nil {
				w.Raw(" · ")
				w.Text(fl.Transport)
				w.Raw(" ")
				w.Text(fl.Client.IP)
				w.Raw(" → ")
				w.Text(fl.Server.IP)
				w.Raw(":")
				w.Int(int(fl.Server.Port))
				if fl.App != "" {
					w.Raw(" (")
					w.Text(fl.App)
					w.Raw(")")
				}
			}
			w.Raw("</small>\n      ")
			if len(f.Evidence) > 0 {
				w.Raw(`<details><summary>Evidence</summary><dl class="facts">`)
				evidenceFacts(w, f.Evidence)
				w.Raw("</dl></details>")
			}
			w.Raw("\n    </li>\n")
		}
		w.Raw("  </ol>\n")
	}
	w.Raw("  <p><a")
	w.URLAttr("href", "/events?mac=", p.D.MAC, "")
	w.Raw(">All events of this device</a></p>\n</section>\n")
}
