package http

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// The firmware rule. A GET path (query stripped, case ignored) is a
// firmware or software-update download when its file name
//
//   - ends in an image extension (.bin .img .fw .trx .chk .hex .pkg .ipk
//     .swu, Zigbee's .ota and .zigbee), also compressed (tasmota.bin.gz),
//     or
//   - ends in an archive extension (.zip .tar .gz .tgz .bz2 .xz .7z) and
//     the path has "firmware", "update", "upgrade", "fota" or "ota" as a
//     word of its own, or
//   - sits below a directory named firmware, fota, ota, upgrade or update
//     and is not a web page, script, style sheet, image or manifest, nor
//     a desktop system's signed update or installer (Windows Update's
//     .cab and .msu, Defender's and the removal tool's .exe, .msi, a
//     Mac's .dmg), nor a certificate or CRL (Windows fetches its root
//     certificates from ctldl.windowsupdate.com/msdownload/update/…:
//     signed, and in clear by design, see inclear.go).
//
// A path without a file name, or whose last extension is none of these,
// is not: "/updates.html", "/static/app.bin.css", "/update/".
var (
	imageExts   = [...]string{"bin", "img", "fw", "trx", "chk", "hex", "pkg", "ipk", "swu", "ota", "zigbee"}
	archiveExts = [...]string{"zip", "tar", "gz", "tgz", "bz2", "xz", "7z"}
	updateWords = [...]string{"firmware", "update", "upgrade", "fota", "ota"}
	updateDirs  = [...]string{"firmware", "fota", "ota", "upgrade", "update"}
	webExts     = [...]string{"html", "htm", "php", "asp", "aspx", "jsp", "cgi", "js", "css", "json", "xml", "txt", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "pdf", "md"}
	desktopExts = [...]string{"cab", "msu", "msi", "msp", "exe", "esd", "psf", "appx", "msix", "dmg", "crt", "cer", "crl", "p7c", "p7b"}
	// compressedExts wrap a single file whose own extension still tells.
	compressedExts = [...]string{"gz", "xz", "bz2", "zst", "lzma"}
)

// What a request is to the firmware rules.
type firmwareKind uint8

const (
	notFirmware     firmwareKind = iota
	firmwareFile                 // a download of an image
	firmwareCheck                // a check for updates (isUpdateCheck)
	firmwareIfImage              // a download if it is answered with an image
)

// classifyFirmware says what a request is to the firmware rules, given
// its User-Agent (agent), whether it carried the headers of the Arduino
// ESP8266/ESP32 HTTP updater (espHeaders) and whether its server is on
// the LAN. In order:
//
//   - a GET by the Arduino ESP8266/ESP32 HTTP updater (ESP8266httpUpdate,
//     HTTPUpdate): its User-Agent ("ESP8266-http-Update",
//     "ESP32-http-Update") or its x-ESP8266-… and x-ESP32-… headers
//     (free space, sketch MD5, MAC). It only ever asks for an image, at
//     any path (the library's example is /esp/update/arduino.php), and
//     is answered the image or 304 for none: a download.
//   - a GET that firmwareDownload takes for one: a download.
//   - a check for updates (isUpdateCheck), to an internet server.
//   - a GET, not a browser's, of a name without extension below a
//     directory named as updateDirs ("/firmware/latest",
//     "/api/v1/firmware/download/1234"): a download if its answer is an
//     image (2xx, reply.image), as a version API answers JSON there.
//
// path is nil when the request's URL could not be told (splitTarget's
// ambiguous): no rule then.
func classifyFirmware(method, host, path, agent []byte, espHeaders, serverLocal bool) firmwareKind {
	if path == nil {
		return notFirmware
	}
	get := string(method) == "GET"
	browser := inspect.HasPrefixFold(agent, "Mozilla/")
	switch {
	case get && !browser && (espHeaders || espUpdaterAgent(agent)):
		return firmwareFile
	case get && firmwareDownload(host, path, agent, serverLocal):
		return firmwareFile
	case !serverLocal && isUpdateCheck(method, host, path, agent):
		return firmwareCheck
	case get && !browser && extensionlessBelowUpdateDir(path):
		return firmwareIfImage
	}
	return notFirmware
}

