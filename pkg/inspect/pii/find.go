package pii

import (
	"slices"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// dataKind is what a finding holds.
type dataKind uint8

const (
	kindEmail dataKind = iota + 1
	kindPhone
	kindLocation
	kindNMEA
	kindCard
	kindIMEI
	kindMAC
	kindSerial
	kindWiFi
	kindName
	kindAddress
	kindDevicePassword // a device's own login, set by a command
)

// String is the evidence "data_kind" value.
func (k dataKind) String() string {
	switch k {
	case kindEmail:
		return "email"
	case kindPhone:
		return "phone"
	case kindLocation:
		return "location"
	case kindNMEA:
		return "nmea"
	case kindCard:
		return "card"
	case kindIMEI:
		return "imei"
	case kindMAC:
		return "mac"
	case kindSerial:
		return "serial"
	case kindWiFi:
		return "wifi_credentials"
	case kindName:
		return "name"
	case kindAddress:
		return "address"
	case kindDevicePassword:
		return "device_password"
	}
	return "unknown"
}

// describe is the owner-facing name used in summaries.
func (k dataKind) describe() string {
	switch k {
	case kindEmail:
		return "An e-mail address"
	case kindPhone:
		return "A phone number"
	case kindLocation:
		return "A precise location"
	case kindNMEA:
		return "A GPS position (NMEA)"
	case kindCard:
		return "A payment card number"
	case kindIMEI:
		return "An IMEI"
	case kindMAC:
		return "A MAC address"
	case kindSerial:
		return "A serial number"
	case kindWiFi:
		return "Wi-Fi credentials"
	case kindName:
		return "A person's name"
	case kindAddress:
		return "A postal address"
	case kindDevicePassword:
		return "A device's password"
	}
	return "Personal data"
}

// match is one datum found in a payload: its kind, the label that named it
// (-1 for none) and where its value lies in the payload.
type match struct {
	kind       dataKind
	label      int
	start, end int
	// at holds a location's two numbers, latitude and longitude or a
	// pair's in their order, as they were written.
	at [2]coord
}

// span is the value of a labelled field.
type span struct {
	label      int
	start, end int
}

// keyed is a labelled value and the prefix of its key (labelIndex.prefix).
type keyed struct {
	span
	prefix uint32
}

// Caps on what one call records; a payload with more is not more
// interesting, and the caps keep the scratch space fixed.
const (
	maxMatches = 16
	// Of maxMatches, the slots kept for what pairs finds once the
	// payload is read: a location, a Wi-Fi key, a card in a payment
	// form and the names. Matches found on the way stop short of them,
	// so a Wi-Fi scan of many access points leaves room for the
	// position it was sent with.
	maxPaired  = 3 + maxNames
	maxSupport = 16 // e-mail addresses, phone numbers, streets that may support a name
	maxSpans   = 64
	maxNames   = 4
	maxPairs   = 4   // SSIDs and generic passwords looked at
	maxCards   = 2   // card numbers that count only in a payment form
	maxValue   = 256 // bytes of one field value looked at
	// maxFolded bounds an ignored header with its continuation lines
	// (a References header lists a thread's message ids).
	maxFolded = 2048
)

// finder is the scratch state of one scan, reused across calls.
type finder struct {
	labels *labelIndex

	matches  []match // backed by matchBuf
	matchBuf [maxMatches]match
	// support holds where each e-mail address, phone number and street
	// starts, also those add merged into an earlier match.
	support  [maxSupport]int
	nSupport int
	// spans is a ring of the most recent labelled values.
	spans            [maxSpans]span
	nSpans, nextSpan int

	// Fields that only count together: latitude with longitude, an SSID
	// with a Wi-Fi key, names next to other personal fields.
	lat, lon   coordField
	ssids      [maxPairs]keyed // valid SSIDs
	nSSIDs     int
	wifiKey    span // the first under a Wi-Fi key's own label
	hasWiFiKey bool
	passwords  [maxPairs]keyed // under "password", "key" …
	nPasswords int
	names      [maxNames]span
	nNames     int
	nNameParts int // of nNames, from first- or last-name fields
	// Where valid postcodes and cities start: together in a name's own
	// object they support it.
	postcodes, cities   [maxPairs]int
	nPostcodes, nCities int
	// Card numbers that are the whole value of a field not named for a
	// card: they count only beside a payment field (cvc, exp_month).
	cards   [maxCards]span
	nCards  int
	payment bool // a payment field (cvc, exp_month) was seen

	// start classifies the bytes where a scan step begins.
	start [256]uint8

	// The scan's payload was cut from a longer one at its start or end:
	// see nearStart.
	cutStart, cutEnd bool
	// form: b is a decoded query or form, whose values run to "&".
	form bool
	// ids: MAC addresses, serial numbers and IMEIs count (the payload
	// leaves the home network).
	ids bool
	// setup: the query or form is sent to a Wi-Fi setup page (setupPage).
	setup inspect.SetupPage
	// password is the index of the label "password", the field of a Wi-Fi
	// key set by a Tasmota command.
	password int
}

// Values of finder.start.
const (
	startNone      = iota
	startSeparator // may end a field name
	startFree      // may start a free-text datum
)

func newFinder() *finder {
	s := &finder{labels: newLabelIndex()}
	s.password = s.labels.field("password")
	for _, c := range "@%\\+$0123456789" {
		s.start[c] = startFree
	}
	for _, c := range ":=>" {
		s.start[c] = startSeparator
	}
	return s
}

// find returns the personal data in b. The result is valid until the next
// call. cut says which ends of b are cuts from a longer payload; form that
// b is a decoded query or form; ids that device identifiers (MAC
// addresses, serial numbers, IMEIs) count; command that b is a Tasmota
// command (inspect.WhereMQTTCommand).
//
// One pass: a separator (":", "=", ">") may open a labelled value, and
// the bytes a free-text datum starts with are checked against the values
// opened before them, so only the most recent maxSpans values need to be
// remembered however long b is.
func (s *finder) find(b []byte, cut inspect.Cut, form, ids, command bool) []match {
	s.cutStart, s.cutEnd = cut&inspect.CutStart != 0, cut&inspect.CutEnd != 0
	s.form, s.ids, s.setup = form, ids, inspect.NoSetupPage
	if form {
		s.setup = setupPage(b)
	}
	s.matches = s.matchBuf[:0]
	s.nSupport = 0
	s.nSpans, s.nextSpan = 0, 0
	s.lat, s.lon, s.nSSIDs, s.hasWiFiKey, s.nPasswords, s.nNames, s.nNameParts, s.nPostcodes, s.nCities = coordField{}, coordField{}, 0, false, 0, 0, 0, 0, 0
	s.nCards, s.payment = 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; s.start[c] {
		case startSeparator:
			s.fieldAt(b, i)
		case startFree:
			i = s.freeAt(b, i)
		}
	}
	if command {
		s.command(b, 0, len(b))
	}
	s.pairs(b)
	return s.matches
}

