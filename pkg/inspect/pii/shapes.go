package pii

import "github.com/iotgw/iotgw/pkg/inspect"

// Shape checks: each says whether a value looks like one kind of personal
// datum. They work on borrowed bytes and never allocate.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isAlnum(c byte) bool { return isDigit(c) || isLetter(c) }

func allDigits(v []byte) bool {
	for _, c := range v {
		if !isDigit(c) {
			return false
		}
	}
	return len(v) > 0
}

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerByte(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func hasSuffixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[len(b)-len(s):], s)
}

// luhn reports whether the digits pass the Luhn check (ISO/IEC 7812).
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func allSame(d []byte) bool {
	for _, c := range d[1:] {
		if c != d[0] {
			return false
		}
	}
	return true
}

// prefixNum reads the first n digits as a number.
func prefixNum(d []byte, n int) int {
	v := 0
	for _, c := range d[:n] {
		v = v*10 + int(c-'0')
	}
	return v
}

// cardScheme reports whether digits have the issuer prefix and length of
// a payment card scheme. Prefix 1 (UATP) is left out on purpose: it is
// where millisecond and microsecond timestamps live. So are 13 digits:
// that is an EAN-13 barcode (a product's, prefixes 40-49 and 50-58 in
// Europe), which passes Luhn one time in ten, and no scheme issues such
// cards any more (Visa's 13-digit numbers are long retired); and 14
// digits, a GTIN-14 (old Diners and Maestro cards of that length are
// rare). 15 digits are American Express only: every IMEI has 15 and
// passes Luhn, and its reporting-body prefixes (30, 35, 50 …) are other
// schemes' too.
func cardScheme(d []byte) bool {
	n := len(d)
	p2, p3, p4 := prefixNum(d, 2), prefixNum(d, 3), prefixNum(d, 4)
	switch {
	case d[0] == '4': // Visa
		return n == 16 || n == 19
	case 51 <= p2 && p2 <= 55, 2221 <= p4 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, 644 <= p3 && p3 <= 649, p2 == 65: // Discover
		return 16 <= n && n <= 19
	case 3528 <= p4 && p4 <= 3589: // JCB
		return 16 <= n && n <= 19
	case 300 <= p3 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return 16 <= n && n <= 19
	case p2 == 62: // UnionPay
		return 16 <= n && n <= 19
	case 2200 <= p4 && p4 <= 2204: // Mir
		return 16 <= n && n <= 19
	case p2 == 50, 56 <= p2 && p2 <= 58, p4 == 6304, p4 == 6759: // Maestro
		return 16 <= n && n <= 19
	}
	return false
}

// cardGrouping accepts the ways cards are written with separators: groups
// of four (the last may be shorter) or the 4-6-5 / 4-6-4 forms of Amex and
// Diners.
func cardGrouping(groups []int) bool {
	if len(groups) == 3 && groups[0] == 4 && groups[1] == 6 && (groups[2] == 5 || groups[2] == 4) {
		return true
	}
	if len(groups) < 4 {
		return false
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if g != 4 && !(last && g >= 1 && g < 4) {
			return false
		}
	}
	return true
}

// imeiRBI reports whether an IMEI's first two digits are a GSMA reporting
// body identifier.
func imeiRBI(d []byte) bool {
	switch prefixNum(d, 2) {
	case 1, 10, 30, 33, 35, 44, 45, 49, 50, 51, 52, 53, 54, 86, 91, 98, 99:
		return true
	}
	return false
}

// digitsOf copies the digits of v into buf, allowing the separators in
// seps between them; ok is false on any other byte or too many digits.
func digitsOf(v []byte, seps string, buf []byte) (d []byte, ok bool) {
	n := 0
	for _, c := range v {
		if isDigit(c) {
			if n == len(buf) {
				return nil, false
			}
			buf[n] = c
			n++
			continue
		}
		sep := false
		for i := 0; i < len(seps); i++ {
			sep = sep || c == seps[i]
		}
		if !sep {
			return nil, false
		}
	}
	return buf[:n], true
}

