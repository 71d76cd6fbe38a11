// Package localzone finds the router's time zone where Go's time package
// does not look. OpenWrt keeps the zone of its system settings as a POSIX
// TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") in /etc/TZ and ships no zone
// database unless a zoneinfo package is installed, so without this the
// daemon's clock for quiet hours, the page and the alerts would be UTC.
package localzone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// OpenWrtFile is where OpenWrt writes the rule of its system time zone.
const OpenWrtFile = "/etc/TZ"

// Resolve returns the zone to use as local time. local is time.Local;
// tz and tzSet are the TZ environment variable. Go falls back to UTC,
// naming local "UTC", when TZ is unset and /etc/localtime is missing, or
// when TZ holds something other than a zone name. Then the rule comes
// from TZ or, when TZ is unset, from the file (OpenWrtFile); a missing
// file leaves local as it is.
func Resolve(local *time.Location, tz string, tzSet bool, file string) (*time.Location, error) {
	if local.String() != "UTC" {
		return local, nil
	}
	rule := tz
	if !tzSet {
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			return local, nil
		}
		if err != nil {
			return local, fmt.Errorf("time zone: %w", err)
		}
		rule = strings.TrimSpace(string(b))
	}
	rule = strings.TrimPrefix(rule, ":")
	if rule == "" || rule == "UTC" {
		return local, nil
	}
	loc, err := ParsePOSIX(rule)
	if err != nil {
		if !tzSet {
			err = fmt.Errorf("%s: %w", file, err)
		}
		return local, err
	}
	return loc, nil
}

// ParsePOSIX returns the zone a POSIX TZ rule describes: a standard time
// ("CET-1", "<+0530>-5:30", west of Greenwich positive, as POSIX has
// it), optionally followed by a summer time and the dates it starts and
// ends. The zone takes the rule's text as its name.
//
// The rule is handed to the time package as the footer of a zone file
// without transitions, where Go applies it to every instant.
func ParsePOSIX(rule string) (*time.Location, error) {
	name, rest, err := zoneName(rule)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", rule, err)
	}
	offset, rest, err := utcOffset(rest)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", rule, err)
	}
	if rest == "" {
		return time.FixedZone(name, offset), nil
	}
	// Go reads the whole rule again, with offsets of up to 167 hours:
	// what follows the offset read here must be the summer time's name.
	if c := rest[0]; !isAlpha(rune(c)) && c != '<' {
		return nil, fmt.Errorf("time zone %q: %q after the offset", rule, rest)
	}
	if strings.ContainsAny(rule, "\n\x00") {
		return nil, fmt.Errorf("time zone %q: control character", rule)
	}
	loc, err := time.LoadLocationFromTZData(rule, zoneFile(name, offset, rule))
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", rule, err)
	}
	// Where Go cannot read the summer-time part it keeps to standard
	// time all year: refuse a rule with summer time that is never in
	// force (half a year apart, one of the two instants is).
	year := time.Now().Year()
	jan := time.Date(year, time.January, 15, 12, 0, 0, 0, loc)
	jul := time.Date(year, time.July, 15, 12, 0, 0, 0, loc)
	if !jan.IsDST() && !jul.IsDST() {
		return nil, fmt.Errorf("time zone %q: summer time rule not understood", rule)
	}
	// Those two instants see both offsets the zone has.
	for _, at := range [2]time.Time{jan, jul} {
		if _, off := at.Zone(); off < -24*3600 || off > 24*3600 {
			return nil, fmt.Errorf("time zone %q: offset of %v", rule, time.Duration(off)*time.Second)
		}
	}
	return loc, nil
}

// zoneName reads a zone abbreviation: three or more letters, or any
// letters, digits, '+' and '-' between angle brackets.
func zoneName(s string) (name, rest string, err error) {
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", "", errors.New("unclosed '<'")
		}
		name = s[1:end]
		for _, c := range name {
			if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' {
				return "", "", fmt.Errorf("zone name %q: character %q", name, c)
			}
		}
		rest = s[end+1:]
	} else {
		n := 0
		for n < len(s) && isAlpha(rune(s[n])) {
			n++
		}
		name, rest = s[:n], s[n:]
	}
	if len(name) < 3 {
		return "", "", fmt.Errorf("zone name %q: want three characters or more", name)
	}
	return name, rest, nil
}

// utcOffset reads [+-]hh[:mm[:ss]], west positive, and returns the
// offset east of UTC in seconds.
func utcOffset(s string) (offset int, rest string, err error) {
	sign := -1 // POSIX counts west of Greenwich as positive
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "-"):
		sign, s = 1, s[1:]
	}
	limits := [3]int{24, 59, 59}
	secs := 0
	for i, unit := range [3]int{3600, 60, 1} {
		if i > 0 {
			if !strings.HasPrefix(s, ":") {
				break
			}
			s = s[1:]
		}
		n, digits := 0, 0
		for digits < 2 && digits < len(s) && isDigit(rune(s[digits])) {
			n = n*10 + int(s[digits]-'0')
			digits++
		}
		if digits == 0 {
			return 0, "", errors.New("offset: want [+-]hh[:mm[:ss]]")
		}
		if n > limits[i] {
			return 0, "", fmt.Errorf("offset: %d out of range", n)
		}
		secs += n * unit
		s = s[digits:]
	}
	return sign * secs, s, nil
}

// zoneFile is a version 2 zone file (RFC 8536) with one local time type
// and no transitions, whose footer is the rule.
func zoneFile(abbrev string, offset int, rule string) []byte {
	var block []byte
	header := func() {
		block = append(block, "TZif2"...)
		block = append(block, make([]byte, 15)...)
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range [6]uint32{0, 0, 0, 0, 1, uint32(len(abbrev) + 1)} {
			block = binary.BigEndian.AppendUint32(block, n)
		}
		block = binary.BigEndian.AppendUint32(block, uint32(int32(offset)))
		block = append(block, 0, 0) // standard time, abbreviation at 0
		block = append(block, abbrev...)
		block = append(block, 0)
	}
	header() // the 32-bit part
	header() // the 64-bit part: with no transitions, the same bytes
	block = append(block, '\n')
	block = append(block, rule...)
	return append(block, '\n')
}

func isAlpha(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c rune) bool { return c >= '0' && c <= '9' }