// espUpdaterAgent: the User-Agent of the Arduino cores' HTTP updaters.
func espUpdaterAgent(agent []byte) bool {
	return inspect.HasPrefixFold(agent, "ESP8266-http-Update") || inspect.HasPrefixFold(agent, "ESP32-http-Update")
}

// espUpdaterHeader: a request header the Arduino cores' HTTP updaters
// send (x-ESP8266-STA-MAC, x-ESP32-sketch-md5, …).
func espUpdaterHeader(name []byte) bool {
	if len(name) < len("x-ESP32-") || name[0]|0x20 != 'x' || name[1] != '-' {
		return false // every other header a request has
	}
	return inspect.HasPrefixFold(name, "x-ESP8266-") || inspect.HasPrefixFold(name, "x-ESP32-")
}

// extensionlessBelowUpdateDir: the path's file name has no extension and
// a directory above it is named as updateDirs.
func extensionlessBelowUpdateDir(path []byte) bool {
	slash := bytes.LastIndexByte(path, '/')
	if name := path[slash+1:]; len(name) == 0 || bytes.IndexByte(name, '.') >= 0 {
		return false
	}
	return belowUpdateDir(path[:slash+1])
}

// belowUpdateDir: a segment of dir is named as updateDirs.
func belowUpdateDir(dir []byte) bool {
	for len(dir) > 0 {
		n := bytes.IndexByte(dir, '/')
		if n < 0 {
			n = len(dir)
		}
		// Run on every GET: most segments are ruled out by their length
		// or first letter (f, o, u) before five comparisons.
		if c := dir[0] | 0x20; n >= 3 && n <= 8 && (c == 'f' || c == 'o' || c == 'u') && inspect.EqualFoldAny(dir[:n], updateDirs[:]) {
			return true
		}
		dir = dir[min(n+1, len(dir)):]
	}
	return false
}

// imageContentType: a response's Content-Type says it is a file to be
// stored, not a page or a document: what an image is answered as.
func imageContentType(v []byte) bool {
	return inspect.ContainsFold(v, "octet-stream") || inspect.ContainsFold(v, "zip") ||
		inspect.ContainsFold(v, "x-tar") || inspect.ContainsFold(v, "x-binary") || inspect.ContainsFold(v, "firmware")
}

// firmwareDownload reports whether a GET of path from host, by a client
// whose User-Agent is agent, is a device's firmware or software update
// (isFirmwarePath), but for three downloads that are not one:
//
//   - a macOS installer package (.pkg, also a firmware extension) from
//     Apple's hosts (swcdn.apple.com, *.cdn-apple.com): signed, and a
//     Mac's system update, not a device's firmware. From other hosts a
//     .pkg stays an image: some NAS and camera firmware comes so.
//   - a package from a distribution's own repository whose package
//     manager checks it against the index, and the index against the
//     distribution's signature (signedRepoPackage): an OpenWrt access
//     point updating its packages with opkg, openSUSE's zypper, whose
//     update repository is /update/…. From other hosts such a package
//     stays an image: a vendor's feed need not be signed, nor its
//     updater check.
//   - a browser's download from a LAN server (serverLocal): the owner
//     saving a device's configuration backup (/userRpm/config.bin) or
//     log from its web page. Nothing updates itself by it, and the
//     finding would go against the laptop. As the update-check rule
//     (isUpdateCheck) does, a browser and the LAN each weigh against an
//     update; here only both together rule one out: a device that is no
//     browser fetching from the LAN (a mesh node from the main router,
//     a bulb from its hub) updates in clear all the same, and a browser
//     fetching an image from the internet is the owner updating a device
//     by hand from a vendor's page in clear (and some TVs' updaters call
//     themselves Mozilla).
func firmwareDownload(host, path, agent []byte, serverLocal bool) bool {
	if !isFirmwarePath(path) {
		return false
	}
	name := path[bytes.LastIndexByte(path, '/')+1:]
	if hasSuffixFold(name, ".pkg") && appleHost(host) || signedRepoPackage(host, name) {
		return false
	}
	return !serverLocal || !inspect.HasPrefixFold(agent, "Mozilla/")
}

// appleHost: the host (a Host header, perhaps with a port) is Apple's:
// apple.com or cdn-apple.com, or a name below them.
func appleHost(host []byte) bool {
	return inDomain(host, "apple.com") || inDomain(host, "cdn-apple.com")
}

