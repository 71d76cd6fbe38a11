// Package devname is the one rule by which iotgw names a device to its
// owner: on the page, at the console and in alerts alike, so that the
// phone and the page never call one device two names.
package devname

import (
	"strings"
	"unicode"
)

// Parts are what a device can be named by.
type Parts struct {
	Name     string // the owner's name for it
	Vendor   string
	Type     string // empty when no signal named one
	Hostname string // the host name it gave itself last
	MAC      string
}

// String is the owner's name for the device, else its vendor and type,
// else the host name it gave itself, else its MAC; "" when none is
// known. A host name that shows nothing is passed over: mDNS names are
// UTF-8, and a device named with fillers or lone marks would otherwise
// be listed, and announced, under a blank name.
func (p Parts) String() string {
	if p.Name != "" {
		return p.Name
	}
	if vt := strings.TrimSpace(p.Vendor + " " + p.Type); vt != "" {
		return vt
	}
	if visible(p.Hostname) {
		return p.Hostname
	}
	return p.MAC
}

// visible reports whether s holds a character that shows: not only white
// space, combining marks, format characters and the blank characters
// Unicode counts as letters or symbols (Hangul fillers, the braille
// blank).
func visible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.IsMark(r) &&
			!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) && r != '\u2800'
	})
}

// The isolate pair that sets text apart from the line around it (UAX #9):
// inside, the text takes its own direction from its first strong letter;
// outside, it reads as one neutral character. Exported for the readers
// that must keep a pair whole when they cut a text (pkg/alert).
const (
	FirstStrongIsolate    = '\u2068'
	PopDirectionalIsolate = '\u2069'
)

// Isolate returns s, text a device chose (a host name, a banner's
// product) or the owner typed, fit to stand in a line of plain text (an
// alert, a page's <title>, an <option>) where markup cannot isolate it:
// without bidirectional controls, an override or an isolate left open
// by which a name would reorder the words around it ("camera X
// quarantined" read as another sentence); and, when it holds
// right-to-left letters, between FIRST STRONG ISOLATE and POP
// DIRECTIONAL ISOLATE, so that a Hebrew or Arabic name takes neither
// the neighbouring digits and punctuation nor the line's direction with
// it. Text without right-to-left letters is left bare: it has no other
// direction than the line's to give, and a title in plain ASCII stays
// so (ntfy's and e-mail's headers encode any other).
func Isolate(s string) string {
	if strings.ContainsFunc(s, isBidiControl) {
		s = strings.Map(func(r rune) rune {
			if isBidiControl(r) {
				return -1
			}
			return r
		}, s)
	}
	if !strings.ContainsFunc(s, rightToLeft) {
		return s
	}
	return string(FirstStrongIsolate) + s + string(PopDirectionalIsolate)
}

// isBidiControl reports whether r is an explicit directional control:
// the marks (LRM, RLM, ALM), embeddings, overrides and isolates.
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// rightToLeft reports whether r lies in the blocks whose letters and
// digits are right-to-left (bidi classes R, AL and AN, and the marks
// that join them): Hebrew, Arabic, Syriac, Thaana, N'Ko and their kin,
// their presentation forms, and the historic scripts of the same planes.
func rightToLeft(r rune) bool {
	return 0x0590 <= r && r <= 0x08ff ||
		0xfb1d <= r && r <= 0xfdff ||
		0xfe70 <= r && r <= 0xfefe ||
		0x10800 <= r && r <= 0x10fff ||
		0x1e800 <= r && r <= 0x1efff
}
