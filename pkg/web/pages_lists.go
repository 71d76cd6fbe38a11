package web

import (
	"slices"
	"strings"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/internal/markup"
	"github.com/iotgw/iotgw/pkg/api"
	"github.com/iotgw/iotgw/pkg/event"
)

func devicesContent(w *markup.Writer, v *view) {
	devs := v.Page.([]api.Device)
	w.Raw("<h1>Devices</h1>\n")
	if len(devs) == 0 {
		w.Raw("<p class=\"empty\">No devices seen yet. They appear as soon as they talk on the network.</p>\n")
		return
	}
	w.Raw("<table class=\"devices\">\n<thead><tr><th>State</th><th>Device</th><th>Vendor / type</th><th>Addresses</th><th>Last seen</th><th>Findings</th></tr></thead>\n<tbody>\n")
	for _, d := range devs {
		w.Raw("<tr")
		w.Attr("data-mac", d.MAC)
		w.Raw(">\n  <td data-label=\"State\"><span")
		w.Attr("class", "state st-"+d.State)
		w.Raw(">")
		w.Text(stateLabel(d.State))
		w.Raw("</span>")
		if d.Quarantine != nil {
			w.Raw(" <small>")
			coded(w, strings.ToLower(modeWords(d.Quarantine.Mode)), "mode "+d.Quarantine.Mode)
			w.Raw("</small>")
		}
		if d.Away {
			w.Raw(" <small>away</small>")
		}
		w.Raw("</td>\n  <td data-label=\"Device\"><a")
		w.URLAttr("href", "/devices/", d.MAC, "")
		w.Raw("><bdi>")
		w.Text(d.DisplayName())
		w.Raw("</bdi></a><br><small class=\"mac\">")
		w.Text(d.MAC)
		w.Raw("</small></td>\n  <td data-label=\"Vendor / type\">")
		vendorType(w, d)
		w.Raw("</td>\n  <td data-label=\"Addresses\">")
		w.Text(strings.Join(d.Addrs, ", "))
		w.Raw("</td>\n  <td data-label=\"Last seen\"")
		w.Attr("title", when(d.LastSeen))
		w.Raw(">")
		w.Text(ago(v.Now, d.LastSeen))
		w.Raw("</td>\n  <td data-label=\"Findings\">")
		w.Int(len(d.Findings))
		w.Raw("</td>\n</tr>\n")
	}
	w.Raw("</tbody>\n</table>\n" + stateLegend)
}

// stateLegend says what each state on the list means, in the order the
// list sorts them: a state's one word does not tell the owner whether
// anything was done, or what to do.
const stateLegend = `<p class="legend">Worst first. <strong>Quarantined</strong>: cut off by iotgw; open it to see why and to release it. ` +
	`<strong>Pending</strong>: policy will quarantine it when its grace period ends, or waits for you to confirm. ` +
	`<strong>Alert</strong>: something to look at; it still works as before. ` +
	`<strong>OK</strong>: nothing found. ` +
	`<strong>Trusted</strong>: you trust it; never quarantined, findings still shown.</p>
`

// vendorType is what is known of a device's make: vendor · type · model.
func vendorType(w *markup.Writer, d api.Device) {
	known := slices.DeleteFunc([]string{d.Vendor, d.KnownType(), d.Model}, func(s string) bool { return s == "" })
	if len(known) == 0 {
		w.Raw(`<span class="muted">unknown</span>`)
		return
	}
	w.Text(strings.Join(known, " · "))
}

func eventsContent(w *markup.Writer, v *view) {
	p := v.Page.(eventsPage)
	w.Raw("<h1>Event log</h1>\n<form method=\"get\" action=\"/events\" class=\"card row filters\">\n" +
		"  <label>Device <select name=\"mac\" id=\"f-mac\"><option value=\"\">all</option>\n    ")
	for _, d := range p.Devices {
		w.Raw("<option")
		w.Attr("value", d.MAC)
		selected(w, p.Filter.MAC == d.MAC)
		w.Raw(">")
		// An <option> holds text only: the isolate characters do
		// what <bdi> does elsewhere.
		w.Text(devname.Isolate(d.DisplayName()))
		w.Raw(" (")
		w.Text(d.MAC)
		w.Raw(")</option>")
	}
	w.Raw("</select></label>\n  <label>Type <select name=\"type\" id=\"f-type\">\n    <option value=\"\"")
	selected(w, p.Filter.Type == "")
	w.Raw(">all</option>\n    <option value=\"finding\"")
	selected(w, p.Filter.Type == "finding")
	w.Raw(">findings</option>\n    <option value=\"observation\"")
	selected(w, p.Filter.Type == "observation")
	w.Raw(">observations</option></select></label>\n" +
		"  <label>Kind <select name=\"kind\" id=\"f-kind\"><option value=\"\">all</option>\n    ")
	for _, k := range p.Kinds {
		labelledOption(w, k, event.KindLabel(event.Kind(k)), p.Filter.Kind == k)
	}
	w.Raw("</select></label>\n" +
		"  <label>At least <select name=\"severity\" id=\"f-severity\"><option value=\"\">any severity</option>\n    ")
	for _, s := range p.Severities {
		option(w, s, p.Filter.Severity == s)
	}
	w.Raw("</select></label>\n  <button type=\"submit\">Filter</button>\n</form>\n")
	if len(p.Events) == 0 {
		w.Raw("<p class=\"empty\">No events match.</p>\n")
		return
	}
	// The device column names each device as its filter does, the MAC
	// beneath. Names are isolated (<bdi>): a device may name itself in
	// Hebrew or Arabic, whose right-to-left run would otherwise take
	// the neighbouring parentheses and digits with it.
	names := make(map[string]string, len(p.Devices))
	for _, d := range p.Devices {
		names[d.MAC] = d.DisplayName()
	}
	w.Raw("<table class=\"events\">\n<thead><tr><th>Time</th><th>Severity</th><th>Device</th><th>Kind</th><th>Summary</th></tr></thead>\n<tbody>\n")
	for _, e := range p.Events {
		w.Raw("<tr")
		w.Attr("class", string(e.Type))
		w.Raw(">\n  <td data-label=\"Time\">")
		timeTag(w, e.Time)
		w.Raw("</td>\n  <td data-label=\"Severity\">")
		severityBadge(w, e.Severity)
		w.Raw("</td>\n  <td data-label=\"Device\">")
		if e.Device.MAC != "" {
			w.Raw("<a")
			w.URLAttr("href", "/devices/", e.Device.MAC, "")
			w.Raw(">")
			if name, ok := names[e.Device.MAC]; ok && name != e.Device.MAC {
				w.Raw("<bdi>")
				w.Text(name)
				w.Raw("</bdi></a><br><small class=\"mac\">")
				w.Text(e.Device.MAC)
				w.Raw("</small>")
			} else {
				w.Text(e.Device.MAC)
				w.Raw("</a>")
			}
		} else {
			w.Text(e.Device.IP)
		}
		w.Raw("</td>\n  <td data-label=\"Kind\">")
		kindName(w, e.Kind)
		w.Raw("</td>\n  <td data-label=\"Summary\">")
		w.Text(e.Summary)
		w.Raw("</td>\n</tr>\n")
	}
	w.Raw("</tbody>\n</table>\n")
}
