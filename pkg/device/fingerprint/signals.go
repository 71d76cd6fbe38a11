package fingerprint

import (
	"net/netip"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

// Evidence keys of a KindUPnP observation: the UPnP device description
// fetched from an SSDP LOCATION (the active fetcher's contract with this
// package; see docs/fingerprinting.md).
const (
	UPnPManufacturer = "manufacturer"
	UPnPModelName    = "model_name"
	UPnPModelNumber  = "model_number"
	UPnPFirmware     = "firmware_version" // first vendor version element
	UPnPSerial       = "serial"           // already redacted
	UPnPFriendlyName = "friendly_name"
	UPnPDeviceType   = "device_type"
	UPnPServer       = "server" // the Server header of the HTTP answer
)

// Evidence keys of an http_server observation that holds an ONVIF
// device's answer to GetDeviceInformation (pkg/inspect/http).
const (
	ONVIFManufacturer = "manufacturer"
	ONVIFModel        = "model"
	ONVIFFirmware     = "firmware_version"
)

// maxServer bounds the Server header kept, as the HTTP analyzer does.
const maxServer = 160

// UPnPEvidence is the evidence of a KindUPnP observation for a parsed
// device description: the root device's fields under the keys above, the
// serial number redacted (it identifies one unit), the first vendor
// version element as firmware_version, and the Server header the device
// answered with. The active fetcher files it.
func UPnPEvidence(desc ssdp.Description) event.Evidence {
	d := desc.Device
	ev := event.Evidence{}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			ev[k] = v
		}
	}
	set(UPnPManufacturer, d.Manufacturer)
	set(UPnPModelName, d.ModelName)
	set(UPnPModelNumber, d.ModelNumber)
	set(UPnPFriendlyName, d.FriendlyName)
	set(UPnPDeviceType, d.DeviceType)
	if s := strings.TrimSpace(d.SerialNumber); s != "" {
		ev[UPnPSerial] = inspect.Redact([]byte(s))
	}
	if len(d.Versions) > 0 {
		set(UPnPFirmware, d.Versions[0].Value)
	}
	if desc.Server != "" {
		// As the HTTP analyzer scrubs a Server header it reads.
		ev[UPnPServer] = inspect.Scrubbed([]byte(desc.Server), maxServer)
	}
	return ev
}