// edge is how many joining bytes (isJoiner) between a datum and a cut
// still let it run on past the cut: a card's next group comes after one
// separator, an international number's after at most two.
const edge = 3

// nearStart and nearEnd report whether a datum starting at b[start], or
// ending at b[end], runs into a cut end of the payload, directly or across
// joining bytes: "4111111111111111" may be the front of a 32-digit number,
// "4111 1111 1111 1111 " of a longer grouped one, a key "phone" the tail
// of "headphone". The overlapping chunk or seam that holds it whole
// reports it. A closing quote, a brace or a letter between the datum and
// the cut ends it.
func (s *finder) nearStart(b []byte, start int) bool {
	if !s.cutStart {
		return false
	}
	i := start
	for i > 0 && start-i < edge && isJoiner(b[i-1]) {
		i--
	}
	return i == 0
}

func (s *finder) nearEnd(b []byte, end int) bool {
	if !s.cutEnd {
		return false
	}
	i := end
	for i < len(b) && i-end < edge && isJoiner(b[i]) {
		i++
	}
	return i == len(b)
}

// isJoiner: bytes that can continue a number (group separators, a decimal
// point, a trunk prefix's parentheses) or lie between a key and its value.
func isJoiner(c byte) bool {
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')'
}

// stringValued: labels whose value is personal because of the label,
// whatever the string: an SSID, a Wi-Fi key or password, a name, a
// street, a city, a postcode. A cut leaves a shorter such value, not
// another kind of datum.
func stringValued(k labelKind) bool {
	switch k {
	case labelSSID, labelWiFiKey, labelPassword, labelNamePart, labelName, labelStreet, labelPostcode, labelCity:
		return true
	}
	return false
}

// add records a match found on the way through the payload, leaving
// maxPaired slots to pairs. Labelled values were checked for a cut by
// field, free-text ones by addFree.
func (s *finder) add(k dataKind, label, start, end int) bool {
	if (k == kindEmail || k == kindPhone || k == kindAddress) && s.nSupport < maxSupport {
		s.support[s.nSupport] = start
		s.nSupport++
	}
	return s.addUpTo(maxMatches-maxPaired, k, label, start, end)
}

// addUpTo records a match unless limit matches are recorded or it would
// be the same finding as one that is: a flow reports each (kind, label)
// once, so a second MAC under "macAddress" (a Wi-Fi scan's next access
// point) takes no slot. Device identifiers count only when the payload
// leaves the home network (ids): on the LAN they reach no third party.
// It reports whether m was recorded.
func (s *finder) addUpTo(limit int, k dataKind, label, start, end int) bool {
	if len(s.matches) >= limit || !s.ids && (k == kindMAC || k == kindSerial || k == kindIMEI) {
		return false
	}
	for _, m := range s.matches {
		if m.kind == k && m.label == label || start < m.end && m.start < end {
			return false
		}
	}
	s.matches = append(s.matches, match{kind: k, label: label, start: start, end: end})
	return true
}

// locatedAt sets the numbers of the location match just recorded.
func (s *finder) locatedAt(a, b coord) {
	s.matches[len(s.matches)-1].at = [2]coord{a, b}
}

// addPaired records a match of pairs, which may take the slots add left.
func (s *finder) addPaired(k dataKind, label, start, end int) bool {
	return s.addUpTo(maxMatches, k, label, start, end)
}

// fieldAt looks at a separator for a labelled value: `"key": value`
// (JSON), `key=value` (query strings, forms, config lines), `Key: value`
// at the start of a line (headers) and `<key>value</key>` (XML).
func (s *finder) fieldAt(b []byte, i int) {
	c := b[i]
	var ks, ke int
	if c == '>' {
		ks, ke = tagBefore(b, i)
	} else {
		ks, ke = keyBefore(b, i)
	}
	if ks == ke {
		return
	}
	li := s.labels.lookup(b[ks:ke])
	if li < 0 && s.setup != inspect.NoSetupPage {
		li = s.labels.setupLabel(b[ks:ke], s.setup)
	}
	if li < 0 {
		return
	}
	var vs, ve int
	switch {
	case c == ':' && ke == i && (ks == 0 || b[ks-1] == '\n') && !glued(b, i+1):
		// "Name: value" header line; a mail header of message ids
		// with its continuation lines, which hold more of them.
		vs, ve = lineAfter(b, i+1, messageIDHeader(s.labels.labels[li].field))
	case c == '=' && s.form:
		vs, ve = valueUntil(b, i+1, '&')
	default:
		vs, ve = valueAfter(b, i+1, c)
	}
	// The key ends at the separator, never at a cut end.
	s.field(b, li, ks, ke, vs, ve, !s.nearStart(b, ks), !s.nearEnd(b, ve))
}

