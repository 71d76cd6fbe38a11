package alert

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iotgw/iotgw/internal/devname"
)

// clip makes s safe to show and to put in a header or a topic: valid
// UTF-8, control and bidirectional characters (which a device could put
// in its host name: overrides, embeddings, isolates, marks) replaced by
// spaces, runs of spaces collapsed, at most max bytes, cut at a rune
// boundary with "…". It is for text a device or the owner chose, before
// it is set in an alert's words.
func clip(s string, max int) string { return clean(s, max, false) }

// clipText is clip for an alert's title and body, built from clipped
// text with what a device chose set apart by devname.Isolate: it keeps
// each FSI … PDI pair and drops any isolate left unpaired, and a cut
// within an isolate closes it after the "…", so that no name reorders
// the words after it, within max bytes still.
func clipText(s string, max int) string { return clean(s, max, true) }

func clean(s string, max int, isolates bool) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(min(len(s), max+3))
	space := false
	var open []int // where the isolates still open start in b
	for _, r := range s {
		if isolates && r == devname.PopDirectionalIsolate && len(open) > 0 {
			// A space before it, if any, goes after it.
			open = open[:len(open)-1]
			b.WriteRune(r)
			continue
		}
		if !(isolates && r == devname.FirstStrongIsolate) && (r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
			r == '\u2028' || r == '\u2029' || unicode.IsSpace(r)) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r == devname.FirstStrongIsolate {
			open = append(open, b.Len())
		}
		b.WriteRune(r)
	}
	out := b.String()
	for i := len(open) - 1; i >= 0; i-- { // isolates never closed
		out = out[:open[i]] + out[open[i]+len(string(devname.FirstStrongIsolate)):]
	}
	if len(out) <= max {
		return out
	}
	cut, depth := cutAt(out, max)
	return strings.TrimRight(out[:cut], " ") + "…" + strings.Repeat(string(devname.PopDirectionalIsolate), depth)
}

// truncate cuts already clean text to at most max bytes at a rune
// boundary, keeping its line breaks and closing an isolate it cuts.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut, depth := cutAt(s, max)
	return s[:cut] + "…" + strings.Repeat(string(devname.PopDirectionalIsolate), depth)
}

// cutAt is the last rune boundary of s at which s cut, an ellipsis and
// a PDI for each isolate open there fit in max bytes, and that number of
// isolates.
func cutAt(s string, max int) (cut, depth int) {
	open := 0
	for i, r := range s {
		if i+len("…")+open*len(string(devname.PopDirectionalIsolate)) > max {
			break
		}
		cut, depth = i, open
		switch r {
		case devname.FirstStrongIsolate:
			open++
		case devname.PopDirectionalIsolate:
			open--
		}
	}
	return cut, depth
}

// maxDigestParts bounds a digest; more ready alerts wait for the next one.
const maxDigestParts = 20

// digest stands for several alerts to one channel sent as one message when
// the channel's rate limit is reached.
func digest(parts []Alert) Alert {
	a := Alert{Kind: KindDigest, Parts: parts, Time: parts[len(parts)-1].Time}
	urgent := 0
	for _, p := range parts {
		a.Severity = max(a.Severity, p.Severity)
		if p.Urgent {
			urgent++
			a.Urgent = true
		}
	}
	// Urgent and severe first: services cut long messages (Pushover at
	// 1,000 characters), and the quarantine must not be what is cut.
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		if parts[i].Urgent != parts[j].Urgent {
			if parts[i].Urgent {
				return -1
			}
			return 1
		}
		return cmp.Compare(parts[j].Severity, parts[i].Severity)
	})
	var b strings.Builder
	for n, i := range order {
		if n > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "- %s", parts[i].Title)
	}
	a.Title = fmt.Sprintf("iotgw: %d alerts", len(parts))
	if urgent > 0 {
		a.Title += fmt.Sprintf(" (%d urgent)", urgent)
	}
	a.Body = b.String() + "\nOpen the page for the details."
	a.ID = parts[0].ID + "+" + fmt.Sprint(len(parts)-1)
	return a
}

// text is the message body plain-text channels send: the body and the
// device page.
func text(a Alert) string {
	if a.URL == "" {
		return a.Body
	}
	return a.Body + "\n" + a.URL
}
