package pii

// Field labels: the names of JSON keys, form and query parameters, XML
// tags and "Name: value" lines that say what a value is. A label turns a
// string of digits into a phone number or a serial number with certainty;
// without one, only the shapes that carry their own proof (an e-mail
// address, a "+" phone number, a Luhn-valid card number, a checksummed NMEA
// sentence) are reported.

import "github.com/iotgw/iotgw/pkg/inspect"

// labelKind says what a labelled value is, or that free text inside it is
// not personal data (ids, timestamps, hashes).
type labelKind uint8

const (
	labelNone     labelKind = iota
	labelIgnore             // ids, timestamps, hashes: nothing inside is personal data
	labelEmail              // a field that holds an e-mail address
	labelPhone              // a phone number, national form allowed
	labelLat                // latitude, paired with labelLon
	labelLon                // longitude, paired with labelLat
	labelLocation           // "lat,lon" in one value, or [a, b]
	labelIMEI               // a 15-digit IMEI
	labelMAC                // a MAC address
	labelSerial             // a serial number
	labelDeviceID           // a device identifier: MAC, IMEI or serial by its shape
	labelSSID               // a Wi-Fi network name
	labelWiFiKey            // a Wi-Fi pre-shared key
	labelPassword           // a password: a Wi-Fi key only next to an SSID
	labelNamePart           // first, last or full name
	labelName               // "name": a person's name only next to other personal fields
	labelStreet             // a street address
	labelPostcode           // supports names and addresses, never reported alone
	labelCity               // supports names and addresses, never reported alone
	labelCard               // a payment card number
	labelPayment            // a card's security code or expiry: the payload is a payment form
	labelCommand            // a Tasmota command: a Backlog may set a network and its key
)

// label is one known field name. field is what findings report: the
// canonical spelling, never the bytes from the wire, so a crafted key
// cannot carry data into an event.
type label struct {
	field string
	kind  labelKind
	// exact: the whole key only. Otherwise the label also matches as the
	// last word of a longer key ("gps_lat", "userEmail", "device.serial").
	exact bool
	// textOnly: a bare number or array under the label means something
	// else (a mobile network's cell id under "cell", a camera's pan and
	// tilt or a robot's place in metres under "position"); only a string
	// or form value counts.
	textOnly bool
	// place: as the last word of a longer key, only after a word that
	// names a place ("gps_lat", "homeLon"); "acc_lat" and "accel_long"
	// are a vehicle's lateral and longitudinal acceleration, "avg_lat"
	// a latency.
	place bool
	// setup: the label is a field of that Wi-Fi setup page's form only,
	// and only the whole key.
	setup inspect.SetupPage
	norm  string // field lower-cased without separators, set by newLabels
}

// placeWords name what a short latitude or longitude label may follow in
// a key (label.place).
var placeWords = [...]string{
	"gps", "gnss", "geo", "loc", "location", "pos", "position", "coord", "coords",
	"home", "house", "user", "device", "dev", "my", "current", "cur", "last",
	"center", "centre", "map", "place", "site", "station", "point", "poi", "marker",
	"start", "end", "dest", "destination", "origin", "pickup", "dropoff", "target",
	"fix", "exif", "photo", "image", "img", "vehicle", "car", "tracker", "event",
}

// maxKey bounds the field names looked at; longer keys are not labels.
const maxKey = 64

