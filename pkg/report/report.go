// Package report renders what an analysis found: per device, its findings
// and policy's verdict, as text for people and as JSON for programs.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/policy"
)

// Input is one capture file's outcome.
type Input struct {
	Name    string `json:"name"`
	Packets int64  `json:"packets"`
	Error   string `json:"error,omitempty"`
}

// Counters are the pipeline's totals.
type Counters struct {
	Packets      uint64 `json:"packets"`
	Flows        uint64 `json:"flows"`
	Undecoded    uint64 `json:"undecoded"`
	Truncated    uint64 `json:"truncated"`
	Fragments    uint64 `json:"fragments"`
	UnknownLink  uint64 `json:"unknown_link"`
	FlowsEvicted uint64 `json:"flows_evicted"`
	BudgetStops  uint64 `json:"budget_stops"`
	Gaps         uint64 `json:"tcp_gaps"`
	// Reassembled counts datagrams put together from IP fragments (and
	// inspected as if whole); ReassemblyDropped those given up, as
	// incomplete, overlapping fragments that disagree, malformed, past
	// the size reassembly holds, or cut; ReassemblyCut those of them
	// given up because the capture's snap length cut a fragment, which
	// a larger snap length would have kept. Fragments counts the
	// fragments.
	Reassembled       uint64 `json:"reassembled"`
	ReassemblyDropped uint64 `json:"reassembly_dropped"`
	ReassemblyCut     uint64 `json:"reassembly_cut"`
	// CutDatagrams counts UDP datagrams (not fragments) the snap length
	// cut short: not inspected, as their last field could read as whole.
	CutDatagrams uint64 `json:"cut_datagrams"`
	// Uninspected counts connections refused an inspection, each once,
	// because every inspection was busy, their host held its share, or
	// broadcast and multicast ones held their quarter of the
	// inspections: logins (or announcements) in them may be missed.
	Uninspected uint64 `json:"uninspected"`
	// Reclaimed counts inspections taken, for new connections or their
	// stream buffers, from connections idle for a minute or joined
	// without a handshake: what those send later is not read.
	Reclaimed uint64 `json:"reclaimed"`
	// WebSockets counts connections an HTTP upgrade turned into
	// WebSocket whose messages were read as a protocol they carry (MQTT);
	// WebSocketCompressed those of them whose inspection stopped at a
	// compressed message (permessage-deflate), which is not read: logins
	// after it may be missed.
	WebSockets          uint64 `json:"websockets"`
	WebSocketCompressed uint64 `json:"websocket_compressed"`
}

// Device is one device's part of the report.
type Device struct {
	Key       string            `json:"key"`
	MAC       string            `json:"mac,omitempty"`
	Addrs     []string          `json:"addresses,omitempty"`
	FirstSeen time.Time         `json:"first_seen"`
	LastSeen  time.Time         `json:"last_seen"`
	Findings  []*event.Event    `json:"findings,omitempty"`
	Verdict   policy.Verdict    `json:"verdict"`
	Observed  map[string]int    `json:"observations,omitempty"` // count by kind
	Identity  device.Identity   `json:"identity"`
	Hostnames []string          `json:"hostnames,omitempty"`
	Software  []device.Software `json:"software,omitempty"`
	Scorecard device.Card       `json:"scorecard"`
}

// Summary is the whole report.
type Summary struct {
	V        int       `json:"v"`
	Type     string    `json:"type"` // "summary"
	Inputs   []Input   `json:"inputs"`
	Counters Counters  `json:"counters"`
	Mode     string    `json:"mode"`
	Devices  []*Device `json:"devices"`
}

