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