// glued: the value at b[i] follows its key's colon without a blank or a
// line break, "key:value", a field of a record like any other (a TK103
// tracker's "imei:359710049095095,tracker,…"), not a header's line.
func glued(b []byte, i int) bool {
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case ' ', '\t', '\r', '\n':
		return false
	}
	return true
}

// keyBefore finds the key ending at the separator b[sep]: a quoted string,
// or a run of name characters starting with a letter or "_".
func keyBefore(b []byte, sep int) (start, end int) {
	j := sep
	for j > 0 && (b[j-1] == ' ' || b[j-1] == '\t') && sep-j < 4 {
		j--
	}
	if j > 0 && (b[j-1] == '"' || b[j-1] == '\'') {
		q := b[j-1]
		end = j - 1
		start = end
		for start > 0 && b[start-1] != q && end-start <= maxKey {
			start--
		}
		if start == 0 || b[start-1] != q || end-start > maxKey {
			return 0, 0
		}
		if end > start && b[end-1] == '\\' {
			end-- // a key of JSON inside a JSON string: \"ssid\":
		}
		return start, end
	}
	end = j
	start = end
	for start > 0 && isKeyByte(b[start-1]) && end-start <= maxKey {
		start--
	}
	if start == end || end-start > maxKey || !(isLetter(b[start]) || b[start] == '_') {
		return 0, 0
	}
	return start, end
}

func isKeyByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '[' || c == ']'
}

// tagBefore finds the name of the XML start tag closed by b[gt].
func tagBefore(b []byte, gt int) (start, end int) {
	lt := gt - 1
	for lt >= 0 && b[lt] != '<' && b[lt] != '>' && gt-lt <= 2*maxKey {
		lt--
	}
	if lt < 0 || b[lt] != '<' {
		return 0, 0
	}
	start = lt + 1
	end = start
	for end < gt && isKeyByte(b[end]) {
		end++
	}
	if end == start || !isLetter(b[start]) {
		return 0, 0
	}
	return start, end
}

// valueAfter finds the value that starts at b[i], after the separator sep:
// a quoted string, a bracketed array, or a bare token. Objects have no
// value of their own (their fields are found one by one). A string of
// JSON inside a JSON string (escapedString) is a string too.
func valueAfter(b []byte, i int, sep byte) (start, end int) {
	if sep == '>' {
		return valueUntil(b, i, '<')
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i >= len(b) {
		return i, i
	}
	switch c := b[i]; c {
	case '"', '\'':
		end = i + 1
		for end < len(b) && b[end] != c && end-i <= maxValue {
			if b[end] == '\\' {
				end++
			}
			end++
		}
		return i + 1, min(end, len(b))
	case '[':
		end = i + 1
		for end < len(b) && b[end] != ']' && b[end] != '[' && b[end] != '{' && end-i <= maxValue {
			end++
		}
		if end < len(b) && b[end] == ']' {
			end++
		}
		return i, end
	case '{':
		return i, i
	case '\\':
		if i+1 < len(b) && b[i+1] == '"' {
			return escapedString(b, i+2)
		}
	}
	end = i
	for end < len(b) && end-i < maxValue && !endsToken(b[end], sep) {
		end++
	}
	return i, end
}

// escapedString returns the string that starts at b[i] after an escaped
// quote: JSON sent as a JSON string's value
// ({"data":"{\"ssid\":\"HomeNet\"}"}), one level deep. It ends at the
// next escaped quote that is not itself escaped (\\\" is a quote inside
// it). Nothing is copied: the value's bytes are as sent.
func escapedString(b []byte, i int) (start, end int) {
	end = i
	for end < len(b) && end-i <= maxValue {
		if b[end] != '\\' || end+1 == len(b) {
			end++
			continue
		}
		switch b[end+1] {
		case '"':
			return i, end
		case '\\':
			// An escaped backslash: it escapes what follows in the
			// inner string, an escaped quote (\\\") or anything else.
			end += 2
			if end+1 < len(b) && b[end] == '\\' {
				end++
			}
			end++
		default:
			end += 2
		}
	}
	return i, min(end, len(b))
}

// valueUntil returns the value that starts at b[i] and runs to the next
// stop byte (an XML element's text, a decoded form's value), without
// surrounding space.
func valueUntil(b []byte, i int, stop byte) (start, end int) {
	end = i
	for end < len(b) && b[end] != stop && end-i < maxValue {
		end++
	}
	s := trimSpace(b[i:end])
	if len(s) == 0 {
		return i, i
	}
	for b[i] == ' ' || b[i] == '\t' {
		i++
	}
	return i, i + len(s)
}

// messageIDHeader: a mail header of message ids, which folds its list of
// them over lines (other ignored labels may head a YAML block of
// personal fields).
func messageIDHeader(field string) bool {
	switch field {
	case "message_id", "in_reply_to", "references", "content_id":
		return true
	}
	return false
}

// lineAfter returns the rest of the line after a header's colon, without
// surrounding space; with folded, also the continuation lines after it
// (a line break followed by a space or tab, RFC 5322 section 2.2.3).
func lineAfter(b []byte, i int, folded bool) (start, end int) {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	limit := maxValue
	if folded {
		limit = maxFolded
	}
	end = i
	for end < len(b) && end-i < limit {
		if c := b[end]; c == '\r' || c == '\n' {
			next := end + 1
			if c == '\r' && next < len(b) && b[next] == '\n' {
				next++
			}
			if !folded || next >= len(b) || (b[next] != ' ' && b[next] != '\t') {
				break
			}
			end = next
		}
		end++
	}
	for end > i && (b[end-1] == ' ' || b[end-1] == '\t') {
		end--
	}
	return i, end
}

// endsToken: bare values after ":" end like JSON numbers and header
// words; after "=" they run to the next parameter, so "52.52,13.40" stays
// one value.
func endsToken(c byte, sep byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '&', ';', '"', '\'', '<', '>':
		return true
	case ',', '}', ']':
		return sep == ':'
	}
	return false
}