// Build assembles the summary from the inventory and cfg's policy. A
// device at one of the router's or management addresses cfg names
// ([daemon]) is protected, as the daemon protects it: policy alerts
// rather than quarantine or isolate it.
func Build(inputs []Input, c Counters, inv *device.Inventory, cfg *config.Config) *Summary {
	pol := &cfg.Policy
	protected := slices.Concat(cfg.Daemon.ManagementAddresses, cfg.Daemon.RouterAddresses)
	// Empty lists, not null: a reader iterates them without a check.
	s := &Summary{V: event.SchemaVersion, Type: "summary", Inputs: inputs, Counters: c, Mode: pol.Mode, Devices: []*Device{}}
	if s.Inputs == nil {
		s.Inputs = []Input{}
	}
	for _, d := range inv.Devices() {
		rd := &Device{
			Key:       d.Key.String(),
			FirstSeen: d.FirstSeen,
			LastSeen:  d.LastSeen,
			Findings:  sortedFindings(d.Findings),
		}
		if !d.Key.MAC.IsZero() {
			rd.MAC = d.Key.MAC.String()
		}
		for _, a := range d.Addrs {
			rd.Addrs = append(rd.Addrs, a.String())
		}
		if len(d.Observations) > 0 {
			rd.Observed = map[string]int{}
			for _, o := range d.Observations {
				rd.Observed[string(o.Kind)] += max(o.Count, 1)
			}
		}
		in := &policy.Device{MAC: d.Key.MAC, Findings: d.Findings}
		if a, ok := d.HeldAddress(protected); ok {
			in.Protected, in.ProtectedAs = true, "router address"
			if slices.Contains(cfg.Daemon.ManagementAddresses, a) {
				in.ProtectedAs = "management address"
			}
		}
		rd.Verdict = policy.Evaluate(pol, in, time.Time{})
		rd.Identity, rd.Software = d.Identity, d.Software
		for _, h := range d.Hostnames {
			rd.Hostnames = append(rd.Hostnames, h.Name)
		}
		rd.Scorecard = device.Scorecard(d, nil)
		s.Devices = append(s.Devices, rd)
	}
	sort.SliceStable(s.Devices, func(i, j int) bool {
		return actionRank(s.Devices[i].Verdict.Action) > actionRank(s.Devices[j].Verdict.Action)
	})
	return s
}

func actionRank(a config.Action) int {
	switch a {
	case config.ActionQuarantine:
		return 3
	case config.ActionIsolate:
		return 2
	case config.ActionAlert:
		return 1
	}
	return 0
}

func sortedFindings(in []*event.Event) []*event.Event {
	out := append([]*event.Event(nil), in...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity > out[j].Severity })
	return out
}

// MaxSeverity is the highest severity of any finding.
func (s *Summary) MaxSeverity() (event.Severity, bool) {
	var max event.Severity
	found := false
	for _, d := range s.Devices {
		for _, f := range d.Findings {
			if !found || f.Severity > max {
				max, found = f.Severity, true
			}
		}
	}
	return max, found
}

// WriteJSON writes the summary as one JSON line.
func (s *Summary) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(s)
}