// isIMEI: 15 digits (dashes or spaces allowed), Luhn-valid, a real
// reporting body, not one digit repeated.
func isIMEI(v []byte) bool {
	var buf [16]byte
	d, ok := digitsOf(v, "- ", buf[:])
	return ok && len(d) == 15 && luhn(d) && imeiRBI(d) && !allSame(d)
}

// isPhone: a labelled phone number in national or international form: 7 to
// 15 digits, an optional leading "+" (or "%2B"), separators " -()/." and
// nothing else; not one digit repeated, not a date, and dotted only in
// groups of two digits or more that are no IPv4 address (dottedPhone).
func isPhone(v []byte) bool {
	switch {
	case len(v) > 0 && v[0] == '+':
		v = v[1:]
	case len(v) > 3 && v[0] == '%' && v[1] == '2' && (v[2] == 'B' || v[2] == 'b'):
		v = v[3:]
	}
	if len(v) == 0 || !(isDigit(v[0]) || v[0] == '(') {
		return false
	}
	var buf [16]byte
	d, ok := digitsOf(v, " -()/.", buf[:])
	return ok && 7 <= len(d) && len(d) <= 15 && !allSame(d) && !isDate(v) && dottedPhone(v)
}

// dottedPhone: a number written with dots ("415.555.2671",
// "01.23.45.67.89") has groups of two digits or more between its dots
// and spaces, and is no IPv4 address ("192.168.100.10", a VoIP phone's
// address under "phone"); a decimal ("12345678.9") has a shorter group.
// A number without dots passes.
func dottedPhone(v []byte) bool {
	if indexByte(v, '.') < 0 {
		return true
	}
	groups, run, ipv4 := 0, 0, true
	for i := 0; i <= len(v); i++ {
		if i < len(v) && isDigit(v[i]) {
			run++
			continue
		}
		if i < len(v) && v[i] != '.' && v[i] != ' ' {
			return false // "-", "(" or "/" beside dots: no form numbers are written in
		}
		if run < 2 {
			return false
		}
		ipv4 = ipv4 && run <= 3 && prefixNum(v[i-run:i], run) <= 255 && (i == len(v) || v[i] == '.')
		groups++
		run = 0
	}
	return !(ipv4 && groups == 4)
}

// isDate: a date written with "/", "." or "-" between its three numbers
// ("15/01/2024", "01.15.2024", "2024-01-15"): a day and a month of one
// or two digits and a year of two or four, or the year first.
func isDate(v []byte) bool {
	var groups [3][]byte
	n, from := 0, 0
	var sep byte
	for i := 0; i <= len(v); i++ {
		if i < len(v) && isDigit(v[i]) {
			continue
		}
		if i < len(v) && (v[i] != '/' && v[i] != '.' && v[i] != '-' || sep != 0 && v[i] != sep) {
			return false
		}
		if n == len(groups) || i == from {
			return false
		}
		if i < len(v) {
			sep = v[i]
		}
		groups[n] = v[from:i]
		n++
		from = i + 1
	}
	if n != 3 {
		return false
	}
	y, a, b := groups[2], groups[0], groups[1]
	if len(groups[0]) == 4 {
		y, a, b = groups[0], groups[1], groups[2]
	}
	if len(y) != 4 && len(y) != 2 || len(a) > 2 || len(b) > 2 {
		return false
	}
	x, z := prefixNum(a, len(a)), prefixNum(b, len(b))
	return x >= 1 && z >= 1 && (x <= 31 && z <= 12 || x <= 12 && z <= 31)
}