// newLabels returns the label table. When several labels end a key, the
// longest wins, so "mac_address" is a MAC, not a postal address, and
// "device_id" is a device identifier, not an ignored id.
func newLabels() []label {
	ls := []label{
		{field: "email", kind: labelEmail},
		{field: "e_mail", kind: labelEmail},
		{field: "mail", kind: labelEmail},
		{field: "email_address", kind: labelEmail},
		{field: "user", kind: labelEmail, exact: true},
		{field: "username", kind: labelEmail},
		{field: "login", kind: labelEmail, exact: true},
		{field: "account", kind: labelEmail, exact: true},
		{field: "contact", kind: labelEmail, exact: true},
		// Longer than "id", which they would otherwise end as an id
		// ("loginId": "alice@example.com").
		{field: "login_id", kind: labelEmail},
		{field: "login_name", kind: labelEmail},
		{field: "user_id", kind: labelEmail},
		{field: "account_id", kind: labelEmail},

		{field: "phone", kind: labelPhone},
		{field: "phone_number", kind: labelPhone},
		{field: "phone_no", kind: labelPhone},
		{field: "telephone", kind: labelPhone},
		{field: "tel", kind: labelPhone},
		{field: "mobile", kind: labelPhone},
		{field: "mobile_number", kind: labelPhone},
		{field: "cell", kind: labelPhone, exact: true, textOnly: true},
		{field: "cellphone", kind: labelPhone},
		{field: "msisdn", kind: labelPhone},

		{field: "lat", kind: labelLat, place: true},
		{field: "latitude", kind: labelLat},
		{field: "lon", kind: labelLon, place: true},
		{field: "lng", kind: labelLon, place: true},
		{field: "long", kind: labelLon, place: true},
		{field: "longitude", kind: labelLon},
		{field: "location", kind: labelLocation},
		{field: "loc", kind: labelLocation, exact: true},
		{field: "position", kind: labelLocation, textOnly: true},
		{field: "pos", kind: labelLocation, exact: true, textOnly: true},
		{field: "coords", kind: labelLocation},
		{field: "coordinates", kind: labelLocation},
		{field: "gps", kind: labelLocation},
		{field: "geo", kind: labelLocation, exact: true},
		{field: "latlng", kind: labelLocation},
		{field: "latlon", kind: labelLocation},

		{field: "imei", kind: labelIMEI},

		{field: "mac", kind: labelMAC},
		{field: "macaddr", kind: labelMAC},
		{field: "mac_address", kind: labelMAC},
		{field: "hwaddr", kind: labelMAC},
		{field: "bssid", kind: labelMAC},

		{field: "serial", kind: labelSerial},
		{field: "serial_number", kind: labelSerial},
		{field: "serial_no", kind: labelSerial},
		{field: "sn", kind: labelSerial},

		{field: "device_id", kind: labelDeviceID},
		{field: "dev_id", kind: labelDeviceID},
		{field: "hardware_id", kind: labelDeviceID},
		{field: "hwid", kind: labelDeviceID},

		{field: "ssid", kind: labelSSID},
		{field: "essid", kind: labelSSID},
		{field: "psk", kind: labelWiFiKey},
		{field: "wifi_password", kind: labelWiFiKey},
		{field: "wifi_pass", kind: labelWiFiKey},
		{field: "wifi_key", kind: labelWiFiKey},
		{field: "wifi_pwd", kind: labelWiFiKey},
		{field: "wifi_passwd", kind: labelWiFiKey},
		{field: "wlan_password", kind: labelWiFiKey},
		// ESP firmware's key of the network it joins as a station.
		{field: "sta_pass", kind: labelWiFiKey},
		{field: "sta_pwd", kind: labelWiFiKey},
		{field: "passphrase", kind: labelWiFiKey},
		{field: "wpa_key", kind: labelWiFiKey},
		{field: "wpa_psk", kind: labelWiFiKey},
		{field: "network_key", kind: labelWiFiKey},
		{field: "password", kind: labelPassword},
		{field: "pass", kind: labelPassword, exact: true},
		{field: "pwd", kind: labelPassword, exact: true},
		// Tuya's AP-mode pairing and Unix-minded firmware spell it so.
		{field: "passwd", kind: labelPassword, exact: true},
		{field: "key", kind: labelPassword, exact: true},
		{field: "s", kind: labelSSID, exact: true, setup: inspect.WiFiManagerSave},
		{field: "p", kind: labelWiFiKey, exact: true, setup: inspect.WiFiManagerSave},
		{field: "s1", kind: labelSSID, exact: true, setup: inspect.TasmotaWiFi},
		{field: "s2", kind: labelSSID, exact: true, setup: inspect.TasmotaWiFi},
		{field: "p1", kind: labelWiFiKey, exact: true, setup: inspect.TasmotaWiFi},
		{field: "p2", kind: labelWiFiKey, exact: true, setup: inspect.TasmotaWiFi},
		{field: "cmnd", kind: labelCommand, exact: true},
		{field: "c1", kind: labelCommand, exact: true, setup: inspect.TasmotaConsole},

		{field: "first_name", kind: labelNamePart},
		{field: "given_name", kind: labelNamePart},
		{field: "last_name", kind: labelNamePart},
		{field: "surname", kind: labelNamePart},
		{field: "family_name", kind: labelNamePart},
		{field: "full_name", kind: labelNamePart},
		{field: "name", kind: labelName, exact: true},

		// "address" alone is the whole key: as a last word it is as often
		// an IP, I2C, BLE or server address (ip_address, i2c_address);
		// the keys that name a postal address say so.
		{field: "street", kind: labelStreet},
		{field: "street_address", kind: labelStreet},
		{field: "address", kind: labelStreet, exact: true},
		{field: "address1", kind: labelStreet},
		{field: "address2", kind: labelStreet},
		{field: "address_line1", kind: labelStreet},
		{field: "address_line2", kind: labelStreet},
		{field: "home_address", kind: labelStreet},
		{field: "postal_address", kind: labelStreet},
		{field: "mailing_address", kind: labelStreet},
		{field: "billing_address", kind: labelStreet},
		{field: "shipping_address", kind: labelStreet},
		{field: "delivery_address", kind: labelStreet},
		{field: "residential_address", kind: labelStreet},
		{field: "postcode", kind: labelPostcode},
		{field: "postal_code", kind: labelPostcode},
		{field: "zip", kind: labelPostcode},
		{field: "zip_code", kind: labelPostcode},
		{field: "plz", kind: labelPostcode, exact: true},
		{field: "city", kind: labelCity},
		{field: "town", kind: labelCity},

		{field: "card", kind: labelCard},
		{field: "card_number", kind: labelCard},
		{field: "credit_card", kind: labelCard},
		{field: "cc_number", kind: labelCard},
		{field: "ccnum", kind: labelCard},
		{field: "pan", kind: labelCard, exact: true},
		// A card's security code and expiry: beside them, a number
		// field that has a card's shape is the card's.
		{field: "cvc", kind: labelPayment},
		{field: "cvc2", kind: labelPayment},
		{field: "cvv", kind: labelPayment},
		{field: "cvv2", kind: labelPayment},
		{field: "csc", kind: labelPayment},
		{field: "card_expiry", kind: labelPayment},
		{field: "exp_month", kind: labelPayment},
		{field: "exp_year", kind: labelPayment},
		{field: "expiry_month", kind: labelPayment},
		{field: "expiry_year", kind: labelPayment},
		{field: "expiration_month", kind: labelPayment},
		{field: "expiration_year", kind: labelPayment},

		// Values that look like cards, phones or e-mail addresses but are
		// not personal data: identifiers, times, digests, mail plumbing.
		{field: "id", kind: labelIgnore},
		{field: "uid", kind: labelIgnore},
		{field: "uuid", kind: labelIgnore},
		{field: "guid", kind: labelIgnore},
		{field: "ts", kind: labelIgnore},
		{field: "time", kind: labelIgnore},
		{field: "timestamp", kind: labelIgnore},
		{field: "date", kind: labelIgnore},
		{field: "seq", kind: labelIgnore},
		{field: "nonce", kind: labelIgnore},
		{field: "counter", kind: labelIgnore},
		{field: "crc", kind: labelIgnore},
		{field: "checksum", kind: labelIgnore},
		{field: "hash", kind: labelIgnore},
		{field: "md5", kind: labelIgnore},
		{field: "sha1", kind: labelIgnore},
		{field: "sha256", kind: labelIgnore},
		{field: "token", kind: labelIgnore},
		{field: "signature", kind: labelIgnore},
		{field: "sig", kind: labelIgnore},
		{field: "message_id", kind: labelIgnore},
		{field: "in_reply_to", kind: labelIgnore},
		{field: "references", kind: labelIgnore},
		{field: "content_id", kind: labelIgnore},
		{field: "iccid", kind: labelIgnore},
		{field: "imsi", kind: labelIgnore},
		{field: "version", kind: labelIgnore},
		{field: "build", kind: labelIgnore},
		// Ids whose "id" is no word of its own ("msgid", "sessionId"
		// is one already) or is the whole key.
		{field: "msg_id", kind: labelIgnore},
		{field: "session_id", kind: labelIgnore},
		{field: "request_id", kind: labelIgnore},
		{field: "trace_id", kind: labelIgnore},
		{field: "cid", kind: labelIgnore, exact: true},
		{field: "sid", kind: labelIgnore, exact: true},
	}
	for i := range ls {
		ls[i].norm = normalizeLabel(ls[i].field)
	}
	return ls
}

