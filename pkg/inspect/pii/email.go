package pii

// E-mail addresses in free text. The rules favour precision: an address
// needs a dotted domain with a letters-only top-level domain, and the
// shapes that only look like addresses are refused: asset names
// ("icon@2x.png"), URL userinfo ("http://user:pw@host"), role mailboxes
// that name no person ("noreply@", "postmaster@"), message ids and
// devices' own MQTT or XMPP identities ("plug_a4cf129b3e01@mqtt.vendor.com").

const (
	maxLocal  = 64
	maxDomain = 253
)

// emailAt reads the address around the at-sign at b[at], which is "@",
// URL-encoded "%40" (atLen 3) or JSON-escaped "\u0040" (atLen 6).
func emailAt(b []byte, at, atLen int) (start, end int, ok bool) {
	start = at
	for start > 0 && isLocalByte(b[start-1]) && at-start < maxLocal {
		start--
	}
	local := b[start:at]
	if len(local) == 0 || !isAlnum(local[0]) || local[len(local)-1] == '.' || hasDoubleDot(local) {
		return 0, 0, false
	}
	if start > 0 {
		switch p := b[start-1]; {
		case isLocalByte(p), p >= 0x80: // longer than maxLocal, or not ASCII
			return 0, 0, false
		case p == '/' && start > 1 && b[start-2] == '/':
			return 0, 0, false // "http://user@host": userinfo; "/users/alice@…" is a path
		case p == ':' && !addressLabelBefore(b[:start]):
			return 0, 0, false // "user:password@host": userinfo
		case p == '(' && kernelVersionBefore(b[:start-1]):
			return 0, 0, false // "Linux version 4.9.37 (build@fw-ci.vendor.com)": the build host
		}
	}
	if isRoleMailbox(local) || isMessageIDLocal(local) || hasDeviceIDWord(local) {
		return 0, 0, false
	}
	end, ok = domainAt(b, at+atLen)
	return start, end, ok
}

// addressLabelBefore: b ends in a word that says an address follows the
// colon ("mailto:", "email:", "E-Mail:", which "mail:" covers), so it is
// no URL userinfo.
func addressLabelBefore(b []byte) bool {
	for _, w := range [...]string{"mailto:", "email:", "mail:"} {
		if hasSuffixFold(b, w) && (len(b) == len(w) || !isAlnum(b[len(b)-len(w)-1])) {
			return true
		}
	}
	return false
}

// kernelVersionBefore: b ends in "Linux version " and a version, the
// start of a kernel's banner (/proc/version, the first line of dmesg),
// where "(user@host)" names the account and machine that built it.
func kernelVersionBefore(b []byte) bool {
	if len(b) == 0 || b[len(b)-1] != ' ' {
		return false
	}
	b = b[:len(b)-1]
	i := len(b)
	for i > 0 && b[i-1] != ' ' && len(b)-i < 64 {
		i--
	}
	if i == len(b) || i == 0 || b[i-1] != ' ' {
		return false
	}
	return hasSuffixFold(b[:i-1], "linux version")
}

func isLocalByte(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func hasDoubleDot(s []byte) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '.' && s[i-1] == '.' {
			return true
		}
	}
	return false
}

// domainAt reads a domain name of at least two labels starting at b[i]
// and returns where it ends. A trailing dot (end of a sentence) is not
// part of it.
func domainAt(b []byte, i int) (end int, ok bool) {
	labels, labelStart := 0, i
	j := i
	for ; j < len(b) && j-i <= maxDomain; j++ {
		c := b[j]
		if isAlnum(c) || c == '-' {
			continue
		}
		if c == '.' && j > labelStart && j+1 < len(b) && (isAlnum(b[j+1])) {
			if !validDomainLabel(b[labelStart:j]) {
				return 0, false
			}
			labels++
			labelStart = j + 1
			continue
		}
		break
	}
	if j-i > maxDomain || j == labelStart {
		return 0, false
	}
	tld := b[labelStart:j]
	if labels == 0 || !validDomainLabel(tld) || len(tld) < 2 || len(tld) > 24 {
		return 0, false
	}
	for _, c := range tld {
		if !isLetter(c) {
			return 0, false
		}
	}
	if j < len(b) {
		switch c := b[j]; {
		case c == '@', c == '_', c >= 0x80:
			return 0, false
		}
	}
	if isFileExtension(tld) || isScaleSuffix(b[i:]) || isLocalNetworkTLD(tld) {
		return 0, false
	}
	return j, true
}