// isMAC: six hex octets separated by ":" or "-", three groups of four
// separated by ".", or twelve hex digits, that can be a device's own
// address (unicastMAC).
func isMAC(v []byte) bool {
	var hex [12]byte
	n := 0
	switch len(v) {
	case 17:
		sep := v[2]
		if sep != ':' && sep != '-' {
			return false
		}
		for i, c := range v {
			if i%3 == 2 {
				if c != sep {
					return false
				}
				continue
			}
			if !isHex(c) {
				return false
			}
			hex[n] = lowerByte(c)
			n++
		}
	case 14:
		for i, c := range v {
			if i%5 == 4 {
				if c != '.' {
					return false
				}
				continue
			}
			if !isHex(c) {
				return false
			}
			hex[n] = lowerByte(c)
			n++
		}
	case 12:
		for _, c := range v {
			if !isHex(c) {
				return false
			}
			hex[n] = lowerByte(c)
			n++
		}
	default:
		return false
	}
	return unicastMAC(&hex)
}

// unicastMAC: twelve lower-case hex digits are an address a device can
// have. Not one digit repeated (00:…, ff:…, "111111111111",
// "aaaaaaaaaaaa"); not a group address (the first octet's lowest bit:
// broadcast, multicast such as 01:00:5e:… and 33:33:…), since a
// device's own address is unicast; not the IANA block 00:00:5e (VRRP's
// virtual router addresses, documentation examples); and not an address
// whose vendor or device half is all zeros: 02:00:00:00:00:00 is what
// iOS and Android return in place of the Wi-Fi MAC an app may not read,
// 00:00:00:xx:xx:xx and xx:xx:xx:00:00:00 are placeholders.
func unicastMAC(hex *[12]byte) bool {
	if allSame(hex[:]) || hexVal(hex[1])&1 == 1 {
		return false
	}
	oui, nic := string(hex[:6]), string(hex[6:])
	return oui != "000000" && oui != "00005e" && nic != "000000"
}

// isSerial: 6 to 32 letters, digits and dashes with at least one digit,
// not one character repeated and not a 32-digit hex digest. Digits alone
// are a serial only from 8 of them on, and not as a run (12345678) or a
// date (20240115): six or seven digits are as often a counter, a code or
// a PIN.
func isSerial(v []byte) bool {
	if len(v) < 6 || len(v) > 32 {
		return false
	}
	digits, hex, letters := 0, 0, 0
	for _, c := range v {
		switch {
		case isDigit(c):
			digits++
			hex++
		case isHex(c):
			hex++
			letters++
		case isLetter(c):
			letters++
		case c == '-':
		default:
			return false
		}
	}
	if digits == 0 || allSame(v) || len(v) == 32 && hex == 32 {
		return false
	}
	if letters == 0 {
		var buf [32]byte
		d, _ := digitsOf(v, "-", buf[:])
		return len(d) >= 8 && !digitRun(d) && !compactDate(d)
	}
	return true
}

// digitRun: each digit one more, or one less, than the one before
// ("12345678", "0123456789", "98765432"): a placeholder.
func digitRun(d []byte) bool {
	up, down := true, true
	for i := 1; i < len(d); i++ {
		up = up && d[i] == d[i-1]+1
		down = down && d[i] == d[i-1]-1
	}
	return up || down
}

// compactDate: eight digits that read as a date, year first
// ("20240115").
func compactDate(d []byte) bool {
	if len(d) != 8 || !(d[0] == '1' && d[1] == '9' || d[0] == '2' && d[1] == '0') {
		return false
	}
	m, day := prefixNum(d[4:], 2), prefixNum(d[6:], 2)
	return 1 <= m && m <= 12 && 1 <= day && day <= 31
}

// isWiFiKey: a WPA passphrase (8 to 63 printable ASCII characters) or a
// raw 64-hex-digit PSK; not one character repeated, which is how pages
// and APIs mask a key ("********").
func isWiFiKey(v []byte) bool {
	if len(v) < 8 || len(v) > 64 || allSame(v) || isMask(v) {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e || (len(v) == 64 && !isHex(c)) {
			return false
		}
	}
	return true
}

