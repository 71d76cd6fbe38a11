package web

import (
	"strings"

	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/event"
)

func policyContent(w *markup.Writer, v *view) {
	p := v.Page.(policyPage)
	w.Raw("<h1>Policy</h1>\n")
	if !p.Available {
		w.Raw("<p>The policy is not available on this page. It is the <code>[policy]</code> section of <code>")
		w.Text(p.ConfigPath)
		w.Raw("</code>.</p>\n")
		return
	}
	pol := p.P
	w.Raw("<p>This is the policy the daemon runs with. It is read-only here: to change it, edit the <code>[policy]</code> section of <code>")
	w.Text(p.ConfigPath)
	w.Raw("</code> on the router, check it with <code>iotgw check-config</code>, and reload the daemon " +
		"(<code>service iotgw reload</code>, or send it SIGHUP). Quarantines stay in place across a reload.</p>\n" +
		"<dl class=\"facts card\">\n  <dt>Mode</dt><dd><strong>")
	w.Text(pol.Mode)
	w.Raw("</strong> — ")
	if pol.Mode == "enforce" {
		w.Raw("actions are taken")
	} else {
		w.Raw("actions are reported, not taken")
	}
	w.Raw("</dd>\n  <dt>Quarantine mode</dt><dd><strong>")
	w.Text(pol.QuarantineMode)
	w.Raw("</strong> — ")
	w.Text(strings.ToLower(modeWords(pol.QuarantineMode)))
	w.Raw("</dd>\n  <dt>Automatic quarantines end after</dt><dd>")
	if pol.QuarantineFor.Duration != 0 {
		w.Text(pol.QuarantineFor.String())
	} else {
		w.Raw("never (until you release the device)")
	}
	w.Raw("</dd>\n  <dt>Grace period</dt><dd>")
	if pol.Grace.Duration != 0 {
		w.Text(pol.Grace.String())
	} else {
		w.Raw("none: act at once")
	}
	w.Raw("</dd>\n  <dt>Most devices quarantined automatically</dt><dd>")
	w.Int(pol.MaxAutoQuarantine)
	w.Raw("</dd>\n  <dt>Findings below</dt><dd>")
	w.Text(pol.MinSeverity.String())
	w.Raw(" are ignored by policy</dd>\n  <dt>Outdated firmware</dt><dd>")
	if pol.QuarantineExploitedOnly {
		w.Raw("quarantined only when exploited in the wild")
	} else {
		w.Raw("quarantined whenever an advisory matches")
	}
	w.Raw("</dd>\n</dl>\n<h2>Action per finding kind</h2>\n" +
		"<table class=\"card\"><thead><tr><th>Finding</th><th>Action</th></tr></thead><tbody>\n")
	for _, a := range p.Actions {
		kindRow(w, a[0], a[1])
	}
	w.Raw("\n</tbody></table>\n")
	if len(p.Thresholds) > 0 {
		w.Raw(`<h2>Thresholds</h2><table class="card"><tbody>`)
		for _, t := range p.Thresholds {
			kindRow(w, t[0], t[1])
		}
		w.Raw("</tbody></table>")
	}
	w.Raw("\n")
	if len(pol.Devices) > 0 {
		w.Raw("<h2>Per-device rules</h2>\n" +
			"<table class=\"card\"><thead><tr><th>MAC</th><th>Name</th><th>Trusted</th><th>Exempt</th><th>Force</th></tr></thead><tbody>\n")
		for _, d := range pol.Devices {
			w.Raw(`<tr><td class="mac">`)
			w.Text(d.MAC.String())
			w.Raw("</td><td>")
			w.Text(d.Name)
			w.Raw("</td><td>")
			if d.Trusted {
				w.Raw("yes")
			}
			w.Raw("</td><td>")
			w.Text(strings.Join(d.Exempt, ", "))
			w.Raw("</td><td>")
			w.Text(string(d.Force))
			w.Raw("</td></tr>")
		}
		w.Raw("\n</tbody></table>")
	}
	w.Raw("\n")
}