// isLocalNetworkTLD: names that only a local network resolves ("pi@raspberrypi.local",
// a build host's "jenkins@ci01.localdomain"): no mail goes there, they
// name a login on a machine (RFC 6762, RFC 8375, and common router and
// corporate defaults).
func isLocalNetworkTLD(tld []byte) bool {
	for _, t := range [...]string{"local", "localdomain", "lan", "home", "internal", "intranet", "corp", "arpa", "localhost"} {
		if equalFold(tld, t) {
			return true
		}
	}
	return false
}

func validDomainLabel(l []byte) bool {
	return len(l) >= 1 && len(l) <= 63 && l[0] != '-' && l[len(l)-1] != '-'
}

// isFileExtension: asset names such as "logo@2x.png" or "pkg@1.2.min.js"
// end in a file type, not a top-level domain. (".zip" and ".mov" are
// real TLDs too; precision wins.)
func isFileExtension(tld []byte) bool {
	for _, ext := range [...]string{
		"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif",
		"js", "mjs", "css", "json", "html", "htm", "xml", "txt", "pdf", "map",
		"mp3", "mp4", "wav", "ogg", "webm", "mov", "woff", "woff2", "ttf", "otf", "eot",
		"php", "asp", "aspx", "jsp", "cgi", "bin", "img", "zip", "gz", "tgz", "bz2", "xz",
	} {
		if equalFold(tld, ext) {
			return true
		}
	}
	return false
}

// isScaleSuffix: "@2x", "@3x", "@1.5x" after an image name.
func isScaleSuffix(domain []byte) bool {
	i := 0
	for i < len(domain) && (isDigit(domain[i]) || domain[i] == '.') {
		i++
	}
	return i > 0 && i < len(domain) && (domain[i] == 'x' || domain[i] == 'X') &&
		(i+1 == len(domain) || !isAlnum(domain[i+1]))
}

// isRoleMailbox: addresses of functions, not people.
func isRoleMailbox(local []byte) bool {
	for _, r := range [...]string{
		"noreply", "no-reply", "donotreply", "do-not-reply", "no_reply",
		"postmaster", "mailer-daemon", "hostmaster", "webmaster", "abuse",
		"root", "git", "nobody", "daemon",
		"support", "info", "service", "help", "sales", "contact", "privacy", "security",
	} {
		if equalFold(local, r) {
			return true
		}
	}
	return false
}

// isMessageIDLocal: message and content ids put long runs of hex, digits
// and dots before the "@"; people do not.
func isMessageIDLocal(local []byte) bool {
	if len(local) < 20 {
		return false
	}
	for _, c := range local {
		if !isHex(c) && c != '.' && c != '-' && c != '$' {
			return false
		}
	}
	return true
}

// hasDeviceIDWord: a word of the local part (between ". _ - +") is 12
// or more hex digits, letters and digits both: a device's MAC or chip
// id, as clouds name a device's MQTT or XMPP login
// ("plug_a4cf129b3e01@mqtt.vendor.com"). People's mailboxes hold no such
// word; twelve digits alone may be a phone number (an e-mail-to-SMS
// gateway's "491511234567@sms.example.net"), and are kept.
func hasDeviceIDWord(local []byte) bool {
	for i := 0; i < len(local); {
		j := i
		hex, letter, digit := true, false, false
		for ; j < len(local) && isAlnum(local[j]); j++ {
			c := local[j]
			hex = hex && isHex(c)
			letter = letter || isLetter(c)
			digit = digit || isDigit(c)
		}
		if j-i >= 12 && hex && letter && digit {
			return true
		}
		i = j + 1
	}
	return false
}