// field checks a labelled value and records it. A field whose key runs
// into a cut is recorded, so that what it holds is not taken for free
// text, but not classified: the key may be the tail of a longer one. A
// value that runs into a cut (whole is false) is classified only if it
// is a string the label alone makes personal (stringValued): its front is
// still the secret or the name sent in clear. A value checked by its
// shape may be the front of a longer one that has another.
func (s *finder) field(b []byte, li, ks, ke, vs, ve int, keyWhole, whole bool) {
	key := b[ks:ke]
	sp := span{label: li, start: vs, end: ve}
	s.spans[s.nextSpan] = sp
	s.nextSpan = (s.nextSpan + 1) % maxSpans
	s.nSpans = min(s.nSpans+1, maxSpans)
	lk := s.labels.labels[li].kind
	if !keyWhole || !whole && !stringValued(lk) {
		return
	}
	v := b[vs:ve]
	if s.labels.labels[li].textOnly && bareNumberOrArray(b, vs, v) {
		// {"mcc":262,"lac":12345,"cell":26534571}, {"position":[45.1,-10.5]}
		return
	}
	switch lk {
	case labelPhone:
		if isPhone(v) {
			s.add(kindPhone, li, vs, ve)
		}
	case labelLat:
		s.lat.keep(sp, v, 90)
	case labelLon:
		s.lon.keep(sp, v, 180)
	case labelLocation:
		if a, c, ok := latLonPair(v); ok && s.add(kindLocation, li, vs, ve) {
			s.locatedAt(a, c)
		}
	case labelIMEI:
		if isIMEI(v) {
			s.add(kindIMEI, li, vs, ve)
		}
	case labelMAC:
		if isMAC(v) {
			s.add(kindMAC, li, vs, ve)
		}
	case labelSerial, labelDeviceID:
		// A JSON number under a quoted key is a counter as often
		// (Shelly's "serial":1 counts configuration changes,
		// {"sn":123456}); a serial is written as a string.
		jsonNumber := ke < len(b) && (b[ke] == '"' || b[ke] == '\'') && vs > 0 && b[vs-1] != '"' && b[vs-1] != '\'' && allDigits(v)
		switch {
		// Under a serial's or an id's label a bare twelve hex digits
		// ("201904123456") are as likely a serial: only a MAC written
		// with separators is taken for one.
		case len(v) != 12 && isMAC(v):
			s.add(kindMAC, li, vs, ve)
		case isIMEI(v):
			s.add(kindIMEI, li, vs, ve)
		case !jsonNumber && isSerial(v):
			s.add(kindSerial, li, vs, ve)
		}
	case labelSSID:
		if isSSID(v) && s.nSSIDs < maxPairs {
			s.ssids[s.nSSIDs] = keyed{sp, s.labels.prefix(key, li)}
			s.nSSIDs++
		}
	case labelWiFiKey:
		if !s.hasWiFiKey && isWiFiKey(v) {
			s.wifiKey, s.hasWiFiKey = sp, true
		}
	case labelPassword:
		if isWiFiKey(v) && s.nPasswords < maxPairs {
			s.passwords[s.nPasswords] = keyed{sp, s.labels.prefix(key, li)}
			s.nPasswords++
		}
	case labelNamePart:
		if s.nNames < maxNames && isPersonName(v, 1) {
			s.names[s.nNames] = sp
			s.nNames++
			s.nNameParts++
		}
	case labelName:
		if s.nNames < maxNames && isPersonName(v, 2) && !namesAThing(v) {
			s.names[s.nNames] = sp
			s.nNames++
		}
	case labelStreet:
		if isStreet(v) {
			s.add(kindAddress, li, vs, ve)
		}
	case labelPostcode:
		if s.nPostcodes < maxPairs && isPostcode(v) {
			s.postcodes[s.nPostcodes] = vs
			s.nPostcodes++
		}
	case labelCity:
		if s.nCities < maxPairs && isCity(v) {
			s.cities[s.nCities] = vs
			s.nCities++
		}
	case labelPayment:
		s.payment = s.payment || len(v) > 0
	case labelCommand:
		s.command(b, vs, ve)
	}
}

// command reads a Tasmota command for the secrets it sets: b[vs:ve] is
// one command as Tasmota's console takes it ("Password1 hunter2hunter2",
// the command name and its value) or a Backlog of them, separated by ";"
// ("Backlog SSId1 HomeNet; Password1 hunter2hunter2"; Backlog0 too).
// Command names are any case. A single command says by its name what it
// sets: Password1 and Password2 a Wi-Fi network's key, WebPassword and
// MqttPassword the device's web and MQTT logins. What counts in a
// Backlog is in backlog.
func (s *finder) command(b []byte, vs, ve int) {
	const word = "backlog"
	if i := vs + len(word); i < ve && equalFold(b[vs:i], word) {
		if b[i] == '0' {
			i++
		}
		if i < ve && b[i] == ' ' {
			s.backlog(b, i, ve)
		}
		return
	}
	name, val := s.splitCommand(b, vs, ve)
	switch what, _ := commandName(name); what {
	case cmdWiFiKey:
		if isWiFiKey(b[val.start:val.end]) {
			s.add(kindWiFi, val.label, val.start, val.end)
		}
	case cmdDevicePassword:
		s.devicePassword(b, val)
	}
}

// backlog reads the commands of a Backlog, b[i:ve]; each value runs to
// the next ";". A network's name and key in it are Wi-Fi credentials; a
// key alone or another network's is not, as for labelled fields. A
// device password counts alone.
func (s *finder) backlog(b []byte, i, ve int) {
	var ssid, key [2]span // of networks 1 and 2
	for i < ve {
		j := i
		for j < ve && b[j] != ';' {
			j++
		}
		name, val := s.splitCommand(b, i, j)
		switch what, net := commandName(name); what {
		case cmdSSID:
			ssid[net] = val
		case cmdWiFiKey:
			key[net] = val
		case cmdDevicePassword:
			s.devicePassword(b, val)
		}
		i = j + 1
	}
	for net := range ssid {
		id, k := ssid[net], key[net]
		if id.end > id.start && isSSID(b[id.start:id.end]) && k.end > k.start && isWiFiKey(b[k.start:k.end]) {
			s.add(kindWiFi, k.label, k.start, k.end)
			return
		}
	}
}

