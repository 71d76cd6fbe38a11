package web

import (
	"maps"
	"slices"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/event"
)

// The pages are written by Go code through internal/markup rather than
// by html/template: the template engine's reflection made the linker
// keep megabytes the router has no room for. markup only takes constant
// markup; every value below that comes from a device, the owner or the
// address bar goes through its escaping methods.

// content writes a page's part inside <main>, after the status line and
// messages.
type content func(w *markup.Writer, v *view)

// page writes a whole page: the layout around c.
func page(w *markup.Writer, v *view, c content) {
	w.Raw("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
	// A <title> holds no markup to isolate a device's name with (<bdi>):
	// the isolate characters do it, and the name's own controls go.
	w.Text(devname.Isolate(v.Title))
	w.Raw(" · iotgw</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n" +
		"<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n")
	if v.LoggedIn {
		w.Raw(`<meta name="csrf-token"`)
		w.Attr("content", v.CSRF)
		w.Raw(">")
	}
	w.Raw("\n<script src=\"/static/app.js\" defer></script>\n</head>\n<body")
	if v.Live {
		w.Raw(` data-live="1"`)
	}
	w.Raw(">\n<header class=\"top\">\n  <a class=\"brand\" href=\"/\">iotgw</a>\n")
	if v.LoggedIn {
		w.Raw("  <nav>\n    <a href=\"/\"")
		current(w, v.Nav == "devices")
		w.Raw(">Devices</a>\n    <a href=\"/events\"")
		current(w, v.Nav == "events")
		w.Raw(">Events</a>\n    <a href=\"/policy\"")
		current(w, v.Nav == "policy")
		w.Raw(">Policy</a>\n    <a href=\"/alerts\"")
		current(w, v.Nav == "alerts")
		w.Raw(">Alerts</a>\n    <a href=\"/password\"")
		current(w, v.Nav == "password")
		w.Raw(">Password</a>\n    <form method=\"post\" action=\"/logout\" class=\"inline\">")
		tokenField(w, v.CSRF)
		w.Raw("<button class=\"link\" type=\"submit\">Log out</button></form>\n  </nav>\n")
	}
	w.Raw("</header>\n<main id=\"main\">\n")
	if st := v.Status; st != nil {
		w.Raw(`  <p class="status">Policy mode <strong>`)
		w.Text(st.Mode)
		w.Raw("</strong>")
		switch st.Mode {
		case "monitor":
			w.Raw(" (reports only; nothing is blocked automatically)")
		case "enforce":
			w.Raw(" (acts: quarantines devices as the policy says)")
		}
		w.Raw(" · capture ")
		w.Text(st.Capture)
		w.Raw(" · ")
		w.Int(st.Devices)
		w.Raw(" devices · ")
		w.Int(st.Quarantined)
		w.Raw(" quarantined</p>\n  ")
		for _, p := range st.Problems {
			w.Raw(`<p class="flash error" role="alert">Problem: `)
			w.Text(p)
			w.Raw("</p>")
		}
		w.Raw("\n")
	}
	if v.Flash != "" {
		w.Raw(`<p class="flash ok" role="status">`)
		w.Text(v.Flash)
		w.Raw("</p>\n")
	}
	if v.Error != "" {
		w.Raw(`<p class="flash error" role="alert" id="error">`)
		w.Text(v.Error)
		w.Raw("</p>\n")
	}
	c(w, v)
	w.Raw("</main>\n<footer><small>iotgw · the page of this router only; nothing here is loaded from the internet.</small></footer>\n" +
		"</body>\n</html>")
}

// current marks the menu entry of the page shown.
func current(w *markup.Writer, on bool) {
	if on {
		w.Raw(` aria-current="page"`)
	}
}

// tokenField is the form token's hidden field.
func tokenField(w *markup.Writer, token string) {
	w.Raw(`<input type="hidden" name="csrf"`)
	w.Attr("value", token)
	w.Raw(">")
}

// selected marks the chosen option of a select.
func selected(w *markup.Writer, on bool) {
	if on {
		w.Raw(" selected")
	}
}

// fact writes one term and its description in a <dl>.
func fact(w *markup.Writer, term, desc string) {
	w.Raw("<dt>")
	w.Text(term)
	w.Raw("</dt><dd>")
	w.Text(desc)
	w.Raw("</dd>")
}

// evidenceFacts writes a finding's evidence as terms and descriptions,
// each key in the owner's words with the key as its title, by key.
func evidenceFacts(w *markup.Writer, ev event.Evidence) {
	for _, k := range slices.Sorted(maps.Keys(ev)) {
		w.Raw("<dt")
		w.Attr("title", k)
		w.Raw(">")
		w.Text(event.EvidenceLabel(k))
		w.Raw("</dt><dd>")
		w.Text(ev[k])
		w.Raw("</dd>")
	}
}

// option writes a select's option whose label is its value.
func option(w *markup.Writer, value string, on bool) {
	labelledOption(w, value, value, on)
}

// labelledOption writes a select's option with a label of its own, and
// the value as the label's title.
func labelledOption(w *markup.Writer, value, label string, on bool) {
	w.Raw("<option")
	w.Attr("value", value)
	if label != value {
		w.Attr("title", value)
	}
	selected(w, on)
	w.Raw(">")
	w.Text(label)
	w.Raw("</option>")
}

// coded writes words with the code they stand for as their title: the
// owner reads the words, an expert finds the code on hovering.
func coded(w *markup.Writer, words, code string) {
	w.Raw("<span")
	w.Attr("title", code)
	w.Raw(">")
	w.Text(words)
	w.Raw("</span>")
}

// kindName writes an event kind in the owner's words.
func kindName(w *markup.Writer, k event.Kind) {
	coded(w, event.KindLabel(k), string(k))
}

func messageContent(w *markup.Writer, v *view) {
	w.Raw("<h1>")
	w.Text(v.Title)
	w.Raw("</h1>\n<p><a href=\"/\">Back to the devices</a></p>\n")
}

// setupPage is the setup page's data: the code typed, shown again when
// it was right but the new password was refused.
type setupPage struct{ Code string }

func setupContent(w *markup.Writer, v *view) {
	p, _ := v.Page.(setupPage)
	w.Raw(`<h1>Set up iotgw</h1>
<p>This page controls your home network, so it needs a password. There is no default password.</p>
<p>First prove that you own the router: log in to it over SSH and run <code>iotgw setup-code</code>. It prints a one-time setup code. The code works once.</p>
<form method="post" action="/setup" class="card stack">
  `)
	tokenField(w, v.CSRF)
	w.Raw(`
  <label>Setup code <input name="code" id="code"`)
	w.Attr("value", p.Code)
	w.Raw(` autocomplete="off" autocapitalize="characters" spellcheck="false" required placeholder="XXXX-XXXX-XXXX"></label>
  <label>New password <input type="password" name="password" id="password" autocomplete="new-password" required minlength="10"></label>
  <label>New password again <input type="password" name="confirm" id="confirm" autocomplete="new-password" required minlength="10"></label>
  <p class="hint">At least 10 characters; common and default passwords are refused. A short sentence is easy to remember and hard to guess.</p>
  <button type="submit" id="setup-submit">Set password</button>
</form>
`)
}

func loginContent(w *markup.Writer, v *view) {
	p := v.Page.(loginPage)
	w.Raw("<h1>Log in</h1>\n<form method=\"post\" action=\"/login\" class=\"card stack\">\n  ")
	tokenField(w, v.CSRF)
	w.Raw("\n  <input type=\"hidden\" name=\"next\"")
	w.Attr("value", p.Next)
	w.Raw(`>
  <label>Password <input type="password" name="password" id="password" autocomplete="current-password" required autofocus></label>
  <button type="submit" id="login-submit">Log in</button>
</form>
<p class="hint">Forgot the password? On the router, <code>iotgw setup-code --reset</code> forgets it and prints a new setup code.</p>
`)
}

func passwordContent(w *markup.Writer, v *view) {
	w.Raw("<h1>Change the password</h1>\n<form method=\"post\" action=\"/password\" class=\"card stack\">\n  ")
	tokenField(w, v.CSRF)
	w.Raw(`
  <label>Current password <input type="password" name="current" id="current" autocomplete="current-password" required></label>
  <label>New password <input type="password" name="password" id="password" autocomplete="new-password" required minlength="10"></label>
  <label>New password again <input type="password" name="confirm" id="confirm" autocomplete="new-password" required minlength="10"></label>
  <p class="hint">At least 10 characters; common and default passwords are refused. Changing it logs out every other browser. Forgotten it? Run <code>iotgw setup-code --reset</code> on the router over SSH.</p>
  <button type="submit" id="password-submit">Change password</button>
</form>
`)
}
