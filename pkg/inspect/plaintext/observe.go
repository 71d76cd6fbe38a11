package plaintext

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// FlowStarted implements inspect.FlowObserver: connection attempts to
// the ports internet scanners probe.
func (p *Protocol) FlowStarted(f *inspect.Flow) {
	p.scan.observe(f)
}

// FlowIdentified implements inspect.FlowIdentifiedObserver: a protocol
// that cannot turn to TLS on its connection is counted as soon as it is
// known, so that a connection open for days (MQTT to a cloud on 1883)
// is reported at once, and one still open at a restart at all. A UDP
// flow that began with its server's answer to a group request (a
// printer's to a broadcast SNMP query) is told only once the client
// sends on it: the answer alone is no use of the protocol by the client.
func (p *Protocol) FlowIdentified(f *inspect.Flow) {
	if !mayStartTLS(f.App()) && (!judgedByAnalyzer(f.App()) || joinedLate(f)) {
		p.use.observe(f)
	}
}

// CleartextUsed implements inspect.CleartextObserver: the analyzer of a
// protocol judgedByAnalyzer found content worth encrypting sent in clear.
// A connection joined late was counted when identified: a flow counts
// once.
func (p *Protocol) CleartextUsed(f *inspect.Flow) {
	if !joinedLate(f) {
		p.use.observe(f)
	}
}

// joinedLate: the capture joined the connection after its opening (a
// restart), so it may never show the request an analyzer judges by, and
// is counted as it is, when identified.
func joinedLate(f *inspect.Flow) bool { return f.IsTCP() && !f.Opened() }

// judgedByAnalyzer: the protocol's analyzer reports whether a flow's
// content matters (Flow.ReportCleartext), since much of it is in clear
// by design: HTTP's OCSP and CRL fetches are signed, captive-portal
// checks must be plain HTTP to be redirected, and CONNECT opens a tunnel
// that is usually TLS.
func judgedByAnalyzer(app string) bool { return app == "http" }

// FlowClosed implements inspect.FlowObserver: a protocol that can turn
// to TLS (STARTTLS, AUTH TLS) is counted at the flow's end, once it is
// known whether it did.
func (p *Protocol) FlowClosed(f *inspect.Flow) {
	if mayStartTLS(f.App()) {
		p.use.observe(f)
	}
}

// mayStartTLS: the protocol can upgrade its connection to TLS.
func mayStartTLS(app string) bool {
	switch app {
	case "smtp", "imap", "pop3", "ftp":
		return true
	}
	return false
}

// deviceKey names a LAN device: by MAC when the capture shows it (it
// survives address changes), otherwise by IP address.
type deviceKey struct {
	mac hwaddr.MAC
	ip  netip.Addr
}

func clientDevice(f *inspect.Flow) deviceKey {
	if !f.ClientMAC.IsZero() {
		return deviceKey{mac: f.ClientMAC}
	}
	return deviceKey{ip: f.Client().Addr().Unmap()}
}

// cleartextApps are the application protocols that carry their content
// unencrypted, as named by their analyzers; severity is medium for the
// remote-login and file-transfer protocols that carry passwords in clear
// by design.
func cleartextApp(app string) (ok bool, severity event.Severity) {
	switch app {
	case "telnet", "ftp":
		return true, event.SeverityMedium
	case "http", "mqtt", "pop3", "imap", "smtp", "rtsp", "sip", "snmp":
		return true, event.SeverityLow
	}
	return false, 0
}

// maxUse bounds the (device, service, protocol) aggregates; the
// oldest is forgotten first, so a flood costs repeats, never memory.
const maxUse = 4096

// reportAgain is how long an aggregate goes without being reported
// again while its flows go on, so that the finding's last sighting is
// never older than a day.
const reportAgain = 24 * time.Hour

// useKey is an aggregate: a device's use of a protocol with one internet
// service, known by the name the device looked it up by, so that a
// service whose DNS rotates through a CDN's addresses is one; by the
// address when the name is not known, and always on the LAN, where each
// address is a device with a scorecard of its own.
type useKey struct {
	device deviceKey
	dst    netip.Addr // zero when name is set
	name   string
	app    string
}

type useEntry struct {
	key      useKey
	flows    uint64 // seen
	reported uint64 // counted in findings filed so far
	at       int64  // capture time of the last finding filed, Unix ns
}

