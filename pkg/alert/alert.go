// Package alert owns what iotgw tells the owner's phone: the Alert record,
// built by pure functions from redacted events and daemon state changes;
// the channels that deliver it (ntfy, Gotify, Pushover, Telegram, a signed
// webhook, e-mail, MQTT with Home Assistant discovery); and the Dispatcher
// that deduplicates, filters, rate-limits, holds alerts through quiet
// hours, and delivers them through a durable outbox with retries, in
// order per channel; and the ProblemDamper, the hold-down that keeps a
// daemon problem coming and going from flooding the phone.
// docs/alerts.md is the owner's guide.
//
// An Alert never carries a password or a personal datum: builders copy
// only whitelisted, non-secret evidence (protocol, data kind, product,
// version …), never a password form, keyed hash or sample. A user name
// appears only as the finding's summary has it, redacted (r***), in the
// reason of a quarantine.
package alert

import (
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/devname"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
)

// Kind says what an alert is about.
type Kind string

// Alert kinds. KindReleased and KindDigest are not findings: the first
// keeps Home Assistant's per-device state right, the second is what rate
// limiting sends instead of a burst.
const (
	KindNewDevice          Kind = "new_device"
	KindQuarantined        Kind = "quarantined"
	KindReleased           Kind = "released"
	KindDefaultCredentials Kind = "default_credentials"
	KindOutdatedFirmware   Kind = "outdated_firmware"
	KindPersonalData       Kind = "personal_data"
	KindDaemonProblem      Kind = "daemon_problem"
	KindTest               Kind = "test"
	KindDigest             Kind = "digest"
)

// filterable reports whether a channel's `kinds` filter may name k.
func filterable(k Kind) bool {
	switch k {
	case KindNewDevice, KindQuarantined, KindReleased, KindDefaultCredentials,
		KindOutdatedFirmware, KindPersonalData, KindDaemonProblem:
		return true
	}
	return false
}

// Device states as the page shows them; Device.State carries the state as
// of the alert.
const (
	StateOK          = "ok"
	StateAlert       = "alert"
	StateQuarantined = "quarantined"
)

// Device is what an alert says about the device it concerns.
type Device struct {
	MAC string `json:"mac,omitempty"`
	IP  string `json:"ip,omitempty"`
	// Name is the owner's name for the device.
	Name   string `json:"name,omitempty"`
	Vendor string `json:"vendor,omitempty"`
	// Type is what kind of device it is ("camera"), empty when unknown.
	Type  string `json:"type,omitempty"`
	Model string `json:"model,omitempty"`
	// Hostname is the host name the device gave itself last.
	Hostname string `json:"hostname,omitempty"`
	// State is ok, alert or quarantined as of this alert. Callers set
	// StateQuarantined for a quarantined device; builders fill the rest.
	State string `json:"state,omitempty"`
}

// Alert is one message to the owner. Its JSON form is the webhook body,
// the MQTT alert message and the outbox payload.
type Alert struct {
	// ID is unique per alert; receivers use it to drop a repeat
	// (delivery is at least once). The Dispatcher assigns it.
	ID       string         `json:"id"`
	Kind     Kind           `json:"kind"`
	Severity event.Severity `json:"severity"`
	// Urgent alerts bypass quiet hours: policy quarantines, default
	// credentials, daemon problems and anything critical.
	Urgent bool    `json:"urgent,omitempty"`
	Title  string  `json:"title"`
	Body   string  `json:"body"`
	Device *Device `json:"device,omitempty"`
	// URL is the device's page on the local web page (base_url from the
	// configuration); the Dispatcher fills it.
	URL string `json:"url,omitempty"`
	// Reason is why a device was quarantined.
	Reason string `json:"reason,omitempty"`
	// Facts are non-secret details for machines (webhook, MQTT): protocol,
	// data_kind, product, version, cve …
	Facts map[string]string `json:"facts,omitempty"`
	Time  time.Time         `json:"time"`
	// DedupKey names "the same finding for the same device": one alert per
	// key until the alert's content changes.
	DedupKey string `json:"dedup_key,omitempty"`
	// Parts are the alerts a digest stands for (only in KindDigest, never
	// stored in the outbox).
	Parts []Alert `json:"parts,omitempty"`
}

// Limits on owner-visible text; longer text is cut at a UTF-8 boundary.
const (
	maxTitle  = 120
	maxBody   = 1200
	maxField  = 128
	maxReason = 512
)

