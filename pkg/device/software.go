package device

import (
	"slices"
	"strings"
	"time"
)

// Software is one product and version seen on a device: a banner's
// server software, a UPnP stack, or the device's firmware. The advisory
// matcher compares these with its feed.
type Software struct {
	// Product is a lower-case canonical id: "busybox", "dropbear", "boa",
	// "lighttpd", "goahead", "uhttpd", "rompager", "miniupnpd",
	// "libupnp", "openssh", "vsftpd", "openssl", "mosquitto", … or
	// "<vendor>:<model>" for firmware ("samsung:ue55tu7100").
	Product string `json:"product"`
	// Version as seen ("1.19.3", "2014.63", "T-KTM2AKUC-1234.5"); empty
	// when the product names none (GoAhead-Webs).
	Version string `json:"version,omitempty"`
	// Source is where it was seen: the observation kind and, for banners,
	// the protocol ("banner/telnet", "http_server", "ssdp", "upnp",
	// "mdns", "dhcp").
	Source string `json:"source"`
	// Also are the other sources that reported this version, at most
	// maxAlso: each one reporting another version later takes this one
	// back.
	Also []string  `json:"also,omitempty"`
	Seen time.Time `json:"seen"` // last seen
}

// maxAlso bounds Software.Also: a version has a handful of sources.
const maxAlso = 4

// reportedBy: source reported this version.
func (s *Software) reportedBy(source string) bool {
	return s.Source == source || slices.Contains(s.Also, source)
}

// maxSoftware bounds a device's software list; beyond it new products are
// dropped (a device runs a handful).
const maxSoftware = 16

// addSoftware records product/version, refreshing Seen for a repeat and
// noting another source that reports it. A source reporting another
// version of a product it reported before replaces that version,
// whichever other sources reported it too: the device was updated (or
// downgraded), and the stale version must not keep matching advisories
// (a telnet banner seen before the update that turned telnet off does not
// keep the old BusyBox alive once DHCP names the new one). An older
// report of the first source arriving late changes nothing.
func (d *Device) addSoftware(s Software) {
	for i := 0; i < len(d.Software); {
		o := &d.Software[i]
		if o.Product != s.Product || o.Version == s.Version || !o.reportedBy(s.Source) {
			i++
			continue
		}
		if o.Source == s.Source && s.Seen.Before(o.Seen) {
			return // an older report arriving late
		}
		d.Software = slices.Delete(d.Software, i, i+1)
		d.swGen++
	}
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product == s.Product && o.Version == s.Version {
			if s.Seen.After(o.Seen) {
				o.Seen = s.Seen
			}
			if !o.reportedBy(s.Source) && len(o.Also) < maxAlso {
				o.Also = append(o.Also, s.Source)
				d.swGen++
			}
			return
		}
	}
	if len(d.Software) >= maxSoftware {
		d.DroppedEvents++
		return
	}
	d.Software = append(d.Software, s)
	d.swGen++
}

// setFirmware records s, the firmware of the device's identified model,
// in place of any other version of it: a device runs one firmware, which
// its Identity names whichever source said so.
func (d *Device) setFirmware(s Software) {
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product != s.Product {
			continue
		}
		if o.Version == s.Version {
			if s.Seen.After(o.Seen) {
				o.Seen = s.Seen
			}
			for _, src := range append([]string{s.Source}, s.Also...) {
				if !o.reportedBy(src) && len(o.Also) < maxAlso {
					o.Also = append(o.Also, src) // a confirmation, which policy weighs
					d.swGen++
				}
			}
		} else {
			*o = s
			d.swGen++
		}
		return
	}
	d.addSoftware(s)
}

// SoftwareChanged reports whether Software gained or changed an entry
// since the last MarkSoftwareMatched: the advisory matcher then looks
// again.
func (d *Device) SoftwareChanged() bool { return d.swGen != d.swMatched }

// MarkSoftwareMatched records that the advisory matcher has seen Software.
func (d *Device) MarkSoftwareMatched() { d.swMatched = d.swGen }

// firmwareProduct is the product id of a device's firmware:
// "<vendor>:<model>", lower case, the vendor without spaces or
// punctuation ("TP-Link", "HS110" → "tplink:hs110").
func firmwareProduct(vendor, model string) string {
	v := strings.Join(words(vendor), "")
	m := strings.ToLower(strings.Join(strings.Fields(model), "-"))
	if v == "" || m == "" {
		return ""
	}
	return v + ":" + m
}