// isCommandPassword: the value of a Tasmota command that sets a
// password (WebPassword, MqttPassword) is one, unless it is Tasmota's
// way to set none or the firmware's default ("0", "1", `"`), a mask
// ("****", how Tasmota shows one), or not text.
func isCommandPassword(v []byte) bool {
	if len(v) == 0 || len(v) > maxValue || string(v) == "0" || string(v) == "1" || string(v) == `"` || isMask(v) {
		return false
	}
	for _, c := range v {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// isMask: what a device's status page sends in place of a key it keeps
// to itself: stars ("**REDACTED**", "abc***"); only mask characters
// ("XXXX-XXXX", "########", "xxxx xxxx"); or a word, or words run
// together, that say so or that nothing is there, alone or in brackets
// ("<hidden>", "(not set)", "undefined", "null", "not configured"). A
// key that merely holds such a word ("HiddenValley42", "Null-Island-7")
// is a key.
func isMask(v []byte) bool {
	if inspect.ContainsFold(v, "***") {
		return true
	}
	maskOnly := true
	for _, c := range v {
		maskOnly = maskOnly && (c == 'x' || c == 'X' || c == '#' || c == '?' || isMaskPunct(c))
	}
	if maskOnly {
		return true
	}
	var word [24]byte
	n := 0
	for _, c := range v {
		switch {
		case isLetter(c):
			if n == len(word) {
				return false
			}
			word[n] = lowerByte(c)
			n++
		case isMaskPunct(c) || c == '/':
		default:
			return false
		}
	}
	for _, w := range maskWords {
		if string(word[:n]) == w {
			return true
		}
	}
	return false
}

// maskWords, lower case and run together, stand in for a key: redacted,
// or none there.
var maskWords = [...]string{
	"redacted", "hidden", "hide", "masked", "mask", "removed", "omitted", "filtered", "censored",
	"secret", "password", "passphrase", "sensitive", "protected", "private", "encrypted",
	"notset", "unset", "isset", "set", "configured", "notconfigured", "unconfigured",
	"stored", "saved", "changed", "unchanged", "notshown", "notavailable", "unavailable",
	"undefined", "null", "nil", "none", "empty", "blank", "unknown", "default", "placeholder",
}

func isMaskPunct(c byte) bool {
	switch c {
	case '*', '<', '>', '(', ')', '[', ']', '{', '}', ' ', '_', '-', '.':
		return true
	}
	return false
}

func isSSID(v []byte) bool { return len(v) >= 1 && len(v) <= 32 }

// isPersonName: 2 to 64 bytes of letters (UTF-8 letters included), spaces,
// hyphens, apostrophes and dots, starting with a letter, no digits, not a
// placeholder. words is the number of space-separated words required.
// Whether a bare "name" names a thing is namesAThing's to say.
func isPersonName(v []byte, words int) bool {
	if len(v) < 2 || len(v) > 64 || !(isLetter(v[0]) || v[0] >= 0x80) {
		return false
	}
	letters, n := 0, 1
	for i, c := range v {
		switch {
		case isLetter(c) || c >= 0x80:
			letters++
		case c == ' ':
			if i+1 < len(v) && v[i+1] != ' ' {
				n++
			}
		case c == '-' || c == '\'' || c == '.':
		default:
			return false
		}
	}
	if letters < 2 || n < words {
		return false
	}
	for _, p := range [...]string{"null", "none", "unknown", "test", "admin", "user", "default", "true", "false", "guest"} {
		if equalFold(v, p) {
			return false
		}
	}
	return true
}

// namesAThing: a word of v names a device, an appliance or a room ("Front
// Door Camera", "Kitchen Sensor", "Ceiling Fan", "Coffee Maker"), which
// the "name" fields of a smart-home app hold far more often than people.
// Words that are common surnames (Hall, Bridge, Light, Bell, Wall, Plant)
// are left out; first- and last-name fields are not checked (a last_name
// "Fan" is a person's).
func namesAThing(v []byte) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ' ' && v[i] != '-' {
			i++
		}
		for _, w := range [...]string{
			"camera", "cam", "sensor", "lamp", "lights", "bulb", "doorbell", "door", "lock",
			"room", "kitchen", "bedroom", "bathroom", "garage", "garden", "hallway", "office",
			"plug", "switch", "socket", "outlet", "thermostat", "tv", "speaker", "hub", "gateway",
			"router", "printer", "vacuum", "heater", "sprinkler", "meter", "blinds", "window",
			"porch", "patio", "basement", "attic", "monitor", "alarm", "siren", "motion", "display",
			"station", "strip",
			"fan", "fans", "maker", "machine", "tree", "purifier", "humidifier", "dehumidifier",
			"fridge", "refrigerator", "freezer", "oven", "microwave", "kettle", "dishwasher", "washer",
			"dryer", "toaster", "cooker", "airfryer", "coffee", "espresso", "robot", "mower", "charger",
			"boiler", "pump", "valve", "feeder", "aquarium", "radiator", "conditioner", "aircon",
			"heating", "ceiling", "christmas", "projector", "console", "phone", "tablet", "laptop",
			"curtain", "curtains", "shutter", "shutters", "shade", "shades", "chime", "detector", "smoke",
			"led", "leds", "nightlight", "bed", "desk", "sofa", "couch", "dining", "laundry", "nursery",
			"balcony", "terrace", "driveway", "shed", "pantry", "closet", "entrance", "stairs",
			"upstairs", "downstairs", "lounge",
		} {
			if equalFold(v[:i], w) {
				return true
			}
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// isStreet: a street address: a house number and a street name. Words
// and numbers are separated by spaces and commas; the value must hold a
// house number (1 to 5 digits, a letter after them or a range allowed:
// "5", "221B", "12-14") and a word of three or more letters that is no
// room, floor or unit ("Room 101", "Suite 200", "Floor 3" name a place
// in a building, not a home's address); any other characters than
// letters, digits, space and ". , - ' #" (IP, host, URL, MAC and e-mail
// addresses: "@ / : = < {") or a number with a decimal point ("192.168.1.10
// dhcp", "v1.2 build") refuse it. "0x76 BME280" (an I2C address and a
// chip) has no house number and no word of letters alone.
func isStreet(v []byte) bool {
	if len(v) < 5 || len(v) > 128 {
		return false
	}
	for i, c := range v {
		switch {
		case isAlnum(c) || c >= 0x80 || c == ' ' || c == ',' || c == '\'' || c == '#' || c == '-':
		case c == '.':
			if i > 0 && isDigit(v[i-1]) && i+1 < len(v) && isDigit(v[i+1]) {
				return false
			}
		default:
			return false
		}
	}
	number, name := false, false
	for rest := v; len(rest) > 0; {
		i := 0
		for i < len(rest) && rest[i] != ' ' && rest[i] != ',' {
			i++
		}
		w := rest[:i]
		number = number || houseNumber(w)
		name = name || streetWord(w)
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
	}
	return number && name
}

// houseNumber: 1 to 5 digits, then at most one letter ("221B") or a
// range ("12-14"), and nothing else.
func houseNumber(w []byte) bool {
	n := 0
	for n < len(w) && isDigit(w[n]) {
		n++
	}
	if n == 0 || n > 5 {
		return false
	}
	rest := w[n:]
	switch {
	case len(rest) == 0:
		return true
	case len(rest) == 1:
		return isLetter(rest[0])
	case rest[0] == '-':
		return allDigits(rest[1:]) && len(rest) <= 6
	}
	return false
}

// streetWord: a word of at least three letters (UTF-8 letters too, and
// "." "-" "'" inside: "St.", "Saint-Denis", "O'Connell") that does not
// name a room, a floor or a unit in a building, or a part of a device.
func streetWord(w []byte) bool {
	letters := 0
	for _, c := range w {
		switch {
		case isLetter(c) || c >= 0x80:
			letters++
		case c == '.' || c == '-' || c == '\'':
		default:
			return false
		}
	}
	if letters < 3 {
		return false
	}
	for _, u := range [...]string{
		"room", "rooms", "raum", "zimmer", "floor", "etage", "level", "suite", "unit", "apt", "apt.",
		"apartment", "flat", "building", "bldg", "block", "wing", "zone", "area", "sector", "section",
		"channel", "slot", "port", "bus", "node", "sensor", "device", "register", "bank", "page",
		"bay", "desk", "office", "lab", "ward", "rack", "shelf", "cabinet", "locker", "box", "pin",
		"gpio", "i2c", "spi", "addr", "address", "number", "version", "firmware", "model", "type",
	} {
		if equalFold(w, u) {
			return false
		}
	}
	return true
}

// isPostcode: 3 to 10 letters, digits, spaces and dashes with a digit.
func isPostcode(v []byte) bool {
	if len(v) < 3 || len(v) > 10 {
		return false
	}
	digit := false
	for _, c := range v {
		switch {
		case isDigit(c):
			digit = true
		case isLetter(c) || c == ' ' || c == '-':
		default:
			return false
		}
	}
	return digit
}

func isCity(v []byte) bool { return isPersonName(v, 1) }

// coord is a decimal degree read from text.
type coord struct {
	val      float64
	decimals int  // significant (significantDecimals)
	written  int  // decimals as written
	zeroEnd  bool // the last decimal written is a 0
	n        int  // bytes read
}

// parseCoord reads [-+]d{1,3}.d+ at the start of v. The number must end
// there: at the end of v or before a byte that cannot continue it.
func parseCoord(v []byte) (c coord, ok bool) {
	i := 0
	neg := false
	if i < len(v) && (v[i] == '-' || v[i] == '+') {
		neg = v[i] == '-'
		i++
	}
	intStart := i
	whole := 0
	for i < len(v) && isDigit(v[i]) && i-intStart < 4 {
		whole = whole*10 + int(v[i]-'0')
		i++
	}
	if i == intStart || i-intStart > 3 || i >= len(v) || v[i] != '.' {
		return c, false
	}
	i++
	frac, scale := 0.0, 1.0
	fracStart := i
	for i < len(v) && isDigit(v[i]) {
		if i-fracStart < 15 {
			frac = frac*10 + float64(v[i]-'0')
			scale *= 10
		}
		i++
	}
	if i < len(v) && (isAlnum(v[i]) || v[i] == '.' || v[i] == '_') {
		return c, false
	}
	c.val = float64(whole) + frac/scale
	if neg {
		c.val = -c.val
	}
	c.decimals, c.n = significantDecimals(v[fracStart:i]), i
	c.written, c.zeroEnd = i-fracStart, v[i-1] == '0'
	return c, true
}

// significantDecimals counts the decimals a fraction was written with. A
// float32 printed as a float64 trails noise after its real digits
// ("52.52000045776367", "13.399999618530273"): in a fraction that long, a
// run of four 0s or 9s ends what was meant. Six decimals is C's %f and
// toFixed(6): trailing 0s there are the format's ("52.520000" is the
// city's 52.52), while fewer were written on purpose ("52.5200").
func significantDecimals(frac []byte) int {
	if len(frac) == 6 {
		n := len(frac)
		for n > 0 && frac[n-1] == '0' {
			n--
		}
		if n == 0 {
			return len(frac) // 0.000000: nearNullIsland judges it
		}
		return n
	}
	if len(frac) < 9 {
		return len(frac)
	}
	run := 0
	for i := range frac {
		if frac[i] == '0' || frac[i] == '9' {
			if i > 0 && frac[i] == frac[i-1] {
				run++
			} else {
				run = 1
			}
			if run == 4 {
				return i - 3
			}
			continue
		}
		run = 0
	}
	return len(frac)
}

// preciseCoord: at least four decimals (about 11 m) and within limit.
func preciseCoord(v []byte, limit float64) bool {
	c, ok := parseCoord(v)
	return ok && c.decimals >= 4 && c.val >= -limit && c.val <= limit
}

// shortCoord: two or three decimals, the last no 0, within limit: a
// city's, or one of a precise fix printed without its trailing zeros
// (precisePair tells).
func shortCoord(v []byte, limit float64) bool {
	c, ok := parseCoord(v)
	return ok && c.shortened() && c.val >= -limit && c.val <= limit
}

// dropsZeros: five to seven decimals as written, the last no 0: how a
// writer that drops trailing zeros (JavaScript's and Python's shortest
// form, %g) prints a fix rounded to 1e-5 to 1e-7 degrees.
func (c coord) dropsZeros() bool {
	return 5 <= c.decimals && c.decimals <= 7 && c.written == c.decimals && !c.zeroEnd
}

// shortened: two or three decimals as written, the last no 0: what such
// a writer prints of a fix whose last digits are 0s ("13.377" for
// 13.3770000).
func (c coord) shortened() bool {
	return 2 <= c.decimals && c.decimals <= 3 && c.written == c.decimals && !c.zeroEnd
}

// precisePair: the two numbers of a position are precise, each with at
// least four decimals, or one shortened beside one that shows its writer
// drops trailing zeros. A number of four decimals, or one that keeps its
// trailing zeros, shows no such writer: beside it, fewer decimals were
// meant ("lat":52.5167,"lon":13.4 is a city's centre).
func precisePair(a, b coord) bool {
	return a.decimals >= 4 && b.decimals >= 4 || a.dropsZeros() && b.shortened() || a.shortened() && b.dropsZeros()
}

// nearNullIsland: a latitude and a longitude both below 1 degree. That
// is the ocean off Africa, and what a camera's pan and tilt, a vacuum's
// map position or a vehicle's lateral and longitudinal acceleration look
// like; 0,0 is what a GPS module sends before its first fix.
func nearNullIsland(lat, lon []byte) bool {
	a, okA := parseCoord(lat)
	b, okB := parseCoord(lon)
	return okA && okB && abs(a.val) < 1 && abs(b.val) < 1
}

// latLonPair reads "lat,lon" ("," or "%2C", optional spaces), or "[a, b]"
// in either order (GeoJSON writes longitude first), and returns its two
// numbers in their order. Both must be precise, in range, and not both
// below 1 degree.
func latLonPair(v []byte) (a, b coord, ok bool) {
	bracket := len(v) > 0 && v[0] == '['
	if bracket {
		v = v[1:]
	}
	v = trimSpace(v)
	if a, ok = parseCoord(v); !ok {
		return a, b, false
	}
	rest := v[a.n:]
	switch {
	case len(rest) > 0 && rest[0] == ',':
		rest = rest[1:]
	case len(rest) > 2 && rest[0] == '%' && rest[1] == '2' && (rest[2] == 'C' || rest[2] == 'c'):
		rest = rest[3:]
	default:
		return a, b, false
	}
	rest = trimSpace(rest)
	b, ok = parseCoord(rest)
	if !ok || !precisePair(a, b) || (abs(a.val) < 1 && abs(b.val) < 1) { // see nearNullIsland
		return a, b, false
	}
	tail := trimSpace(rest[b.n:])
	if bracket {
		if len(tail) > 0 && tail[0] == ',' {
			// A GeoJSON position's third number is its altitude.
			alt := trimSpace(tail[1:])
			n := 0
			for n < len(alt) && (isDigit(alt[n]) || alt[n] == '.' || alt[n] == '-' || alt[n] == '+') {
				n++
			}
			if n == 0 {
				return a, b, false
			}
			tail = trimSpace(alt[n:])
		}
		if len(tail) == 0 || tail[0] != ']' {
			return a, b, false
		}
	} else if len(tail) > 0 && tail[0] != ',' {
		return a, b, false
	}
	latLon := abs(a.val) <= 90 && abs(b.val) <= 180
	if bracket {
		latLon = latLon || abs(b.val) <= 90 && abs(a.val) <= 180
	}
	return a, b, latLon
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func trimSpace(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