// FromEvent builds the alert for a finding the owner is told about at once:
// default credentials, outdated firmware and personal data sent in clear.
// Other events give ok == false. dev describes the device (its MAC and IP
// default to the event's); set dev.State to StateQuarantined when it is.
func FromEvent(ev *event.Event, dev Device) (a Alert, ok bool) {
	if ev == nil || !ev.IsFinding() {
		return Alert{}, false
	}
	if dev.MAC == "" {
		dev.MAC = ev.Device.MAC
	}
	if dev.IP == "" {
		dev.IP = ev.Device.IP
	}
	d := cleanDevice(dev, StateAlert)
	name := displayName(d)
	ev0 := func(k string) string { return clip(ev.Evidence[k], maxField) }
	a = Alert{Severity: ev.Severity, Device: &d, Time: ev.Time, Facts: map[string]string{}}
	switch ev.Kind {
	case event.KindDefaultCredentials:
		a.Kind = KindDefaultCredentials
		proto := strings.ToUpper(ev0("protocol"))
		if proto == "" && ev.Flow != nil {
			proto = strings.ToUpper(clip(ev.Flow.App, maxField))
		}
		accepted := ev0("accepted")
		a.Title = "Factory-default password on " + name
		var what string
		if ev0("password_class") == "none" {
			// A shell without a login: there is no password to change.
			a.Title = "No password at all on " + name
			a.Body = fmt.Sprintf("%s gives a shell over %s to anyone on the network, without asking for a login. Turn that service off or set a password on the device; until then iotgw may quarantine it.", name, orWord(proto, "the network"))
			if ev0("any_password") == "yes" {
				// The audit got in with a random password: the
				// device asks for one and checks nothing.
				a.Body = fmt.Sprintf("%s accepts any password over %s: anyone on the network can log in. Turn that service off or update the device; until then iotgw may quarantine it.", name, orWord(proto, "the network"))
			}
			a.DedupKey = key(a.Kind, d, ev0("protocol"), serverKey(ev))
			a.Urgent = true
			setFacts(a.Facts, ev, "protocol", "mechanism", "accepted", "password_class")
			break
		}
		// "Logged in" only for a login that got in: one refused, or
		// whose answer was not seen (a trap's community), was sent.
		switch {
		case isServer(ev) && accepted == "yes":
			what = fmt.Sprintf("Someone logged in to %s over %s with its factory-default password", name, orWord(proto, "the network"))
		case isServer(ev):
			what = fmt.Sprintf("Someone sent a factory-default password to %s over %s", name, orWord(proto, "the network"))
		case accepted == "yes":
			what = fmt.Sprintf("%s logged in to a service%s over %s with a factory-default password", name, atHost(ev), orWord(proto, "the network"))
		default:
			what = fmt.Sprintf("%s sent a factory-default password to a service%s over %s", name, atHost(ev), orWord(proto, "the network"))
		}
		switch accepted {
		case "yes":
			what += ", and the login was accepted."
		case "no":
			what += "; the login was refused."
		default:
			what += "; whether it was accepted was not seen."
		}
		a.Body = what + " Anyone who knows the vendor's default can do the same. Change the password on the device; until then iotgw may quarantine it."
		a.DedupKey = key(a.Kind, d, ev0("protocol"), serverKey(ev))
		a.Urgent = true
		setFacts(a.Facts, ev, "protocol", "mechanism", "accepted", "default_vendor")
	case event.KindOutdatedFirmware:
		a.Kind = KindOutdatedFirmware
		product, version := ev0("product"), ev0("version")
		a.Title = "Outdated software on " + name
		// The product and version are the device's words, read off
		// its banners.
		sw := strings.TrimSpace(orWord(devname.Isolate(product), "Its software") + " " + devname.Isolate(version))
		var b strings.Builder
		switch {
		case ev0("end_of_life") == "yes" && event.DistributionBuild(ev):
			// Its distribution may still maintain it.
			fmt.Fprintf(&b, "%s on %s is no longer maintained upstream.", sw, name)
		case ev0("end_of_life") == "yes":
			fmt.Fprintf(&b, "%s on %s no longer receives security updates.", sw, name)
		default:
			fmt.Fprintf(&b, "%s on %s has known security holes", sw, name)
			if cve := ev0("cve"); cve != "" {
				fmt.Fprintf(&b, " (%s)", cve)
			}
			b.WriteString(".")
		}
		if ev0("exploited") == "yes" {
			b.WriteString(" Attackers are exploiting them.")
		}
		switch fixed := ev0("fixed"); {
		case event.DistributionBuild(ev):
			// The version is no proof: the distribution backports
			// fixes without changing it.
			dist := devname.Isolate(clip(event.DistributionName(ev), maxField))
			fmt.Fprintf(&b, " It is %s's build, which may carry the fix without the version changing: check %s's security tracker for %s, and update the device's packages if the fix is not in.",
				dist, dist, orWord(devname.Isolate(product), "the package"))
		case fixed == "", fixed == "none":
			b.WriteString(" No fixed version is known: consider replacing the device or keeping it off the internet.")
		default:
			fmt.Fprintf(&b, " Update to %s or later.", fixed)
		}
		a.Body = b.String()
		a.DedupKey = key(a.Kind, d, product, ev0("advisory"))
		setFacts(a.Facts, ev, "product", "version", "advisory", "cve", "fixed", "exploited", "end_of_life", "url",
			event.EvidenceDistributionBuild, event.EvidenceDistribution)
	case event.KindPersonalData:
		a.Kind = KindPersonalData
		dataKind := ev0("data_kind")
		dest := ev0("destination")
		a.Title = "Personal data sent in clear by " + name
		to := "over the network"
		if dest != "" {
			to = "to " + devname.Isolate(dest)
		}
		a.Body = fmt.Sprintf("%s sent %s unencrypted %s. Anyone on the path can read it. Check the device's settings and the vendor's app for an encrypted option.",
			name, dataKindText(dataKind), to)
		// One alert per device and kind of data: each new destination (a
		// cloud's many relays) or part of a request it turns up in is a
		// finding on the page, not news for the owner's phone.
		a.DedupKey = key(a.Kind, d, dataKind)
		setFacts(a.Facts, ev, "data_kind", "where", "destination", "direction")
	default:
		return Alert{}, false
	}
	if a.Severity >= event.SeverityCritical {
		a.Urgent = true
	}
	finish(&a)
	return a, true
}