// signedRepoPackage: name is a package (an opkg .ipk, an RPM or delta
// RPM) and host the distribution's own, whose package manager takes it
// only as the distribution's signed index lists it (opkg's
// check_signature, zypper's gpgcheck: both on by default).
func signedRepoPackage(host, name []byte) bool {
	switch {
	case hasSuffixFold(name, ".ipk"):
		return inDomain(host, "openwrt.org")
	case hasSuffixFold(name, ".rpm"), hasSuffixFold(name, ".drpm"):
		return inDomain(host, "opensuse.org")
	}
	return false
}

// inDomain reports whether host, without its port or final dot, is
// domain or a name below it, ignoring case.
func inDomain(host []byte, domain string) bool {
	host = hostName(host)
	if len(host) == len(domain) {
		return inspect.EqualFold(host, domain)
	}
	return len(host) > len(domain) && host[len(host)-len(domain)-1] == '.' && inspect.EqualFold(host[len(host)-len(domain):], domain)
}

// hostName is a Host header without its port and the final dot of a
// fully qualified name ("example.com.:80" is "example.com").
func hostName(host []byte) []byte {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return bytes.TrimSuffix(host, []byte("."))
}

func isFirmwarePath(path []byte) bool {
	slash := bytes.LastIndexByte(path, '/')
	dir, name := path[:slash+1], path[slash+1:]
	dot := bytes.LastIndexByte(name, '.')
	if dot <= 0 || dot == len(name)-1 {
		return false
	}
	ext := name[dot+1:]
	if inspect.EqualFoldAny(ext, compressedExts[:]) {
		if inner := bytes.LastIndexByte(name[:dot], '.'); inner > 0 && inspect.EqualFoldAny(name[inner+1:dot], imageExts[:]) {
			return true
		}
	}
	switch {
	case inspect.EqualFoldAny(ext, imageExts[:]):
		return true
	case inspect.EqualFoldAny(ext, archiveExts[:]):
		for _, w := range updateWords {
			if containsWordFold(path, w) {
				return true
			}
		}
		return false
	case inspect.EqualFoldAny(ext, webExts[:]), inspect.EqualFoldAny(ext, desktopExts[:]):
		return false
	}
	return belowUpdateDir(dir)
}

// The update-check rule. A device's GET or POST to an internet server,
// not a browser's (its User-Agent does not start "Mozilla/"), is a check
// for updates when the host's first label names an update service
// (update.vendor.com, fota.vendor.com) or a path segment is ota, fota or
// fwupdate (/api/ota/check, /fota/v2/query.php), and the file asked for
// is not a web page's part (a style sheet, script, image or document).
// Its answer (a manifest, an image URL, "no update") comes in clear for
// anyone on the path to change. "firmware" and "update" alone are not
// enough in a path: a laptop reads vendors' firmware pages, and REST APIs
// use "update" as a verb.
var (
	updateHosts    = [...]string{"update", "updates", "upgrade", "fota", "ota", "firmware", "fwupdate", "autoupdate"}
	updateSegments = [...]string{"ota", "fota", "fwupdate", "otaupdate"}
	pageAssetExts  = [...]string{"html", "htm", "css", "js", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "pdf", "md", "woff", "woff2"}
)

func isUpdateCheck(method, host, path, agent []byte) bool {
	if (string(method) != "GET" && string(method) != "POST") || inspect.HasPrefixFold(agent, "Mozilla/") {
		return false
	}
	name := path[bytes.LastIndexByte(path, '/')+1:]
	if dot := bytes.LastIndexByte(name, '.'); dot > 0 && inspect.EqualFoldAny(name[dot+1:], pageAssetExts[:]) {
		return false
	}
	first, _, _ := bytes.Cut(host, []byte("."))
	if inspect.EqualFoldAny(first, updateHosts[:]) && bytes.IndexByte(host, '.') > 0 {
		return true
	}
	for rest := path; len(rest) > 0; {
		var seg []byte
		seg, rest, _ = bytes.Cut(rest, []byte("/"))
		if dot := bytes.IndexByte(seg, '.'); dot > 0 {
			seg = seg[:dot] // "/fota.php"
		}
		if inspect.EqualFoldAny(seg, updateSegments[:]) {
			return true
		}
	}
	return false
}