func normalizeLabel(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// labelIndex finds the label of a key without allocating: keys are
// normalised into a stack buffer and only the labels ending in the key's
// last character are compared.
type labelIndex struct {
	labels []label
	byLast [128][]uint8
	// ends holds the last two characters of every label (a bit set per
	// second-to-last character), a quick test that rejects most keys
	// before they are normalised.
	ends [128][2]uint64
}

func newLabelIndex() *labelIndex {
	x := &labelIndex{labels: newLabels()}
	for i, l := range x.labels {
		if l.setup != inspect.NoSetupPage {
			continue // found by setupLabel only
		}
		c := l.norm[len(l.norm)-1]
		x.byLast[c] = append(x.byLast[c], uint8(i))
		if len(l.norm) >= 2 {
			x.ends[l.norm[len(l.norm)-2]][c/64] |= 1 << (c % 64)
		}
	}
	return x
}

// mayMatch is false for keys whose last two letters or digits end no
// label. One-character keys always pass.
func (x *labelIndex) mayMatch(key []byte) bool {
	var last [2]byte
	n := 0
	for i := len(key) - 1; i >= 0 && n < 2; i-- {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		default:
			continue
		}
		last[1-n] = c
		n++
	}
	return n == 2 && x.ends[last[0]][last[1]/64]&(1<<(last[1]%64)) != 0
}