// useTable aggregates cleartext protocol use towards the internet: one
// finding at the first flow, then one each time the count doubles or a
// day has passed, carrying the flows since the last one as its count, so
// that the inventory's count of the finding is the flows seen while the
// events stay a handful per service (useKey). Use between two LAN devices is
// aggregated the same way into observations (evidence scope=lan): not
// sent over the internet, so no 5.5-1 finding, but what keeps either
// device's scorecard from passing secure communication on its internet
// connections alone.
type useTable struct {
	index   map[useKey]int32
	entries []useEntry // insertion ring, at most maxUse
	next    int        // oldest entry once the ring is full
}

func (t *useTable) observe(f *inspect.Flow) {
	if !f.ClientLocal {
		return // from the internet: the router's firewall's business
	}
	if f.ToGroup() {
		// Discovery (SNMP to the broadcast address, as printer discovery
		// does) asks the link, no one device: like SSDP and mDNS, it is
		// no cleartext conversation to hold against the sender.
		return
	}
	if f.UpgradedToTLS() {
		return // STARTTLS: the session went on encrypted
	}
	ok, severity := cleartextApp(f.App())
	if !ok {
		return
	}
	now := f.Engine().Now().UnixNano()
	addr := f.Server().Addr().Unmap()
	k := useKey{device: clientDevice(f), dst: addr, app: f.App()}
	if !f.ServerLocal {
		if k.name = f.ServerName(); k.name != "" {
			k.dst = netip.Addr{}
		}
	}
	i, seen := t.index[k]
	if !seen {
		i = t.insert(k)
	}
	u := &t.entries[i]
	u.flows++
	if seen && u.flows < 2*u.reported && time.Duration(now-u.at) < reportAgain {
		return
	}
	count := u.flows - u.reported
	u.reported, u.at = u.flows, now
	dst := netip.AddrPortFrom(addr, f.Server().Port()).String()
	if f.ServerLocal {
		f.Emit(inspect.SubjectClient, &event.Event{
			Type:       event.TypeObservation,
			Kind:       event.KindPlaintextProtocol,
			Severity:   event.SeverityInfo,
			Capability: event.CapSecureCommunication,
			Summary:    fmt.Sprintf("Unencrypted %s to %s on the LAN", strings.ToUpper(f.App()), dst),
			Count:      int(min(count, math.MaxInt32)),
			Evidence: event.Evidence{
				"protocol":    f.App(),
				"destination": addr.String(),
				"port":        strconv.Itoa(int(f.Server().Port())),
				"scope":       "lan",
			},
		})
		return
	}
	ev := event.Evidence{
		"protocol":    f.App(),
		"destination": addr.String(), // the address of the flow that filed it
		"port":        strconv.Itoa(int(f.Server().Port())),
	}
	if k.name != "" {
		ev["server_name"] = k.name
		dst = k.name + " (" + dst + ")"
	}
	f.Emit(inspect.SubjectClient, &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindPlaintextProtocol,
		Severity:   severity,
		Capability: event.CapSecureCommunication,
		Provision:  "5.5-1",
		Summary:    fmt.Sprintf("Unencrypted %s to %s on the internet", strings.ToUpper(f.App()), dst),
		Count:      int(min(count, math.MaxInt32)),
		Evidence:   ev,
	})
}

// insert adds k with no flows yet and returns its index.
func (t *useTable) insert(k useKey) int32 {
	if t.index == nil {
		t.index = make(map[useKey]int32)
	}
	if len(t.entries) < maxUse {
		t.index[k] = int32(len(t.entries))
		t.entries = append(t.entries, useEntry{key: k})
		return int32(len(t.entries) - 1)
	}
	i := t.next
	delete(t.index, t.entries[i].key)
	t.entries[i] = useEntry{key: k}
	t.index[k] = int32(i)
	t.next = (t.next + 1) % maxUse
	return int32(i)
}

// Scanning: a device that opens connections to many different addresses
// on telnet and the other ports Mirai-style malware probes (SSH, ADB,
// TR-069, the Huawei and Realtek UPnP exploits) is most likely
// compromised. scanPorts lists them; scanDevice.ports has a bit for each.
func scanPorts() [7]uint16 { return [7]uint16{23, 2323, 22, 5555, 7547, 37215, 52869} }