// FromQuarantine builds the alert for a device put into quarantine. A
// quarantine by policy is urgent; one the owner made is informational
// (it updates Home Assistant's state and the log, and is below most
// channels' min_severity).
func FromQuarantine(q store.Quarantine, dev Device) Alert {
	if dev.MAC == "" {
		dev.MAC = q.MAC.String()
	}
	d := cleanDevice(dev, StateQuarantined)
	d.State = StateQuarantined
	name := displayName(d)
	a := Alert{Kind: KindQuarantined, Device: &d, Time: q.Since, Reason: clip(q.Reason, maxReason),
		Facts: map[string]string{"mode": clip(q.Mode, maxField), "by": string(q.By)}}
	var b strings.Builder
	var dedup []string // the update notice is not the quarantine alert again
	switch q.By {
	case store.ActorOwner:
		a.Severity = event.SeverityInfo
		a.Title = nameThen(name, " quarantined by you")
		fmt.Fprintf(&b, "%s is now %s.", name, modeText(q.Mode))
	case store.ActorUpdate:
		// Still quarantined: the owner decides whether the update is real.
		a.Severity = event.SeverityMedium
		a.Title = nameThen(name, " reports an update")
		fmt.Fprintf(&b, "%s stays %s until you release it.", name, modeText(q.Mode))
		if a.Reason != "" {
			fmt.Fprintf(&b, " %s", devname.Isolate(a.Reason))
		}
		dedup = []string{"update"}
	default:
		a.Severity = event.SeverityHigh
		a.Urgent = true
		a.Title = nameThen(name, " quarantined")
		fmt.Fprintf(&b, "iotgw quarantined %s: it is now %s.", name, modeText(q.Mode))
		if a.Reason != "" {
			fmt.Fprintf(&b, " Reason: %s.", devname.Isolate(strings.TrimSuffix(a.Reason, ".")))
		}
	}
	if !q.Until.IsZero() {
		until := q.Until.Format("Mon 2 Jan 15:04")
		fmt.Fprintf(&b, " It is released automatically on %s.", until)
		a.Facts["until"] = q.Until.UTC().Format(time.RFC3339)
	}
	b.WriteString(" To release it, open its page and press Release.")
	a.Body = b.String()
	a.DedupKey = key("quarantine", d, dedup...)
	finish(&a)
	return a
}

