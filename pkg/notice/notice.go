// Package notice serves the page a quarantined device's plain HTTP is
// redirected to, so that the person using the device learns why it lost
// its connection and what to do. It shows no secret and no control: the
// owner acts on the web page, which only they can open.
package notice

import (
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/internal/markup"
)

// Info is what the page says about the device asking.
type Info struct {
	Name    string // owner's name for the device, or its vendor and type
	Mode    string // block, isolate, updates-only
	Since   time.Time
	Reasons []string // finding summaries (already redacted)
}

// Lookup finds the quarantine facts of the device at addr: the one the
// page's answer goes to, by the router's neighbour table, not whichever
// device used the address once. Any LAN host can ask the page, and from
// any address it gives itself.
type Lookup interface {
	NoticeFor(addr netip.Addr) (Info, bool)
}

// page writes the notice. Name and reasons come from the device and its
// traffic, so they only go through markup's escaping methods.
func page(w *markup.Writer, known bool, info Info) {
	w.Raw(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>This device is in quarantine</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em;color:#a40000}li{margin:.3em 0}.m{color:#555}</style></head>
<body><h1>This device is in quarantine</h1>
`)
	if known {
		// The name may be in a right-to-left script, or hold an override:
		// isolated, it cannot reorder the words after it.
		w.Raw("<p>The home router's security monitor (iotgw) cut <b><bdi>")
		w.Text(info.Name)
		w.Raw("</bdi></b> off")
		switch info.Mode {
		case "isolate":
			w.Raw(" from the internet")
		case "updates-only":
			w.Raw(", except from its firmware update servers")
		}
		w.Raw(" on ")
		w.Text(info.Since.Format("2 January 2006 at 15:04"))
		w.Raw(", because:</p>\n<ul>")
		for _, r := range info.Reasons {
			w.Raw("<li>")
			w.Text(r)
			w.Raw("</li>")
		}
		w.Raw("</ul>\n<p>What to do: change the device's password from the factory default, update its firmware, " +
			"or ask the owner of this network to review it. The owner can release the device on the router's iotgw page.</p>\n")
	} else {
		w.Raw("<p>The home router's security monitor (iotgw) has cut this device off. " +
			"The owner of this network can release it on the router's iotgw page.</p>")
	}
	w.Raw(`
<p class="m">ETSI EN 303 645 sets the baseline: no default passwords, software kept up to date, secure communication, personal data kept safe.</p>
</body></html>`)
}

// Handler answers every request with the notice for the client's address.
func Handler(l Lookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			info  Info
			known bool
		)
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if a, err := netip.ParseAddr(host); err == nil {
				info, known = l.NoticeFor(a.Unmap())
			}
		}
		var buf markup.Writer
		page(&buf, known, info)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		// 511 Network Authentication Required is what captive portals use,
		// so phones and browsers show the page instead of an error.
		w.WriteHeader(http.StatusNetworkAuthenticationRequired)
		_, _ = w.Write(buf.Bytes())
	})
}