func scanPortBit(port uint16) uint8 {
	for i, p := range scanPorts() {
		if p == port {
			return 1 << i
		}
	}
	return 0
}

const (
	scanThreshold = 20               // distinct destinations ...
	scanWindow    = 60 * time.Second // ... within this much capture time
	maxScanners   = 256              // devices tracked at once
)

type scanTarget struct {
	addr [16]byte
	at   int64 // capture time of the latest attempt, Unix ns
}

// scanDevice is one device's recent distinct targets: a fixed ring the
// size of the threshold, so it fires when all of them fall in the window.
type scanDevice struct {
	key      deviceKey
	targets  [scanThreshold]scanTarget
	n        int
	ports    uint8
	reported bool
	last     int64
}

type scanTable struct {
	index   map[deviceKey]int32
	devices []scanDevice // at most maxScanners
}

func (t *scanTable) observe(f *inspect.Flow) {
	// A SYN from a LAN client to the internet: the first packet, sent to
	// the server, without payload. Targets on the LAN do not count: Mirai
	// leaves private ranges out, and the owner's own scan of the home
	// network (nmap from a laptop) is no compromise.
	if !f.IsTCP() || !f.ClientLocal || f.ServerLocal || f.Packets[inspect.ToServer] != 1 || f.Packets[inspect.ToClient] != 0 || f.Bytes[inspect.ToServer] != 0 {
		return
	}
	bit := scanPortBit(f.Server().Port())
	if bit == 0 {
		return
	}
	now := f.First().UnixNano()
	d := t.device(clientDevice(f), now)
	d.last = now
	d.ports |= bit
	d.add(f.Server().Addr().Unmap().As16(), now)
	if d.reported {
		return
	}
	distinct := d.recent(now)
	if distinct < scanThreshold {
		return
	}
	d.reported = true
	f.Emit(inspect.SubjectClient, &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindScanning,
		Severity:   event.SeverityHigh,
		Capability: event.CapSoftwareUpdates,
		Provision:  "5.7-2",
		Summary: fmt.Sprintf("Device connected to %d different addresses on port(s) %s within %s, as malware scanning for victims does",
			distinct, portList(d.ports), scanWindow),
		Evidence: event.Evidence{
			"ports":            portList(d.ports),
			"distinct_targets": strconv.Itoa(distinct),
			"window":           scanWindow.String(),
		},
	})
}

// device returns the state of k, taking the slot of the device idle
// longest when the table is full.
func (t *scanTable) device(k deviceKey, now int64) *scanDevice {
	if i, ok := t.index[k]; ok {
		return &t.devices[i]
	}
	if t.index == nil {
		t.index = make(map[deviceKey]int32)
	}
	if len(t.devices) < maxScanners {
		t.devices = append(t.devices, scanDevice{key: k})
		t.index[k] = int32(len(t.devices) - 1)
		return &t.devices[len(t.devices)-1]
	}
	idle := 0
	for i := range t.devices {
		if t.devices[i].last < t.devices[idle].last {
			idle = i
		}
	}
	delete(t.index, t.devices[idle].key)
	t.devices[idle] = scanDevice{key: k, last: now}
	t.index[k] = int32(idle)
	return &t.devices[idle]
}

// add records an attempt on addr: a known target is refreshed, a new one
// replaces the oldest.
func (d *scanDevice) add(addr [16]byte, now int64) {
	oldest := 0
	for i := range d.targets[:d.n] {
		if d.targets[i].addr == addr {
			d.targets[i].at = now
			return
		}
		if d.targets[i].at < d.targets[oldest].at {
			oldest = i
		}
	}
	if d.n < len(d.targets) {
		d.targets[d.n] = scanTarget{addr: addr, at: now}
		d.n++
		return
	}
	d.targets[oldest] = scanTarget{addr: addr, at: now}
}

// recent counts the targets attempted within the window before now.
func (d *scanDevice) recent(now int64) int {
	n := 0
	for _, t := range d.targets[:d.n] {
		if now-t.at < int64(scanWindow) {
			n++
		}
	}
	return n
}

func portList(bits uint8) string {
	var b strings.Builder
	for i, p := range scanPorts() {
		if bits&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}