// splitCommand splits the command b[a:z] into its name and its value,
// without the blanks around them. The value is reported under the
// label "password".
func (s *finder) splitCommand(b []byte, a, z int) (name []byte, val span) {
	for a < z && (b[a] == ' ' || b[a] == '\t') {
		a++
	}
	for z > a && (b[z-1] == ' ' || b[z-1] == '\t') {
		z--
	}
	n := a
	for n < z && b[n] != ' ' {
		n++
	}
	name = b[a:n]
	for n < z && b[n] == ' ' {
		n++
	}
	return name, span{label: s.password, start: n, end: z}
}

// devicePassword records the value of a WebPassword or MqttPassword
// command if it is a password.
func (s *finder) devicePassword(b []byte, val span) {
	if isCommandPassword(b[val.start:val.end]) {
		s.add(kindDevicePassword, val.label, val.start, val.end)
	}
}

// What a Tasmota command sets (commandName).
const (
	cmdOther          = iota
	cmdSSID           // SSId, SSId1, SSId2: a network's name
	cmdWiFiKey        // Password, Password1, Password2: a network's key
	cmdDevicePassword // WebPassword, MqttPassword
)

// commandName says what the Tasmota command named name sets and, for a
// network's name or key, which network (0 or 1).
func commandName(name []byte) (what, net int) {
	if equalFold(name, "webpassword") || equalFold(name, "mqttpassword") {
		return cmdDevicePassword, 0
	}
	// Without an index a command is its first network's (Tasmota's
	// command handler starts the index at 1).
	base := name
	if n := len(name); n >= 2 && (name[n-1] == '1' || name[n-1] == '2') {
		base, net = name[:n-1], int(name[n-1]-'1')
	}
	switch {
	case equalFold(base, "ssid"):
		return cmdSSID, net
	case equalFold(base, "password"):
		return cmdWiFiKey, net
	}
	return cmdOther, 0
}

// coordField is the first labelled latitude, or longitude, of a payload
// that is precise on its own, and the first that is shortened: precise
// only beside a partner that shows its writer drops trailing zeros.
type coordField struct {
	precise, short       span
	hasPrecise, hasShort bool
}

// keep records the value v, b[sp.start:sp.end], if it is a coordinate
// within limit of either kind, and the first of its kind.
func (c *coordField) keep(sp span, v []byte, limit float64) {
	switch {
	case !c.hasPrecise && preciseCoord(v, limit):
		c.precise, c.hasPrecise = sp, true
	case !c.hasShort && shortCoord(v, limit):
		c.short, c.hasShort = sp, true
	}
}

// position returns the latitude and longitude fields of a precise
// position (precisePair): both precise, or else one shortened beside a
// partner that drops trailing zeros.
func position(b []byte, lat, lon *coordField) (la, lo span, ok bool) {
	if lat.hasPrecise && lon.hasPrecise {
		return lat.precise, lon.precise, true
	}
	switch {
	case lat.hasPrecise && lon.hasShort && dropsZerosAt(b, lat.precise):
		return lat.precise, lon.short, true
	case lat.hasShort && lon.hasPrecise && dropsZerosAt(b, lon.precise):
		return lat.short, lon.precise, true
	}
	return la, lo, false
}

func dropsZerosAt(b []byte, sp span) bool {
	c, _ := parseCoord(b[sp.start:sp.end])
	return c.dropsZeros()
}

// pairs reports the fields that only count together.
func (s *finder) pairs(b []byte) {
	if lat, lon, ok := position(b, &s.lat, &s.lon); ok && !nearNullIsland(b[lat.start:lat.end], b[lon.start:lon.end]) &&
		s.addPaired(kindLocation, lat.label, lat.start, lat.end) {
		a, _ := parseCoord(b[lat.start:lat.end])
		c, _ := parseCoord(b[lon.start:lon.end])
		s.locatedAt(a, c)
	}
	s.pairWiFi(b)
	if s.payment {
		// A payment form: its number field need not be named for a
		// card ({"number":"4111…","cvc":"123","exp_month":"12"}).
		for _, c := range s.cards[:s.nCards] {
			s.addPaired(kindCard, c.label, c.start, c.end)
		}
	}
	if s.nNames == 0 {
		return
	}
	// A first and a last name support each other; two plain "name"
	// fields do not: a list of rooms or lamps ("Living Room", "Kitchen
	// Light") has many. An e-mail address, a phone number, a street, or
	// a postcode with a city support only a name in their own JSON
	// object: a cloud's device list holds the account's address beside
	// rooms named "Living Room", and its home's postcode and city beside
	// devices named "Ceiling Fan"; nor does a postcode alone
	// ({"name":"Front Door","zip":"10115"}).
	parts := s.nNameParts >= 2
	// Each object start is a scan back through b: found once per
	// supporting field, not once per name and field.
	var objs [maxSupport]int
	var pcObjs, cityObjs [maxPairs]int
	nObjs := 0
	if !parts {
		for _, at := range s.support[:s.nSupport] {
			objs[nObjs] = objectStart(b, at)
			nObjs++
		}
		for i, p := range s.postcodes[:s.nPostcodes] {
			pcObjs[i] = objectStart(b, p)
		}
		for i, c := range s.cities[:s.nCities] {
			cityObjs[i] = objectStart(b, c)
		}
	}
	for _, n := range s.names[:s.nNames] {
		support := parts
		if !support && (nObjs > 0 || s.nPostcodes > 0 && s.nCities > 0) {
			obj := objectStart(b, n.start)
			support = slices.Contains(objs[:nObjs], obj) ||
				slices.Contains(pcObjs[:s.nPostcodes], obj) && slices.Contains(cityObjs[:s.nCities], obj)
		}
		if support {
			s.addPaired(kindName, n.label, n.start, n.end)
		}
	}
}