// FromRelease builds the alert for a device leaving quarantine; why is
// owner-readable ("released by you", "the quarantine period ended").
func FromRelease(mac hwaddr.MAC, dev Device, at time.Time, why string) Alert {
	if dev.MAC == "" {
		dev.MAC = mac.String()
	}
	d := cleanDevice(dev, StateOK)
	d.State = StateOK
	name := displayName(d)
	a := Alert{Kind: KindReleased, Severity: event.SeverityInfo, Device: &d, Time: at,
		Title: nameThen(name, " released from quarantine"), Reason: clip(why, maxReason)}
	a.Body = name + " can use the network again."
	if a.Reason != "" {
		a.Body = fmt.Sprintf("%s can use the network again (%s).", name, a.Reason)
	}
	a.DedupKey = key("quarantine", d)
	finish(&a)
	return a
}

// FromNewDevice builds the alert for a device seen on the LAN for the
// first time.
func FromNewDevice(dev Device, at time.Time) Alert {
	d := cleanDevice(dev, StateOK)
	name := displayName(d)
	a := Alert{Kind: KindNewDevice, Severity: event.SeverityLow, Device: &d, Time: at,
		Title: "New device: " + name}
	a.Body = fmt.Sprintf("A device joined the home network: %s (MAC %s). If you do not recognise it, open its page.", name, orWord(d.MAC, "unknown"))
	a.DedupKey = key(a.Kind, d)
	finish(&a)
	return a
}

// Daemon problem areas with their own wording; others are named as given.
const (
	AreaCapture  = "capture"
	AreaNFTables = "nftables"
	// AreaConntrack: a quarantine or a release is in the firewall, but
	// deleting the device's connections from before it (conntrack)
	// failed, so those go on as they were.
	AreaConntrack = "conntrack"
	// AreaState: the state file cannot be written. AreaStateLost: the
	// file found at start was damaged, so what it held is gone.
	// AreaStateNewer: the file found at start was a newer version's
	// (a downgrade): kept aside, and read in part.
	AreaState      = "state"
	AreaStateLost  = "state-lost"
	AreaStateNewer = "state-newer"
	// AreaAnalyzer + a protocol ("analyzer-telnet"): an analyzer failed
	// on a connection, which is no longer inspected; the rest goes on.
	AreaAnalyzer = "analyzer-"
	// AreaNotice, AreaWeb, AreaDNSProxy: a listener cannot open (an
	// address not up yet, a port in use); the daemon keeps trying.
	AreaNotice   = "notice"
	AreaWeb      = "web"
	AreaDNSProxy = "dnsproxy"
	// AreaOffload: the firewall's flow offloading hides connections from
	// the capture.
	AreaOffload = "offload"
	// AreaCaptureLoss: the packet source keeps losing packets.
	AreaCaptureLoss = "capture-loss"
	// AreaInspectionFull: new connections keep going uninspected, every
	// inspection being busy or their device holding its share.
	AreaInspectionFull = "inspection-full"
	// AreaCaptureInterfaces: a capture interface does not exist (a guest
	// bridge that is down); the others are read.
	AreaCaptureInterfaces = "capture-interfaces"
	// AreaFW4Include: OpenWrt's firewall (fw4) is loaded without the
	// package's rules for iotgw's redirects.
	AreaFW4Include = "fw4-include"
	// AreaRestart: a reload changed settings that take effect only at a
	// restart; the detail names them.
	AreaRestart = "restart"
)