// prefix is a hash of the words of key before label li's name ("sta" of
// "sta_password"), 0 when there are none: an SSID and a password with
// the same prefix (sta_ssid, sta_password) are one network's.
func (x *labelIndex) prefix(key []byte, li int) uint32 {
	n := 0
	for _, c := range key {
		if isAlnum(c) {
			n++
		}
	}
	n -= len(x.labels[li].norm)
	if n <= 0 {
		return 0
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range key {
		if n == 0 {
			break
		}
		if isAlnum(c) {
			h = (h ^ uint32(lowerByte(c))) * 16777619
			n--
		}
	}
	return h | 1 // never 0
}

// lookup returns the index of the longest label that is the whole key or
// its last word, or -1. Word boundaries are separators ("_", "-", ".",
// space, brackets) and lower-to-upper case changes ("serialNumber").
func (x *labelIndex) lookup(key []byte) int {
	if len(key) == 0 || len(key) > maxKey || !x.mayMatch(key) {
		return -1
	}
	var norm [maxKey]byte
	var wordStart [maxKey]bool
	n := 0
	boundary := true
	var prev byte
	for i, c := range key {
		switch {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			norm[n], wordStart[n] = c, boundary
			n++
			boundary = false
		case 'A' <= c && c <= 'Z':
			norm[n] = c + 'a' - 'A'
			// A capital starts a word after a small letter or digit
			// ("serialNumber"), and after an acronym when a small
			// letter follows it ("GPSLatitude").
			nextSmall := i+1 < len(key) && 'a' <= key[i+1] && key[i+1] <= 'z'
			wordStart[n] = boundary || 'a' <= prev && prev <= 'z' || '0' <= prev && prev <= '9' ||
				'A' <= prev && prev <= 'Z' && nextSmall
			n++
			boundary = false
		default:
			boundary = true
		}
		prev = c
	}
	if n == 0 || norm[n-1] >= 128 {
		return -1
	}
	best, bestLen := -1, 0
	for _, i := range x.byLast[norm[n-1]] {
		l := &x.labels[i]
		m := len(l.norm)
		if m > n || m <= bestLen || (l.exact && m != n) || !wordStart[n-m] {
			continue
		}
		if string(norm[n-m:n]) == l.norm && (!l.place || m == n || placeWordIn(norm[:n-m], wordStart[:n-m])) {
			best, bestLen = int(i), m
		}
	}
	return best
}

// placeWordIn: a word of the normalised key front norm (its words start
// where wordStart says) is one of placeWords.
func placeWordIn(norm []byte, wordStart []bool) bool {
	for i := 0; i < len(norm); {
		j := i + 1
		for j < len(norm) && !wordStart[j] {
			j++
		}
		for _, w := range placeWords {
			if string(norm[i:j]) == w {
				return true
			}
		}
		i = j
	}
	return false
}

// setupLabel returns the index of the label of the Wi-Fi setup page
// setup that is the whole key, or -1.
func (x *labelIndex) setupLabel(key []byte, setup inspect.SetupPage) int {
	for i := range x.labels {
		if l := &x.labels[i]; l.setup == setup && equalFold(key, l.norm) {
			return i
		}
	}
	return -1
}

// field returns the index of the label named field.
func (x *labelIndex) field(field string) int {
	for i := range x.labels {
		if x.labels[i].field == field && x.labels[i].setup == inspect.NoSetupPage {
			return i
		}
	}
	panic("pii: no label " + field)
}

// setupPage says which Wi-Fi setup page the query or form b is sent to,
// by the request path at its start ("/wifisave?s=…&p=…"; the HTTP
// analyzer puts a setup page's path before its form body). The paths
// are the firmware's own, whole: ESP WiFiManager's /wifisave, Tasmota's
// /wi and its console's /cs, also in a proxy's absolute form.
func setupPage(b []byte) inspect.SetupPage {
	q := indexByte(b, '?')
	if q < 0 {
		return inspect.NoSetupPage
	}
	path := b[:q]
	if i := indexOf(path, "://"); i >= 0 {
		rest := path[i+3:]
		j := indexByte(rest, '/')
		if j < 0 {
			return inspect.NoSetupPage
		}
		path = rest[j:]
	}
	return inspect.SetupPageAt(path)
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}