// WriteText writes the summary for people.
func (s *Summary) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	withFindings := 0
	for _, d := range s.Devices {
		if len(d.Findings) > 0 {
			withFindings++
		}
	}
	ew.printf("iotgw analyze: %d file(s), %d packets, %d flows, %d devices (%d with findings)\n",
		len(s.Inputs), s.Counters.Packets, s.Counters.Flows, len(s.Devices), withFindings)
	for _, in := range s.Inputs {
		if in.Error != "" {
			ew.printf("  error: %s\n", in.Error)
		}
	}
	var unread []string
	if s.Counters.Truncated > 0 {
		unread = append(unread, fmt.Sprintf("%d truncated frames", s.Counters.Truncated))
	}
	if s.Counters.UnknownLink > 0 {
		unread = append(unread, fmt.Sprintf("%d frames of unknown link type", s.Counters.UnknownLink))
	}
	if len(unread) > 0 {
		ew.printf("  %s\n", strings.Join(unread, ", "))
	}
	if s.Counters.Fragments > 0 {
		ew.printf("  %d IP fragments: %d datagrams reassembled and inspected, %d dropped (incomplete, overlapping with other bytes, malformed, too large or cut)\n",
			s.Counters.Fragments, s.Counters.Reassembled, s.Counters.ReassemblyDropped)
		if s.Counters.ReassemblyCut > 0 {
			ew.printf("  %d of the dropped datagrams had a fragment cut by the capture's snap length: not inspected\n", s.Counters.ReassemblyCut)
		}
	}
	if s.Counters.CutDatagrams > 0 {
		ew.printf("  %d UDP datagrams cut by the capture's snap length: not inspected\n", s.Counters.CutDatagrams)
	}
	if s.Counters.Uninspected > 0 {
		ew.printf("  %d new connections not inspected: every inspection busy, their device at its share, or broadcast and multicast ones at their quarter (inspect.max_inspected)\n",
			s.Counters.Uninspected)
	}
	if s.Counters.Reclaimed > 0 {
		ew.printf("  %d inspections taken from connections idle for a minute or joined without a handshake, for others\n",
			s.Counters.Reclaimed)
	}
	if s.Counters.WebSocketCompressed > 0 {
		ew.printf("  %d of %d WebSocket connections read (MQTT over WebSocket) stopped at a compressed message (permessage-deflate): the rest of each not inspected\n",
			s.Counters.WebSocketCompressed, s.Counters.WebSockets)
	}
	for _, d := range s.Devices {
		ew.printf("\n%s\n", deviceTitle(d))
		if id := identityLine(d); id != "" {
			ew.printf("  %s\n", id)
		}
		if len(d.Findings) == 0 {
			ew.printf("  no findings\n")
		}
		tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
		for _, g := range groupFindings(d.Findings) {
			count := ""
			if g.count > 1 {
				count = fmt.Sprintf(" (x%d)", g.count)
			}
			claim := ""
			if g.claimedOver != "" {
				claim = " (version claimed over " + g.claimedOver + ", not confirmed)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s%s%s\n", strings.ToUpper(g.ev.Severity.String()), event.KindLabel(g.ev.Kind), g.ev.Summary, claim, count)
		}
		tw.Flush()
		if len(d.Observed) > 0 {
			ew.printf("  seen: %s\n", observedLine(d.Observed))
		}
		ew.printf("  baseline (ETSI EN 303 645):\n")
		if err := d.Scorecard.WriteText(&indent{w: ew}); err != nil {
			return err
		}
	}
	s.writeVerdicts(ew)
	return ew.err
}

type findingGroup struct {
	ev    *event.Event
	count int
	// claimedOver names, for a software version only claims report
	// (event.ClaimsOnly), what claimed it ("DHCP"): policy quarantines
	// for no such finding, and the scorecard fails no provision on one.
	claimedOver string
}

// groupFindings folds findings that read the same (thirty failed logins
// with different passwords) into one line with a count, and a product's
// advisories into one line.
func groupFindings(fs []*event.Event) []findingGroup {
	var out []findingGroup
	index := map[string]int{}
	advisories := map[string][]*event.Event{}
	for _, f := range fs {
		key := string(f.Kind) + "|" + f.Summary
		if f.Kind == event.KindOutdatedFirmware {
			key = string(f.Kind) + "|" + f.Evidence["product"] + "|" + f.Evidence["version"]
			advisories[key] = append(advisories[key], f)
		}
		n := max(f.Count, 1)
		if i, ok := index[key]; ok {
			out[i].count += n
			continue
		}
		index[key] = len(out)
		out = append(out, findingGroup{ev: f, count: n})
	}
	for key, evs := range advisories {
		g := &out[index[key]]
		g.claimedOver = claimedOver(evs)
		if len(evs) < 2 {
			continue
		}
		sum := *g.ev
		for _, e := range evs {
			sum.Severity = max(sum.Severity, e.Severity)
		}
		sum.Summary = advisorySummary(evs)
		g.ev, g.count = &sum, 1
	}
	return out
}

