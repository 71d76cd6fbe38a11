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
	Source string    `json:"source"`
	Seen   time.Time `json:"seen"` // last seen
}

// maxSoftware bounds a device's software list; beyond it new products are
// dropped (a device runs a handful).
const maxSoftware = 16

// addSoftware records product/version, refreshing Seen for a repeat. A
// source reporting another version of a product it reported before
// replaces it: the device was updated (or downgraded), and the stale
// version must not keep matching advisories. An older report arriving
// late changes nothing.
func (d *Device) addSoftware(s Software) {
	// The same source's earlier report first: another source may already
	// name the new version, and the old one must go all the same.
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product != s.Product || o.Source != s.Source || o.Version == s.Version {
			continue
		}
		if s.Seen.Before(o.Seen) {
			return // an older report arriving late
		}
		d.Software = slices.Delete(d.Software, i, i+1)
		d.swGen++
		break
	}
	for i := range d.Software {
		o := &d.Software[i]
		if o.Product == s.Product && o.Version == s.Version {
			if s.Seen.After(o.Seen) {
				o.Seen = s.Seen
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