// pairWiFi reports a Wi-Fi key beside an SSID: one under a Wi-Fi key's
// own label ("psk", "wifi_password") anywhere in the payload, else a
// "password" or "key" in the SSID's own object whose key has no other
// words before it than the SSID's ("password" beside "ssid",
// "sta_password" beside "sta_ssid"): a device's status names the network
// it is on beside its cloud or MQTT login ("mqtt_password").
func (s *finder) pairWiFi(b []byte) {
	if s.nSSIDs == 0 {
		return
	}
	if s.hasWiFiKey {
		s.addPaired(kindWiFi, s.wifiKey.label, s.wifiKey.start, s.wifiKey.end)
		return
	}
	var objs [maxPairs]int // of each SSID, found once
	for i, id := range s.ssids[:s.nSSIDs] {
		objs[i] = objectStart(b, id.start)
	}
	for _, p := range s.passwords[:s.nPasswords] {
		obj := objectStart(b, p.start)
		for i, id := range s.ssids[:s.nSSIDs] {
			if (p.prefix == 0 || p.prefix == id.prefix) && objs[i] == obj {
				s.addPaired(kindWiFi, p.label, p.start, p.end)
				return
			}
		}
	}
}

// bareNumberOrArray: the value v at b[vs] is not quoted and is a run of
// digits or an array.
func bareNumberOrArray(b []byte, vs int, v []byte) bool {
	quoted := vs > 0 && (b[vs-1] == '"' || b[vs-1] == '\'')
	return !quoted && len(v) > 0 && (allDigits(v) || v[0] == '[')
}

// objectStart is where the innermost JSON object holding b[i] starts, or
// -1 outside any (a form, free text: the payload is one record).
func objectStart(b []byte, i int) int {
	depth := 0
	for j := min(i, len(b)) - 1; j >= 0; j-- {
		switch b[j] {
		case '}':
			depth++
		case '{':
			if depth == 0 {
				return j
			}
			depth--
		}
	}
	return -1
}

// context says what a free-text match at [start, end) may be: the label
// of the innermost field value holding it, and whether it must be dropped
// because that field says it is something else.
func (s *finder) context(k dataKind, start, end int) (label int, drop bool) {
	label = -1
	for _, sp := range s.spans[:s.nSpans] {
		if start < sp.start || end > sp.end {
			continue
		}
		lk := s.labels.labels[sp.label].kind
		switch {
		case k == kindEmail && lk == labelEmail,
			k == kindPhone && lk == labelPhone,
			k == kindCard && lk == labelCard,
			// {"gps":"$GPGGA,…"}: a tracker's fix as its GNSS
			// module printed it, under a label of a position.
			k == kindNMEA && lk == labelLocation,
			// {"name":"Alice","address":"alice@example.com"}: an
			// address may be a mailbox's (isStreet refuses it as a
			// street).
			k == kindEmail && lk == labelStreet:
			label = sp.label
		case lk == labelName || lk == labelNamePart || lk == labelCommand,
			k == kindPhone && lk == labelEmail:
			// "Alice <alice@example.com>": the address is still
			// reported; so is a "+" number in a contact field.
		default:
			return -1, true
		}
	}
	return label, false
}

// addFree records a free-text match unless its field says it is something
// else or it runs into a cut (see nearStart).
func (s *finder) addFree(b []byte, k dataKind, start, end int) {
	label, drop := s.context(k, start, end)
	if drop || s.nearStart(b, start) || s.nearEnd(b, end) {
		return
	}
	s.add(k, label, start, end)
}

// addCard records a number that has a payment card's shape, written
// together or in groups (grouped). Under a card's label it is one.
// Otherwise, a number that is the whole value of a field is what the
// field's key says it is: a card only if a word of the key names a
// payment ("cc", "card_no", "visaNumber") or the payload is a payment
// form (pairs); "cid=4000001234567899", {"imeisv":"3548760512345606"},
// {"bytes_rx":"5105105105105100"} and {"uptime_ns":4000000000000002} are
// ids, counters and versions. In free text, a grouped number needs a
// word of payment before it: four numbers of four digits are as often
// readings ("adc raw: 4012 3987 4001 3996", one in ten passing Luhn).
func (s *finder) addCard(b []byte, start, end int, grouped bool) {
	label, drop := s.context(kindCard, start, end)
	if drop || s.nearStart(b, start) || s.nearEnd(b, end) {
		return
	}
	if label < 0 {
		if ks, ke, whole := wholeValue(b, start, end); whole {
			if !namesPayment(b[ks:ke]) {
				if s.nCards < maxCards {
					s.cards[s.nCards] = span{label: -1, start: start, end: end}
					s.nCards++
				}
				return
			}
		} else if grouped && !paymentWordBefore(b, start) {
			return
		}
	}
	s.add(kindCard, label, start, end)
}

