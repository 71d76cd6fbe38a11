package alert

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// clip makes s safe to show and to put in a header or a topic: valid
// UTF-8, control and bidirectional-override characters (which a device
// could put in its host name) replaced by spaces, runs of spaces
// collapsed, at most max bytes, cut at a rune boundary with "…".
func clip(s string, max int) string {
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(min(len(s), max+3))
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) ||
			r == '\u2028' || r == '\u2029' || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) <= max {
		return out
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return strings.TrimRight(out[:cut], " ") + "…"
}

// truncate cuts already clean text to at most max bytes at a rune
// boundary, keeping its line breaks.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
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
