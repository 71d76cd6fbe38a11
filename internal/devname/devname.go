// Package devname is the one rule by which iotgw names a device to its
// owner: on the page, at the console and in alerts alike, so that the
// phone and the page never call one device two names.
package devname

import "strings"

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
// known.
func (p Parts) String() string {
	if p.Name != "" {
		return p.Name
	}
	if vt := strings.TrimSpace(p.Vendor + " " + p.Type); vt != "" {
		return vt
	}
	if p.Hostname != "" {
		return p.Hostname
	}
	return p.MAC
}