// problemWords is what the owner reads of a problem in area: the title
// and body while it lasts, the title once it is over; ok is false for an
// area without words of its own.
func problemWords(area string) (title, body, resolved string, ok bool) {
	switch area {
	case AreaCapture:
		return "iotgw stopped watching the network",
			"Packet capture stopped, so new problems go unnoticed. iotgw keeps retrying.",
			"iotgw is watching the network again", true
	case AreaNFTables:
		return "iotgw cannot enforce quarantines",
			"Changing the firewall (nftables) failed, so a quarantine may not be in force. iotgw keeps retrying.",
			"iotgw can enforce quarantines again", true
	case AreaConntrack:
		return "iotgw could not cut a device's open connections",
			"The firewall holds the quarantines as it should, but deleting a device's connections from before the change (conntrack) failed: a quarantined device may keep the connections it had open until they end (new ones are blocked), and a released one may reach only the notice page for a while. Unplugging the device for a moment ends them.",
			"iotgw cuts devices' connections again", true
	case AreaState:
		return "iotgw cannot save its state",
			"Writing the state file failed, so quarantines and your decisions since then would be lost at a restart. iotgw keeps retrying.",
			"iotgw saves its state again", true
	case AreaStateLost:
		// Never cleared while the daemon runs: it tells of what was lost.
		return "iotgw lost its saved state",
			"The state file was damaged at start: quarantines and your decisions saved before are gone. Check the devices and decide again.",
			"", true
	case AreaStateNewer:
		// Never cleared while the daemon runs, as AreaStateLost.
		return "iotgw read a newer version's saved state",
			"The state file was written by a newer iotgw, before a downgrade. This version kept the quarantines, your decisions and the devices; the devices' findings show again as they are seen. The newer file is kept beside the new one, unchanged.",
			"", true
	case AreaNotice:
		return "iotgw cannot show the quarantine notice",
			"The notice page that tells a quarantined device's user why it is offline is not served. Quarantines still hold. iotgw keeps retrying.",
			"iotgw shows the quarantine notice again", true
	case AreaWeb:
		return "iotgw's web page is down",
			"The settings page is not served. Detection and quarantines go on. iotgw keeps retrying.",
			"iotgw's web page is back", true
	case AreaCaptureLoss:
		return "iotgw is missing packets",
			"The router hands iotgw packets faster than it reads them, and the rest are lost uninspected: logins in them go unnoticed. Quarantines still hold. A bigger ring (capture.ring_blocks) or capture.mode = \"nflog\" helps.",
			"iotgw reads every packet again", true
	case AreaInspectionFull:
		return "iotgw cannot inspect every connection",
			"More connections are open than iotgw inspects at once (inspect.max_inspected), or one device opens so many that it holds its share of them, so new connections go uninspected: logins in them may go unnoticed. Connections idle for a minute give way. Quarantines still hold.",
			"iotgw inspects every new connection again", true
	case AreaCaptureInterfaces:
		return "iotgw is not watching part of the network",
			"A capture interface (capture.interfaces) does not exist, such as a guest network's bridge while its Wi-Fi is off, so its traffic goes uninspected. iotgw starts on it when it appears (the status page names it), and watches any others meanwhile. Quarantines still hold.",
			"iotgw watches every capture interface again", true
	case AreaOffload:
		return "iotgw cannot see offloaded traffic",
			"The firewall's flow offloading (Network → Firewall → Routing/NAT Offloading) passes connections around iotgw's inspection, so default passwords and personal data sent in them go unnoticed. Quarantines still hold. Turn offloading off for iotgw to inspect.",
			"iotgw sees all traffic again", true
	case AreaFW4Include:
		return "The firewall may block quarantined devices' DNS",
			"OpenWrt's firewall (fw4) is loaded without the rules the iotgw package has it include for iotgw's redirects, so in a network whose firewall zone rejects input (a guest network) quarantined devices get no DNS answers and no notice page. Quarantines still hold. service iotgw restart writes the rules for the configured ports and reloads the firewall.",
			"The firewall lets quarantined devices reach iotgw's DNS proxy and notice page again", true
	case AreaRestart:
		return "iotgw needs a restart for new settings",
			"The configuration was reloaded, but some of its changes take effect only when iotgw restarts (service iotgw restart); until then the settings at start stay in force.",
			"iotgw runs with the settings in the configuration file", true
	case AreaDNSProxy:
		return "iotgw's DNS proxy is down",
			"Quarantined devices cannot look up names, not even their update servers. Quarantines still hold. iotgw keeps retrying.",
			"iotgw's DNS proxy is back", true
	}
	return "", "", "", false
}