// idMaskedPath is the path a firmware finding names, with what may
// identify the device or its owner left out ("..."), as update endpoints
// and download paths put the device's serial, MAC or IMEI there
// ("/api/ota/device/SN12345678/check", "/ota/AA:BB:CC:DD:EE:FF/fw.bin",
// "/fota/357938035643809.bin"), and these must not reach the owner's page
// and alerts in clear; "/api/v2/check" and "/get-latest-version" stay
// whole. A directory segment goes when it is eight or more characters
// with anything but letters, '-' and '_' in it, or holds an identifier
// (inspect.Identifying). keepFile keeps the last segment, a download's
// file name ("cam_5.7.3_build220112.bin" says which image it was),
// unless it holds an identifier.
func idMaskedPath(path []byte, keepFile bool) []byte {
	return appendIDMaskedPath(make([]byte, 0, len(path)), path, keepFile)
}

// appendIDMaskedPath appends idMaskedPath(path, keepFile) to dst.
func appendIDMaskedPath(dst, path []byte, keepFile bool) []byte {
	for i := 0; ; i++ {
		seg, rest, more := bytes.Cut(path, []byte("/"))
		if i > 0 {
			dst = append(dst, '/')
		}
		file := keepFile && !more
		switch {
		case inspect.Identifying(seg):
			dst = append(dst, "..."...)
		case !file && len(seg) >= 8 && bytes.ContainsFunc(seg, func(r rune) bool { return r >= 0x80 || !isLetter(byte(r)) && r != '-' && r != '_' }):
			dst = append(dst, "..."...)
		default:
			dst = append(dst, seg...)
		}
		if !more {
			return dst
		}
		path = rest
	}
}

// containsWordFold reports whether w occurs in s, ignoring case, with no
// letter right before or after it ("ota" in "cam-ota-1.zip", not in
// "rotation.zip").
func containsWordFold(s []byte, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if !inspect.HasPrefixFold(s[i:], w) {
			continue
		}
		if (i == 0 || !isLetter(s[i-1])) && (i+len(w) == len(s) || !isLetter(s[i+len(w)])) {
			return true
		}
	}
	return false
}

func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// MaskFirmwareURL applies today's rules to the url evidence of a
// firmware_over_http finding filed by an earlier version (host and path,
// "fw.example/fota/357938035643809.bin"): identifiers in the path and in
// the host's labels go as "...", the file name too when it holds one
// (file: a download, not an update check), and a host that is more than
// a host and port goes whole. A restored finding must not show what a
// new one would not.
func MaskFirmwareURL(url string, file bool) string {
	host, path, ok := strings.Cut(url, "/")
	if hostPort([]byte(host)) {
		host = inspect.IDMaskedHost(host)
	} else {
		host = "..."
	}
	if !ok {
		return host
	}
	return host + string(idMaskedPath([]byte("/"+path), file))
}

// firmwareURL is the evidence for a firmware request: host and path, no
// query, with what may identify the device left out
// (inspect.AppendIDMaskedHost, idMaskedPath; keepFile: a download, whose
// file name stays). Without a Host header that names a host (and nothing
// else: no "user:password@"), the server's address stands in.
func firmwareURL(f *inspect.Flow, host, path []byte, keepFile bool) string {
	return string(appendFirmwareURL(make([]byte, 0, len(host)+len(path)), f, host, path, keepFile))
}

// appendFirmwareURL appends firmwareURL(f, host, path, keepFile) to dst,
// printable as inspect.Printable makes it.
func appendFirmwareURL(dst []byte, f *inspect.Flow, host, path []byte, keepFile bool) []byte {
	if h := bytes.TrimSpace(host); hostPort(h) && len(h) > 0 {
		dst = inspect.AppendIDMaskedHost(dst, h[:min(len(h), maxHost)])
	} else {
		addr := f.Server().Addr().Unmap()
		if f.Server().Port() == 80 {
			dst = addr.AppendTo(dst)
		} else {
			dst = netip.AddrPortFrom(addr, f.Server().Port()).AppendTo(dst)
		}
	}
	start := len(dst)
	dst = appendIDMaskedPath(dst, path, keepFile)
	masked := bytes.TrimSpace(dst[start:])
	n := copy(dst[start:], masked[:min(len(masked), maxTarget)])
	for i := start; i < start+n; i++ {
		if dst[i] < 0x20 || dst[i] >= 0x7f {
			dst[i] = '.'
		}
	}
	return dst[:start+n]
}