// wholeValue reports whether b[start:end] is the whole value of a field,
// and returns the field's key (empty in an array): a JSON number or
// string after a key or in an array (escaped JSON's too), a key=value
// value, an XML element's text, or the rest of a "Key: value" line.
func wholeValue(b []byte, start, end int) (ks, ke int, ok bool) {
	i, j := start-1, end
	if i < 0 {
		return 0, 0, false
	}
	if q := b[i]; q == '"' || q == '\'' {
		if j+1 < len(b) && b[j] == '\\' && b[j+1] == q {
			j++ // a string of escaped JSON: \"4111…\"
		}
		if j >= len(b) || b[j] != q {
			return 0, 0, false
		}
		i--
		if i >= 0 && b[i] == '\\' {
			i--
		}
		for i >= 0 && (b[i] == ' ' || b[i] == '\t') {
			i--
		}
		if i < 0 {
			return 0, 0, false
		}
		switch b[i] {
		case ':', '=':
			ks, ke = keyBefore(b, i)
			return ks, ke, true
		case '[', ',':
			return 0, 0, true
		}
		return 0, 0, false
	}
	if b[i] == '>' {
		if j < len(b) && b[j] == '<' {
			ks, ke = tagBefore(b, i)
			return ks, ke, true
		}
		return 0, 0, false
	}
	for i >= 0 && (b[i] == ' ' || b[i] == '\t') {
		i--
	}
	if i < 0 {
		return 0, 0, false
	}
	sep := b[i]
	if sep != ':' && sep != '=' && sep != '[' && sep != ',' {
		return 0, 0, false
	}
	for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	if j < len(b) {
		switch c := b[j]; {
		case c == '\r', c == '\n', c == ',', c == ';', c == '}', c == ']':
		case c == '&' && sep == '=':
		case j > end && sep == '=': // "cid=4000001234567899 v=2" in a log line
		default:
			return 0, 0, false
		}
	}
	if sep == ':' || sep == '=' {
		ks, ke = keyBefore(b, i)
	}
	return ks, ke, true
}