// FromProblem builds the alert for a daemon problem in area ("capture",
// "nftables" …): urgent and high, except an analyzer's failure on one
// connection (AreaAnalyzer), which is medium and keeps quiet hours.
// detail is the error for the owner, which must not carry a secret. A
// problem alerts once until FromProblemResolved for the same area,
// however its detail changes.
func FromProblem(area, detail string, at time.Time) Alert {
	area = clip(area, maxField)
	a := Alert{Kind: KindDaemonProblem, Severity: event.SeverityHigh, Urgent: true, Time: at,
		Facts: map[string]string{"area": area, "status": "failing"}}
	if title, body, _, ok := problemWords(area); ok {
		a.Title, a.Body = title, body
		switch area {
		case AreaCaptureInterfaces:
			// Part of the network, often by the owner's choice (a guest
			// Wi-Fi on a schedule): told, not an emergency.
			a.Severity, a.Urgent = event.SeverityMedium, false
		case AreaInspectionFull:
			// A busy evening can fill the inspections for a while.
			a.Severity, a.Urgent = event.SeverityMedium, false
		case AreaFW4Include:
			// Quarantines hold; what is lost is quarantined devices'
			// DNS and notice page, and only in a rejecting zone.
			a.Severity, a.Urgent = event.SeverityMedium, false
		case AreaRestart:
			// Nothing failed: the owner's change waits.
			a.Severity, a.Urgent = event.SeverityMedium, false
		case AreaStateNewer:
			// The owner downgraded, and what must hold was kept.
			a.Severity, a.Urgent = event.SeverityMedium, false
		}
	} else if protocol, ok := strings.CutPrefix(area, AreaAnalyzer); ok {
		// One connection unread is not an emergency.
		a.Severity, a.Urgent = event.SeverityMedium, false
		a.Title = "iotgw skipped a connection it could not read"
		a.Body = "The " + protocol + " analyzer failed on a connection; iotgw goes on with everything else."
	} else {
		a.Title = "iotgw problem: " + area
		a.Body = "iotgw has a problem in " + area + "."
	}
	if detail = devname.Isolate(clip(detail, maxReason)); detail != "" {
		if area == AreaRestart {
			a.Body += " Changed: " + detail
		} else {
			a.Body += " Error: " + detail
		}
	}
	a.DedupKey = key(a.Kind, Device{}, area)
	finish(&a)
	return a
}

// FromProblemResolved builds the alert that a daemon problem in area is
// over.
func FromProblemResolved(area string, at time.Time) Alert {
	area = clip(area, maxField)
	a := Alert{Kind: KindDaemonProblem, Severity: event.SeverityLow, Time: at,
		Facts: map[string]string{"area": area, "status": "resolved"}}
	if _, _, resolved, _ := problemWords(area); resolved != "" {
		a.Title = resolved
	} else {
		a.Title = "iotgw problem resolved: " + area
	}
	a.Body = "The problem is resolved."
	a.DedupKey = key(a.Kind, Device{}, area)
	finish(&a)
	return a
}

// FromTest builds the alert the page's "send test alert" button sends.
func FromTest(at time.Time) Alert {
	a := Alert{Kind: KindTest, Severity: event.SeverityInfo, Time: at,
		Title: "iotgw test alert",
		Body:  "If you can read this, iotgw's alerts reach you on this channel."}
	finish(&a)
	return a
}

