// Package notice serves the page a quarantined device's plain HTTP is
// redirected to, so that the person using the device learns why it lost
// its connection and what to do. It shows no secret and no control: the
// owner acts on the web page, which only they can open.
package notice

import (
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Info is what the page says about the device asking.
type Info struct {
	Name    string // owner's name for the device, or its vendor and type
	Mode    string // block, isolate, updates-only
	Since   time.Time
	Reasons []string // finding summaries (already redacted)
}

// Lookup finds the quarantine facts of the device at addr.
type Lookup interface {
	NoticeFor(addr netip.Addr) (Info, bool)
}

var page = template.Must(template.New("notice").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>This device is in quarantine</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.4em;color:#a40000}li{margin:.3em 0}.m{color:#555}</style></head>
<body><h1>This device is in quarantine</h1>
{{if .Known}}<p>The home router's security monitor (iotgw) cut <b>{{.Info.Name}}</b> off{{if eq .Info.Mode "isolate"}} from the internet{{end}}{{if eq .Info.Mode "updates-only"}}, except from its firmware update servers{{end}} on {{.Info.Since.Format "2 January 2006 at 15:04"}}, because:</p>
<ul>{{range .Info.Reasons}}<li>{{.}}</li>{{end}}</ul>
<p>What to do: change the device's password from the factory default, update its firmware, or ask the owner of this network to review it. The owner can release the device on the router's iotgw page.</p>
{{else}}<p>The home router's security monitor (iotgw) has cut this device off. The owner of this network can release it on the router's iotgw page.</p>{{end}}
<p class="m">ETSI EN 303 645 sets the baseline: no default passwords, software kept up to date, secure communication, personal data kept safe.</p>
</body></html>`))

// Handler answers every request with the notice for the client's address.
func Handler(l Lookup) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var data struct {
			Known bool
			Info  Info
		}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if a, err := netip.ParseAddr(host); err == nil {
				data.Info, data.Known = l.NoticeFor(a.Unmap())
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		// 511 Network Authentication Required is what captive portals use,
		// so phones and browsers show the page instead of an error.
		w.WriteHeader(http.StatusNetworkAuthenticationRequired)
		_ = page.Execute(w, data)
	})
}