// Signals calls fn for each signal an observation carries about the
// device it is filed under. Events that describe another host (the
// services an mDNS query browses for, the search target of an M-SEARCH
// or of a WS-Discovery Probe, a DHCP server's ACK) yield nothing of
// those parts, nor does a UPnP description that media software serves
// (see MediaSoftware) of the fields that name the software.
func (rs *Rules) Signals(ev *event.Event, fn func(sig Signal, value string)) {
	e := ev.Evidence
	switch ev.Kind {
	case event.KindDHCP:
		if e["message_type"] == "ack" {
			return // the server's answer, not the client's fingerprint
		}
		emit(fn, SigHostname, e["hostname"])
		if e["fqdn"] != e["hostname"] {
			emit(fn, SigHostname, e["fqdn"])
		}
		emit(fn, SigDHCPVendorClass, e["vendor_class"])
		emit(fn, SigDHCPPRL, e["prl"])
		emit(fn, SigDHCPUserClass, e["user_class"])
		emit(fn, SigDHCPv6Enterprise, e["vendor_enterprise"])
		emit(fn, SigDHCPv6ORO, e["oro"])
	case event.KindDNSQuery:
		emit(fn, SigDomain, e["name"])
	case event.KindMDNS:
		emit(fn, SigHostname, e["hostname"])
		emit(fn, SigInstance, e["instance"])
		for s := range strings.SplitSeq(e["services"], ",") {
			emit(fn, SigMDNSService, s)
		}
		shared := sharedQueue(e["txt_rp"])
		for k, v := range e {
			key, ok := strings.CutPrefix(k, "txt_")
			if !ok || v == "" || key == "rp" || shared && printerKey(key) {
				continue
			}
			fn(SigMDNSTXT, key+"="+v)
		}
	case event.KindSSDP:
		emit(fn, SigServer, e["server"])
		emit(fn, SigUserAgent, e["user_agent"])
		switch e["message"] {
		case "notify":
			emit(fn, SigSSDPType, e["nt"])
		case "response":
			emit(fn, SigSSDPType, e["st"])
		}
	case event.KindWSD:
		if m := e["message"]; m == "probe" || m == "resolve" {
			return // what the sender looks for, not what it is
		}
		for t := range strings.FieldsSeq(e["types"]) {
			emit(fn, SigWSDType, t)
		}
		for t := range strings.SplitSeq(e["onvif_types"], ",") {
			emitScope(fn, "type", t)
		}
		emitScope(fn, "hardware", e["hardware"])
		emitScope(fn, "name", e["name"])
		emitScope(fn, "manufacturer", e["manufacturer"])
	case event.KindUPnP:
		// Kodi or Plex on a PC would make it "XBMC Foundation, Kodi", a
		// NAS by its MediaServer type; its friendlyName is the
		// software's to choose too. The Server header stays: it says
		// what served the description, as any HTTP answer's does.
		switch sw := rs.MediaSoftware(e[UPnPManufacturer], e[UPnPModelName]); {
		case sw == nil:
			emit(fn, SigUPnPManufacturer, e[UPnPManufacturer])
			emit(fn, SigUPnPModel, e[UPnPModelName])
			emit(fn, SigUPnPFirmware, e[UPnPFirmware])
			emit(fn, SigUPnPDeviceType, e[UPnPDeviceType])
			emit(fn, SigInstance, e[UPnPFriendlyName])
		case sw.VendorBuilds:
			emit(fn, SigUPnPManufacturer, e[UPnPManufacturer])
		}
		emit(fn, SigServer, e[UPnPServer])
	case event.KindHTTPClient:
		emit(fn, SigUserAgent, e["user_agent"])
		emit(fn, SigDomain, hostOnly(e["host"]))
	case event.KindHTTPServer:
		emit(fn, SigServer, e["server"])
		emit(fn, SigHTTPRealm, e["realm"])
		// An ONVIF camera's answer to GetDeviceInformation.
		emit(fn, SigONVIFManufacturer, e[ONVIFManufacturer])
		emit(fn, SigONVIFModel, e[ONVIFModel])
		emit(fn, SigONVIFFirmware, e[ONVIFFirmware])
	case event.KindTLSClient:
		emit(fn, SigDomain, e["sni"])
		emit(fn, SigJA3, e["ja3"])
		emit(fn, SigJA4, e["ja4"])
	case event.KindBanner:
		emit(fn, SigBanner, e["banner"])
		emit(fn, SigMQTTClientID, e["client_id"])
	}
}

// sharedQueue reports whether an IPP queue's resource path (TXT key rp)
// is one CUPS shares from a computer (printers/<queue>, classes/<class>;
// macOS printer sharing is CUPS too): the queue's make and model keys
// are those of the printer on the computer's port, not the computer's.
// A printer's own queue has another path (ipp/print).
func sharedQueue(rp string) bool {
	return strings.HasPrefix(rp, "printers/") || strings.HasPrefix(rp, "classes/")
}

// printerKey reports whether a TXT key names a printer's make or model
// (Bonjour Printing Specification).
func printerKey(k string) bool {
	return k == "ty" || k == "usb_mfg" || k == "usb_mdl" || k == "product"
}

func emit(fn func(Signal, string), sig Signal, v string) {
	if v = strings.TrimSpace(v); v != "" {
		fn(sig, v)
	}
}

// emitScope calls fn with an ONVIF scope signal, category/value, when
// value is set.
func emitScope(fn func(Signal, string), category, value string) {
	if value = strings.TrimSpace(value); value != "" {
		fn(SigONVIFScope, category+"/"+value)
	}
}

// hostOnly is the name of an HTTP Host header: no port, and nothing when
// it is an address literal (an address says nothing about a vendor).
func hostOnly(h string) string {
	if strings.HasPrefix(h, "[") {
		return ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	return h
}