// contentHash is what must change for an alert with the same DedupKey to
// be sent again: kind, severity, reason and facts but the volatile ones
// (volatileFact) — not the body, so a
// daemon problem whose error text varies alerts once, and not the title,
// which names the device as it is known at the time: a name learnt or
// given later (or the bare MAC of the findings marked seen at start) is
// not a new finding.
func (a *Alert) contentHash() uint64 {
	h := fnv.New64a()
	put := func(s string) {
		_, _ = io.WriteString(h, s)
		_, _ = h.Write([]byte{0})
	}
	put(string(a.Kind))
	put(a.Severity.String())
	put(a.Reason)
	var ks [16]string
	keys := ks[:0]
	for k := range a.Facts {
		if !volatileFact(a.Kind, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		put(k)
		put(a.Facts[k])
	}
	return h.Sum64()
}

// writeAtOnce reports whether a must reach flash as soon as it is queued,
// so that a power cut while the internet is down does not lose it: an
// urgent alert, but for a daemon problem, which the daemon finds again
// when it starts (and one that comes and goes would otherwise rewrite
// the state file at every turn). That the saved state was lost, or a
// newer version's found, is not found again once the file is rewritten.
func (a *Alert) writeAtOnce() bool {
	if a.Kind == KindDaemonProblem {
		area := a.Facts["area"]
		return area == AreaStateLost || area == AreaStateNewer
	}
	return a.Urgent
}

// isFinding reports whether a is about a finding (FromEvent) rather than
// a state (a quarantine, a release, a daemon problem).
func (a *Alert) isFinding() bool {
	switch a.Kind {
	case KindDefaultCredentials, KindOutdatedFirmware, KindPersonalData:
		return true
	}
	return false
}

// volatileFact reports whether fact of an alert of kind k changes from
// one event of a finding to the next while the finding stays the same.
func volatileFact(k Kind, fact string) bool {
	return k == KindPersonalData && (fact == "where" || fact == "destination")
}

// finish cleans an alert's text fields: no control characters, the
// isolates around what a device chose kept, bounded length.
func finish(a *Alert) {
	a.Title = clipText(a.Title, maxTitle)
	a.Body = clipText(a.Body, maxBody)
	if len(a.Facts) == 0 {
		a.Facts = nil
	}
}

// setFacts copies whitelisted evidence keys.
func setFacts(facts map[string]string, ev *event.Event, keys ...string) {
	for _, k := range keys {
		if v := clip(ev.Evidence[k], maxField); v != "" {
			facts[k] = v
		}
	}
}

func cleanDevice(d Device, state string) Device {
	d = Device{MAC: clip(d.MAC, 32), IP: clip(d.IP, 64), Name: clip(d.Name, maxField),
		Vendor: clip(d.Vendor, maxField), Type: clip(d.Type, maxField), Model: clip(d.Model, maxField),
		Hostname: clip(d.Hostname, maxField), State: d.State}
	if d.State != StateQuarantined {
		d.State = state
	}
	return d
}

// nameThen is a title that starts with the device's name: the name is
// cut rather than the words after it, so that a device that names itself
// at length cannot leave a title of its own words only (its quarantine
// titled "… released from quarantine").
func nameThen(name, words string) string {
	return clipText(name, maxTitle-len(words)) + words
}

// displayName is how the owner knows a device, named by the rule the
// page and the console follow (devname); a device known by its address
// only, which the page does not list, by that. A name in a
// right-to-left script comes isolated (devname.Isolate), fit to stand
// in an alert's words.
func displayName(d Device) string {
	if name := (devname.Parts{Name: d.Name, Vendor: d.Vendor, Type: d.Type, Hostname: d.Hostname, MAC: d.MAC}).String(); name != "" {
		return devname.Isolate(name)
	}
	if d.IP != "" {
		return "device " + d.IP
	}
	return "a device"
}

func key(kind Kind, d Device, parts ...string) string {
	id := d.MAC
	if id == "" {
		id = d.IP
	}
	return strings.Join(append([]string{string(kind), id}, parts...), "|")
}

// isServer reports whether the event's device is the server of its flow
// (someone logged in to it) rather than the client.
func isServer(ev *event.Event) bool {
	if ev.Flow == nil {
		return false
	}
	s := ev.Flow.Server
	return (s.MAC != "" && s.MAC == ev.Device.MAC) || (s.IP != "" && s.IP == ev.Device.IP)
}

func serverIP(ev *event.Event) string {
	if ev.Flow == nil || isServer(ev) {
		return ""
	}
	return clip(ev.Flow.Server.IP, 64)
}

// serverKey names the server of a login in its alert's dedup key: none
// when the device is the server, a LAN server by its address, and one
// outside by its port: a cloud answers from many addresses.
func serverKey(ev *event.Event) string {
	if ev.Flow == nil || isServer(ev) {
		return ""
	}
	if !ev.Flow.Server.Local {
		return ":" + strconv.Itoa(int(ev.Flow.Server.Port))
	}
	return clip(ev.Flow.Server.IP, 64)
}

func atHost(ev *event.Event) string {
	ip := serverIP(ev)
	if net.ParseIP(ip) == nil {
		return ""
	}
	return " at " + ip
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func modeText(mode string) string {
	switch mode {
	case "block":
		return "cut off from the network"
	case "isolate":
		return "cut off from the internet"
	case "updates-only":
		return "limited to its vendor's update servers"
	}
	return "quarantined (" + clip(mode, maxField) + ")"
}

func dataKindText(k string) string {
	switch k {
	case "email":
		return "an e-mail address"
	case "phone":
		return "a phone number"
	case "location", "nmea":
		return "a location"
	case "card":
		return "a payment card number"
	case "imei":
		return "a phone's IMEI"
	case "mac":
		return "a hardware address"
	case "serial":
		return "a serial number"
	case "wifi_credentials":
		return "Wi-Fi credentials"
	case "name":
		return "a person's name"
	case "address":
		return "a postal address"
	case "device_password":
		return "a device's password"
	}
	return "personal data"
}