func alertsContent(w *markup.Writer, v *view) {
	p := v.Page.(alertsPage)
	w.Raw("<h1>Alerts</h1>\n")
	if !p.Configured {
		w.Raw("<p class=\"empty\">Alerts to the phone are not available in this daemon yet.</p>\n")
		return
	}
	if len(p.Channels) == 0 {
		w.Raw("<p class=\"empty\">No alert channels are configured.</p>\n")
	} else {
		w.Raw("<ul class=\"channels\">\n")
		for _, c := range p.Channels {
			w.Raw(`<li class="card"`)
			w.Attr("data-channel", c.Name)
			w.Raw(">\n  <h2>")
			w.Text(c.Name)
			w.Raw(" <small>")
			w.Text(c.Kind)
			if c.Enabled {
				w.Raw(`</small> <span class="state st-ok" data-enabled>on</span></h2>`)
			} else {
				w.Raw(`</small> <span class="state st-off" data-enabled>off</span></h2>`)
			}
			w.Raw("\n  ")
			if c.Target != "" {
				w.Raw(`<p class="muted">`)
				w.Text(c.Target)
				w.Raw("</p>")
			}
			w.Raw("\n  ")
			if c.Detail != "" {
				w.Raw("<p>")
				w.Text(c.Detail)
				w.Raw("</p>")
			} else if !c.LastSent.IsZero() {
				w.Raw("<p>last sent ")
				timeTag(w, c.LastSent)
				w.Raw("</p>")
			}
			w.Raw("\n  <div class=\"row\">\n    <form method=\"post\" action=\"/alerts/enabled\" data-fetch>\n      ")
			tokenField(w, v.CSRF)
			w.Raw("\n      <input type=\"hidden\" name=\"name\"")
			w.Attr("value", c.Name)
			w.Raw(">\n      ")
			if c.Enabled {
				w.Raw(`<input type="hidden" name="enabled" value="false"><button type="submit" class="toggle">Turn off</button>`)
			} else {
				w.Raw(`<input type="hidden" name="enabled" value="true"><button type="submit" class="toggle">Turn on</button>`)
			}
			w.Raw("\n    </form>\n    <form method=\"post\" action=\"/alerts/test\" data-fetch>\n      ")
			tokenField(w, v.CSRF)
			w.Raw("\n      <input type=\"hidden\" name=\"name\"")
			w.Attr("value", c.Name)
			w.Raw(">\n      <button type=\"submit\" class=\"test\">Send test alert</button>\n    </form>\n" +
				"    <span class=\"result\" role=\"status\" aria-live=\"polite\"></span>\n  </div>\n</li>\n")
		}
		w.Raw("</ul>\n")
	}
	// The syntax is shown because a channel is an array of tables under
	// [alert], not keys of that section, and the file is only read again
	// at a reload.
	w.Raw("<p class=\"hint\">Channels (ntfy, Gotify, Pushover, Telegram, webhook, e-mail, MQTT) are added on the router in <code>")
	w.Text(p.ConfigPath)
	w.Raw("</code>, one <code>[[alert.channel]]</code> block each; for the ntfy app, say:</p>\n" +
		"<pre class=\"hint\">" + channelExample + "</pre>\n" +
		"<p class=\"hint\">Check the file with <code>iotgw check-config</code>, then reload the daemon " +
		"(<code>service iotgw reload</code>, or send it SIGHUP): the channel shows here, where you can turn it on and off and test it. " +
		"docs/alerts.md in iotgw's source has every type's keys.</p>\n")
}

// channelExample is the alert channel the Alerts page shows as an
// example; a test checks that the configuration takes it.
const channelExample = `[[alert.channel]]
type = "ntfy"
name = "phone"
topic = "a-long-topic-only-you-know"`

// kindRow writes a table row of a finding kind, in the owner's words,
// and what policy sets for it.
func kindRow(w *markup.Writer, kind, setting string) {
	w.Raw("<tr><td>")
	kindName(w, event.Kind(kind))
	w.Raw("</td><td>")
	w.Text(setting)
	w.Raw("</td></tr>")
}