// namesPayment: a whole word of the key names a payment card or a
// payment ("cc", "card_no", "visaNumber"; not "discardCount").
func namesPayment(key []byte) bool {
	for i := 0; i < len(key); {
		if !isLetter(key[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(key) && isLetter(key[j]) && !('a' <= key[j-1] && key[j-1] <= 'z' && 'A' <= key[j] && key[j] <= 'Z') {
			j++
		}
		for _, w := range paymentWords {
			if equalFold(key[i:j], w) {
				return true
			}
		}
		i = j
	}
	return false
}

// paymentWords say that a number nearby is a payment card's.
var paymentWords = [...]string{"pay", "payment", "card", "credit", "debit", "visa", "mastercard", "amex", "cc", "pan", "karte", "kreditkarte", "carte", "tarjeta"}

// freeAt looks for a datum that proves itself without a label at b[i]:
// an e-mail address, a "+" phone number, a payment card number or an NMEA
// sentence. It returns the index of the last byte examined, so that the
// caller skips numbers whole.
func (s *finder) freeAt(b []byte, i int) int {
	switch c := b[i]; {
	case c == '@':
		if st, en, ok := emailAt(b, i, 1); ok {
			s.addFree(b, kindEmail, st, en)
		}
	case c == '%':
		if i+2 < len(b) && b[i+1] == '4' && b[i+2] == '0' {
			if st, en, ok := emailAt(b, i, 3); ok {
				s.addFree(b, kindEmail, st, en)
			}
		}
	case c == '\\':
		// JSON's escape of "@", which some serialisers write.
		if i+5 < len(b) && (b[i+1] == 'u' || b[i+1] == 'U') && string(b[i+2:i+6]) == "0040" {
			if st, en, ok := emailAt(b, i, 6); ok {
				s.addFree(b, kindEmail, st, en)
			}
		}
	case c == '+':
		// Outside a form, a value after "=" ends at a blank: in
		// "temp=+21 1700000000" the number is "+21".
		if en, ok := e164At(b, i, !s.form && i > 0 && b[i-1] == '='); ok {
			s.addFree(b, kindPhone, i, en)
			return en - 1
		}
	case c == '$':
		if en, ok := nmeaAt(b, i); ok {
			s.addFree(b, kindNMEA, i, en)
			return en - 1
		}
	default: // a digit
		en, grouped, ok := cardAt(b, i)
		if ok {
			s.addCard(b, i, en, grouped)
		}
		return en - 1
	}
	return i
}

// cardAt reads the digit run starting at b[i] (single spaces or dashes
// allowed between groups) and reports whether it is a payment card number
// and whether it is written in groups. end is where the run stops, so the
// caller skips it whole.
func cardAt(b []byte, i int) (end int, grouped, ok bool) {
	j := i
	for j < len(b) && isDigit(b[j]) {
		j++
	}
	if j-i < 13 && (j == len(b) || (b[j] != ' ' && b[j] != '-')) {
		return j, false, false // the common short number
	}
	var digits [19]byte
	var groups [8]int
	n, ng, cur := 0, 0, 0
	var sep byte
	for j = i; j < len(b); j++ {
		c := b[j]
		if isDigit(c) {
			if n == len(digits) {
				for j < len(b) && (isDigit(b[j]) || b[j] == ' ' || b[j] == '-') {
					j++
				}
				return j, false, false // longer than any card
			}
			digits[n] = c
			n++
			cur++
			continue
		}
		if (c == ' ' || c == '-') && j+1 < len(b) && isDigit(b[j+1]) && (sep == 0 || c == sep) && ng < len(groups)-1 {
			sep = c
			groups[ng] = cur
			ng++
			cur = 0
			continue
		}
		break
	}
	end = j
	groups[ng] = cur
	ng++
	if n < 13 {
		return end, false, false
	}
	if i > 0 {
		switch p := b[i-1]; {
		case isAlnum(p), p == '.', p == '-', p == '+', p == '_', p == '/', p == '@', p >= 0x80:
			return end, false, false
		}
	}
	if end < len(b) {
		switch c := b[end]; {
		case isLetter(c), c == '_', c == '@', c >= 0x80:
			return end, false, false
		case c == '.' && end+1 < len(b) && isDigit(b[end+1]):
			return end, false, false
		}
	}
	d := digits[:n]
	if sep != 0 && !cardGrouping(groups[:ng]) {
		return end, false, false
	}
	return end, sep != 0, !allSame(d) && cardScheme(d) && luhn(d)
}

// paymentWordBefore: a word of payment ends within the 24 bytes before
// b[i] ("pay", "card", "visa", "amex", "cc").
func paymentWordBefore(b []byte, i int) bool {
	from := max(0, i-24)
	for _, w := range paymentWords {
		for j := from; j+len(w) <= i; j++ {
			if equalFold(b[j:j+len(w)], w) && (j == 0 || !isLetter(b[j-1])) && (j+len(w) == len(b) || !isLetter(b[j+len(w)])) {
				return true
			}
		}
	}
	return false
}

// e164At reads an international number starting with the "+" at b[i]:
// a country code starting 1-9, 10 to 15 digits in all, single spaces,
// dashes or a "(0)" trunk prefix between groups, and no separator inside
// the country code ("+21 1700000000" is a reading and a time: every
// code starting 21 has three digits). With blankEnds, a blank ends the
// number.
func e164At(b []byte, i int, blankEnds bool) (end int, ok bool) {
	if i > 0 {
		switch p := b[i-1]; {
		case isAlnum(p), p == '+', p == '-', p == '.', p == '_', p == '/', p >= 0x80:
			return 0, false
		}
	}
	if i+1 >= len(b) || b[i+1] < '1' || b[i+1] > '9' {
		return 0, false
	}
	n, seps, first := 0, 0, 0 // first: digits before the first separator
	var cc [2]byte            // the first two digits
	j := i + 1
	last := j
	for ; j < len(b); j++ {
		c := b[j]
		if isDigit(c) {
			if n < len(cc) {
				cc[n] = c
			}
			n++
			if n == j-i {
				first = n
			}
			seps = 0
			last = j + 1
			if n > 15 {
				return 0, false
			}
			continue
		}
		if c == '-' && b[j-1] == ' ' {
			break // " -0567": the sign of the next reading ("+2034 -0567")
		}
		if blankEnds && (c == ' ' || c == '\t') {
			break
		}
		if (c == ' ' || c == '-' || c == '(' || c == ')') && seps < 2 {
			seps++
			continue
		}
		break
	}
	// Country code 1 (NANP) is followed by exactly ten digits: "+1234567890"
	// in a log line is a signed number, not a phone.
	if n < 10 || b[i+1] == '1' && n != 11 || first < countryCodeLen(cc) {
		return 0, false
	}
	if last < len(b) {
		switch c := b[last]; {
		case isLetter(c), c == '_', c == '@', c >= 0x80:
			return 0, false
		case c == '.' && last+1 < len(b) && isDigit(b[last+1]):
			return 0, false
		}
	}
	// A trailing "(" or ")" belongs to the text, not the number.
	return last, true
}

// nmeaAt reads an NMEA 0183 position sentence starting with the "$" at
// b[i] (GGA, RMC or GLL from a GNSS talker) with a valid checksum and a
// position fix.
func nmeaAt(b []byte, i int) (end int, ok bool) {
	const maxSentence = 90
	if i+7 > len(b) {
		return 0, false
	}
	if !isNMEATalker(b[i+1], b[i+2]) || b[i+6] != ',' {
		return 0, false
	}
	typ := b[i+3 : i+6]
	gga, rmc, gll := equalFold(typ, "gga"), equalFold(typ, "rmc"), equalFold(typ, "gll")
	if !gga && !rmc && !gll {
		return 0, false
	}
	var sum byte
	star := -1
	for j := i + 1; j < len(b) && j-i < maxSentence; j++ {
		c := b[j]
		if c == '*' {
			star = j
			break
		}
		if c < 0x20 || c > 0x7e || c == '$' {
			return 0, false
		}
		sum ^= c
	}
	if star < 0 || star+2 >= len(b) || !isHex(b[star+1]) || !isHex(b[star+2]) {
		return 0, false
	}
	if hexVal(b[star+1])<<4|hexVal(b[star+2]) != sum {
		return 0, false
	}
	// Fields after the sentence type: the sentence must say it has a
	// fix (GGA's quality above 0, RMC's and GLL's status "A"), and the
	// position must be there and not 0,0, which a module sends before
	// its first fix.
	body := b[i+7 : star]
	latField, fixField := 1, 5 // GGA: time, lat, N/S, lon, E/W, quality
	switch {
	case rmc:
		latField, fixField = 2, 1 // time, status, lat …
	case gll:
		latField, fixField = 0, 5 // lat, N/S, lon, E/W, time, status
	}
	fix := nthField(body, fixField)
	if len(fix) != 1 || (gga && (fix[0] < '1' || fix[0] > '9')) || (!gga && fix[0] != 'A') {
		return 0, false
	}
	lat, lon := nthField(body, latField), nthField(body, latField+2)
	if len(lat) < 4 || !isDigit(lat[0]) || len(lon) < 4 || !isDigit(lon[0]) || zeroNMEA(lat) && zeroNMEA(lon) {
		return 0, false
	}
	return star + 3, true
}

// zeroNMEA: an NMEA coordinate field of zeros ("0000.0000").
func zeroNMEA(f []byte) bool {
	for _, c := range f {
		if c != '0' && c != '.' {
			return false
		}
	}
	return true
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// nthField returns the n-th comma-separated field of body (from 0).
func nthField(body []byte, n int) []byte {
	for n > 0 {
		k := indexByte(body, ',')
		if k < 0 {
			return nil
		}
		body = body[k+1:]
		n--
	}
	if k := indexByte(body, ','); k >= 0 {
		body = body[:k]
	}
	return body
}

// isNMEATalker: GPS, any GNSS, GLONASS, Galileo, BeiDou.
func isNMEATalker(a, b byte) bool {
	switch {
	case a == 'G':
		return b == 'P' || b == 'N' || b == 'L' || b == 'A' || b == 'B'
	case a == 'B':
		return b == 'D'
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// countryCodeLen is the length of the E.164 country code whose first
// two digits are d: 1 for North America (1) and Russia and Kazakhstan
// (7), 2 for the two-digit codes, else 3.
func countryCodeLen(d [2]byte) int {
	if d[0] == '1' || d[0] == '7' {
		return 1
	}
	switch prefixNum(d[:], 2) {
	case 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
		51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86,
		90, 91, 92, 93, 94, 95, 98:
		return 2
	}
	return 3
}
