package ssdp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Description is a UPnP device description (UPnP Device Architecture 2.0,
// section 2.3): the document a LOCATION header points to.
type Description struct {
	URLBase string // deprecated by UPnP 1.1, still sent by old stacks
	Device  Device // the root device
	// Server is the Server header of the HTTP answer that carried the
	// description (set by whoever fetched it; the XML has none): the
	// device's own web stack, named over a connection with it.
	Server string
}

// Device is one device of a description. Values are trimmed, stripped of
// control characters and cut to maxField bytes.
type Device struct {
	DeviceType       string // "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
	FriendlyName     string // set by the owner: may be personal ("Anna's TV")
	Manufacturer     string
	ManufacturerURL  string
	ModelName        string
	ModelNumber      string
	ModelDescription string
	// SerialNumber is returned as the device sent it. It identifies one
	// unit and often equals its MAC address: callers must redact it before
	// it leaves the gateway in an event, a log or the web page.
	SerialNumber    string
	UDN             string // "uuid:..."
	PresentationURL string
	// Versions are firmware and software versions from vendor extensions
	// (any element under the device whose local name contains "firmware",
	// "softwareversion", "fwversion" or "swversion", or is "version"), in
	// document order, at most maxVersions.
	Versions []Version
	// Devices are the embedded devices of the deviceList, in order.
	Devices []Device
}

// Version is one version field of a vendor extension.
type Version struct {
	Name  string // the element's local name: "firmwareVersion", "X_SoftwareVersion"
	Value string
}

// Bounds of a description.
const (
	// DefaultDescriptionLimit is the size cap ParseDescription applies
	// when given none: real descriptions are a few kilobytes.
	DefaultDescriptionLimit = 64 << 10
	maxDepth                = 32 // element nesting
	maxDevices              = 32 // root and embedded devices together
	maxVersions             = 8  // per device
	maxField                = 256
)

// ErrTooLarge is returned for a description longer than the limit.
var ErrTooLarge = errors.New("upnp description: too large")

// ParseDescription reads at most limit bytes (DefaultDescriptionLimit when
// limit <= 0) of a UPnP device description from r. It refuses documents
// with a DOCTYPE (entity expansion and external entities are never
// needed), nesting deeper than maxDepth, more than maxDevices devices,
// or a root element other than <root>. Namespaces are ignored: elements
// are matched by local name, as devices get them wrong.
func ParseDescription(r io.Reader, limit int64) (Description, error) {
	if limit <= 0 {
		limit = DefaultDescriptionLimit
	}
	doc, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return Description{}, fmt.Errorf("upnp description: read: %w", err)
	}
	if int64(len(doc)) > limit {
		return Description{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	p := descParser{d: xml.NewDecoder(bytes.NewReader(doc))}
	p.d.Strict = true
	p.d.CharsetReader = charsetReader
	desc, err := p.parse()
	if err != nil {
		return Description{}, fmt.Errorf("upnp description: %w", err)
	}
	return desc, nil
}

// openDevice is a <device> element being read and its index in path.
type openDevice struct {
	dev   *Device
	index int
}

type descParser struct {
	d       *xml.Decoder
	path    []string     // local names of the open elements
	isDev   []bool       // per open element: whether it opened a Device
	devices []openDevice // innermost last
	count   int          // devices seen
	text    []byte       // character data of the innermost element
}

func (p *descParser) parse() (Description, error) {
	var desc Description
	var root *Device
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Description{}, err
		}
		switch t := tok.(type) {
		case xml.Directive:
			return Description{}, errors.New("DOCTYPE and other directives are not allowed")
		case xml.StartElement:
			name := t.Name.Local
			if len(p.path) == 0 && name != "root" {
				return Description{}, fmt.Errorf("root element <%s>, want <root>", name)
			}
			if len(p.path) == maxDepth {
				return Description{}, fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			isDev := name == "device" && p.deviceAllowedHere()
			if isDev {
				p.count++
				if p.count > maxDevices {
					return Description{}, fmt.Errorf("more than %d devices", maxDevices)
				}
				p.devices = append(p.devices, openDevice{dev: &Device{}, index: len(p.path)})
			}
			p.path = append(p.path, name)
			p.isDev = append(p.isDev, isDev)
			p.text = p.text[:0]
		case xml.CharData:
			if room := maxField*4 - len(p.text); room > 0 {
				p.text = append(p.text, t[:min(len(t), room)]...)
			}
		case xml.EndElement:
			// The decoder checks that end tags match start tags.
			name, isDev := p.path[len(p.path)-1], p.isDev[len(p.isDev)-1]
			p.path, p.isDev = p.path[:len(p.path)-1], p.isDev[:len(p.isDev)-1]
			if isDev {
				dev := p.devices[len(p.devices)-1].dev
				p.devices = p.devices[:len(p.devices)-1]
				if len(p.devices) == 0 {
					if root == nil {
						root = dev
					}
				} else {
					parent := p.devices[len(p.devices)-1].dev
					parent.Devices = append(parent.Devices, *dev)
				}
			} else {
				p.leaf(&desc, name)
			}
			p.text = p.text[:0]
		}
	}
	if root == nil {
		return Description{}, errors.New("no <device> element")
	}
	desc.Device = *root
	return desc, nil
}

// deviceAllowedHere reports whether a <device> opening now is the root
// device (under <root>) or an embedded one (under <deviceList> of an
// open device).
func (p *descParser) deviceAllowedHere() bool {
	parent := p.path[len(p.path)-1]
	return (parent == "root" && len(p.path) == 1 && p.count == 0) ||
		(parent == "deviceList" && len(p.devices) > 0)
}

// leaf records the text of an element that just closed.
func (p *descParser) leaf(desc *Description, name string) {
	depth := len(p.path) // of the parent
	if depth == 1 && name == "URLBase" {
		desc.URLBase = inspect.CleanText(p.text, maxField)
		return
	}
	if len(p.devices) == 0 {
		return
	}
	open := p.devices[len(p.devices)-1]
	dev := open.dev
	if open.index == depth-1 { // a child of the device element itself
		if field := dev.field(name); field != nil {
			if *field == "" {
				*field = inspect.CleanText(p.text, maxField)
			}
			return
		}
	}
	if isVersionName(name) && len(dev.Versions) < maxVersions {
		if v := inspect.CleanText(p.text, maxField); v != "" {
			dev.Versions = append(dev.Versions, Version{Name: name, Value: v})
		}
	}
}

func (d *Device) field(name string) *string {
	switch name {
	case "deviceType":
		return &d.DeviceType
	case "friendlyName":
		return &d.FriendlyName
	case "manufacturer":
		return &d.Manufacturer
	case "manufacturerURL":
		return &d.ManufacturerURL
	case "modelName":
		return &d.ModelName
	case "modelNumber":
		return &d.ModelNumber
	case "modelDescription":
		return &d.ModelDescription
	case "serialNumber":
		return &d.SerialNumber
	case "UDN":
		return &d.UDN
	case "presentationURL":
		return &d.PresentationURL
	}
	return nil
}

func isVersionName(name string) bool {
	n := strings.ToLower(name)
	return n == "version" || strings.Contains(n, "firmware") || strings.Contains(n, "softwareversion") ||
		strings.Contains(n, "fwversion") || strings.Contains(n, "swversion")
}

// charsetReader accepts the single-byte charsets old UPnP stacks declare;
// encoding/xml itself reads only UTF-8.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf8":
		return input, nil
	case "iso-8859-1", "latin1", "iso_8859-1", "us-ascii", "ascii":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(b))
		for i, c := range b {
			out[i] = rune(c)
		}
		return strings.NewReader(string(out)), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}