// claimedOver names the sources of a product's version when every
// finding about it rests on claims only, "" otherwise.
func claimedOver(evs []*event.Event) string {
	var names []string
	for _, e := range evs {
		src := e.Evidence["software_source"]
		if !event.ClaimsOnly(src) {
			return ""
		}
		for s := range strings.SplitSeq(src, ",") {
			if n := sourceName(s); !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// sourceName is a software source as the protocol's name.
func sourceName(src string) string {
	switch src {
	case "dhcp":
		return "DHCP"
	case "ssdp":
		return "SSDP"
	case "mdns":
		return "mDNS"
	case "banner/sip":
		return "SIP"
	case "banner/snmp":
		return "SNMP"
	}
	return src
}

// advisorySummary is one line for every advisory a product matched.
func advisorySummary(evs []*event.Event) string {
	var cves []string
	exploited := false
	for _, e := range evs {
		if c := e.Evidence["cve"]; c != "" {
			cves = append(cves, strings.Split(c, ",")...)
		}
		exploited = exploited || e.Evidence["exploited"] == "yes"
	}
	shown := cves
	if len(shown) > 4 {
		// "CVEs": an advisory may name several, so the count left out
		// is not that of the advisories the line starts with.
		shown = append(shown[:4:4], fmt.Sprintf("and %d more CVEs", len(cves)-4))
	}
	s := fmt.Sprintf("%s %s matches %d advisories (%s)", evs[0].Evidence["product"], evs[0].Evidence["version"], len(evs), strings.Join(shown, ", "))
	if exploited {
		s += "; exploited in the wild"
	}
	// One product and version, one build: said when every finding says
	// it is a distribution's.
	if !slices.ContainsFunc(evs, func(e *event.Event) bool { return !event.DistributionBuild(e) }) {
		dist := evs[0].Evidence[event.EvidenceDistribution]
		s += fmt.Sprintf("; a distribution build (%s): the fixes may be backported without the version changing, check %s's security tracker", dist, dist)
	}
	return s
}

// identityLine says what a device is, with the confidence of each part.
func identityLine(d *Device) string {
	var parts []string
	add := func(label string, a device.Attribute) {
		if a.Value == "" || a.Value == device.TypeUnknown {
			return
		}
		parts = append(parts, fmt.Sprintf("%s %s (%.0f%%)", label, a.Value, a.Confidence*100))
	}
	add("vendor", d.Identity.Vendor)
	add("type", d.Identity.Type)
	add("model", d.Identity.Model)
	add("firmware", d.Identity.Firmware)
	add("os", d.Identity.OS)
	if len(d.Hostnames) > 0 {
		parts = append(parts, "name "+d.Hostnames[len(d.Hostnames)-1])
	}
	if d.Identity.PrivateMAC {
		parts = append(parts, "private (randomised) MAC")
	}
	if d.Identity.DNSServer {
		// Says why the domains it resolves did not name it.
		parts = append(parts, "DNS server for other devices")
	}
	return strings.Join(parts, ", ")
}

// indent prefixes every line with two spaces.
type indent struct{ w io.Writer }

func (i *indent) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			b.WriteString("  ")
			b.WriteString(line)
		}
	}
	if _, err := io.WriteString(i.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func deviceTitle(d *Device) string {
	var b strings.Builder
	b.WriteString("Device ")
	b.WriteString(d.Key)
	var addrs []string
	for _, a := range d.Addrs {
		if a != d.Key {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(addrs, ", "))
	}
	switch d.Verdict.Action {
	case config.ActionQuarantine, config.ActionIsolate:
		fmt.Fprintf(&b, " - would %s", strings.ToUpper(string(d.Verdict.Action)))
	case config.ActionAlert:
		b.WriteString(" - alert")
	}
	return b.String()
}

func observedLine(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", event.KindLabel(event.Kind(k)), m[k])
	}
	return strings.Join(parts, ", ")
}

func (s *Summary) writeVerdicts(ew *errWriter) {
	verb := "Would quarantine"
	if s.Mode == "enforce" {
		verb = "Quarantine"
	}
	var q []*Device
	for _, d := range s.Devices {
		if d.Verdict.Action == config.ActionQuarantine || d.Verdict.Action == config.ActionIsolate {
			q = append(q, d)
		}
	}
	ew.printf("\n%s: %d device(s)\n", verb, len(q))
	for _, d := range q {
		// The heading says quarantine already; isolation is the other
		// action listed here.
		if d.Verdict.Action == config.ActionQuarantine {
			ew.printf("  %s:\n", d.Key)
		} else {
			ew.printf("  %s (%s):\n", d.Key, d.Verdict.Action)
		}
		for _, r := range d.Verdict.Reasons {
			if r.Action == d.Verdict.Action {
				ew.printf("    - %s\n", r.Summary)
			}
		}
	}
	for _, d := range s.Devices {
		if d.Verdict.Note != "" {
			ew.printf("  %s: %s\n", d.Key, d.Verdict.Note)
		}
	}
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
