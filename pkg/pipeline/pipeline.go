// Package pipeline wires a packet source to the decoder, the inspection
// engine and the device inventory. The same code serves `iotgw analyze` on
// capture files and `iotgw run` on live traffic.
package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iotgw/iotgw/internal/statefile"
	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	inspecthttp "github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
	"github.com/iotgw/iotgw/pkg/store"
)

// Pipeline is one decoder, engine and inventory. Not safe for concurrent
// use: one goroutine feeds it.
type Pipeline struct {
	dec *inspect.Decoder
	eng *inspect.Engine
	inv *device.Inventory
	adv *advisory.Holder
	pkt inspect.Packet
	out []inspect.Sink
}

// Options adds event consumers besides the inventory.
type Options struct {
	Sinks []inspect.Sink
	// Advisories holds the feed of vulnerable versions; nil: the built-in
	// feed.
	Advisories *advisory.Holder
	// OnPanic makes the engine survive a panicking analyzer; see
	// inspect.Options.OnPanic. It runs on the goroutine that handles
	// frames.
	OnPanic func(inspect.Panic)
	// Router: see inspect.Options.Router.
	Router func(mac hwaddr.MAC, addr netip.Addr) bool
	// RouterMAC, when set, says whether mac is one of the router's own. A
	// frame from it whose source is not the router (Router false) was
	// routed: the inventory files it under its address (see
	// device.Inventory.SetRouted). Called on the goroutine that handles
	// frames.
	RouterMAC func(mac hwaddr.MAC) bool
}

// New builds a pipeline from the configuration.
func New(cfg *config.Config, opt Options) (*Pipeline, error) {
	key, err := HashKey(cfg.Inspect.SecretFile)
	if err != nil {
		return nil, err
	}
	ec := inspect.Config{
		MaxFlows:     cfg.Inspect.MaxFlows,
		MaxInspected: cfg.Inspect.MaxInspected,
		ByteBudget:   cfg.Inspect.ByteBudget,
		StreamBuffer: cfg.Inspect.StreamBuffer,
		MaxBuffers:   cfg.Inspect.MaxBuffers,
		TCPIdle:      cfg.Inspect.TCPIdle.Duration,
		UDPIdle:      cfg.Inspect.UDPIdle.Duration,
		LAN:          cfg.LAN.Prefixes,
		HashKey:      key,
	}
	cl, err := creds.New()
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	adv := opt.Advisories
	if adv == nil {
		if adv, err = advisory.NewHolder(advisory.Options{}); err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
	}
	p := &Pipeline{dec: inspect.NewDecoder(), out: opt.Sinks, adv: adv}
	isLocal := func(a netip.Addr) bool { return p.eng.IsLocal(a) }
	p.inv = device.NewInventory(cfg.Inspect.MaxDevices, isLocal)
	if opt.RouterMAC != nil {
		p.inv.SetRouted(func(mac hwaddr.MAC, addr netip.Addr) bool {
			return opt.RouterMAC(mac) && (opt.Router == nil || !opt.Router(mac, addr))
		})
	}
	p.eng, err = inspect.NewEngine(ec, inspect.Options{
		Protocols:  protocols.All(),
		Classifier: cl,
		Sink:       fanout{p},
		Packets:    p.inv,
		OnPanic:    opt.OnPanic,
		Router:     opt.Router,
		RouterMAC:  opt.RouterMAC,
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return p, nil
}

// KeyToMake says whether EnsureKey would make the key file path: it is
// missing or empty. `iotgw check-config` passes such a file, since `iotgw
// run` makes it.
func KeyToMake(path string) bool {
	fi, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode().IsRegular() && fi.Size() == 0)
}

// EnsureKey makes the key file path (secret_file) when it is missing or
// empty: 32 bytes from crypto/rand as 64 hex digits, mode 0600, its
// directory made 0700 if missing. The daemon makes it, not a shell
// script at boot: crypto/rand reads getrandom(2), which waits until the
// kernel's generator is seeded, where /dev/urandom early in an image's
// first boot (before any seed file exists) would not. A file with
// content is the owner's and stays, even one HashKey refuses. made says
// whether it was made.
func EnsureKey(path string) (made bool, err error) {
	if !KeyToMake(path) {
		return false, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return false, fmt.Errorf("pipeline: secret file: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("pipeline: secret file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".new-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("pipeline: secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.WriteString(tmp, hex.EncodeToString(key))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("pipeline: secret file: %w", err)
	}
	// A link never replaces a key another process made meanwhile; an
	// empty file is replaced.
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		if !KeyToMake(path) {
			return false, nil
		}
		err = os.Rename(tmp.Name(), path)
		if err != nil {
			return false, fmt.Errorf("pipeline: secret file: %w", err)
		}
	} else if err != nil {
		return false, fmt.Errorf("pipeline: secret file: %w", err)
	}
	return true, nil
}

// maxKeyBytes bounds a key file: the key made is 64 bytes, an owner's
// own a line or a few.
const maxKeyBytes = 4 << 10

// HashKey reads the key for hashes of secrets from path, or makes a
// random one when path is empty. `iotgw check-config` calls it too, so
// that a file New would refuse fails the check rather than the start.
func HashKey(path string) ([]byte, error) {
	if path == "" {
		k := make([]byte, 32)
		_, err := rand.Read(k)
		return k, err
	}
	// Bounded, and a regular file only: a FIFO would hang the start, a
	// device (/dev/urandom, typed for "a random key") never ends.
	k, err := statefile.Read(path, maxKeyBytes)
	if err != nil {
		return nil, fmt.Errorf("pipeline: secret file: %w", err)
	}
	if len(strings.TrimSpace(string(k))) < 16 {
		return nil, fmt.Errorf("pipeline: secret file %s: want at least 16 bytes", path)
	}
	return k, nil
}

type fanout struct{ p *Pipeline }

func (f fanout) Emit(ev *event.Event) {
	d := f.p.inv.File(ev)
	for _, s := range f.p.out {
		s.Emit(ev)
	}
	if d != nil && d.SoftwareChanged() {
		f.p.matchAdvisories(d, ev)
	}
}

// matchAdvisories compares a device's software with the advisory feed and
// emits an outdated_firmware finding for each new match; cause is the
// observation that revealed the version. A finding filed before whose
// facts changed (a new feed describing the advisory otherwise: exploited
// since, fixed in another version, another severity; or another source
// reporting the version) is replaced by one with the new facts, first
// seen when the old one was, so that policy, the page and the alert go by
// what holds now, and a release the owner gave knowing the finding still
// holds.
func (p *Pipeline) matchAdvisories(d *device.Device, cause *event.Event) {
	d.MarkSoftwareMatched()
	sw := make([]advisory.Software, len(d.Software))
	for i, s := range d.Software {
		sw[i] = advisory.Software(s)
	}
	ep := event.Endpoint{Local: true}
	if !d.Key.MAC.IsZero() {
		ep.MAC = d.Key.MAC.String()
	}
	if n := len(d.Addrs); n > 0 {
		ep.IP = d.Addrs[n-1].String()
	}
	feed := p.adv.Current()
	for _, m := range feed.Match(sw) {
		build := func() *event.Event {
			ev := advisory.ToEvent(m, ep, cause.Time)
			ev.Source, ev.Packet = cause.Source, cause.Packet
			return ev
		}
		ev := build()
		// A repeat is filed again only when its facts changed: a new
		// feed, or another source reporting the version (which policy
		// weighs).
		old := d.Filed(ev.DedupKey())
		found := device.Software(m.Software)
		if old != nil && event.DistributionBuild(old) != event.DistributionBuild(ev) && !found.Supersedes(old.Evidence["software_source"]) {
			// Whether the version is a distribution's build is its
			// sources' word, as the version is: after a restart an
			// announcement must not turn the quarantine the device's
			// own Server header gave into an alert by marking the
			// version a distribution's, nor unmarking it bring one back.
			m.Software.Distribution = ""
			if event.DistributionBuild(old) {
				m.Software.Distribution = old.Evidence[event.EvidenceDistribution]
			}
			ev = build()
		}
		if old != nil {
			// The sources of a version only grow: after a restart the
			// software is learnt again, one source at a time, and the
			// first announcement must not take back a confirmation.
			if srcs := unionSources(old.Evidence["software_source"], ev.Evidence["software_source"]); srcs != "" {
				ev.Evidence["software_source"] = srcs
			}
			if sameAdvisoryFacts(old, ev) {
				continue
			}
			ev.Time, ev.LastTime, ev.Count = old.Time, old.LastTime, old.Count
			p.inv.Withdraw(d, old)
		}
		fanout{p}.Emit(ev)
	}
	p.withdrawSuperseded(d, feed, sw, ep, cause)
}

// unionSources joins two comma lists of software sources, a's first,
// without repeats.
func unionSources(a, b string) string {
	var out []string
	for _, list := range []string{a, b} {
		for src := range strings.SplitSeq(list, ",") {
			if src != "" && !slices.Contains(out, src) {
				out = append(out, src)
			}
		}
	}
	return strings.Join(out, ",")
}

// withdrawSuperseded takes back the outdated_firmware findings about a
// version the device no longer reports, where it reports another version
// of the same product: it was updated, and its quarantine for the old
// version should end. Silence is no update: a product the device does not
// report now (after a restart, before its banner is seen again) keeps its
// findings. Nor is a claim (see device.Software.Supersedes): after a
// restart a NOTIFY anyone can send in the device's name must not take
// back the version its own server named.
func (p *Pipeline) withdrawSuperseded(d *device.Device, feed *advisory.Feed, sw []advisory.Software, ep event.Endpoint, cause *event.Event) {
	running := map[string][]versionReport{} // canonical product → versions reported
	for i, s := range sw {
		if id, v, ok := feed.Canonical(s); ok {
			running[id] = append(running[id], versionReport{v.String(), device.Software(sw[i])})
		}
	}
	var gone []*event.Event
	for _, f := range d.Findings {
		if f.Kind != event.KindOutdatedFirmware {
			continue
		}
		now := running[f.Evidence["product"]]
		if len(now) == 0 || slices.ContainsFunc(now, func(r versionReport) bool { return r.version == f.Evidence["version"] }) {
			continue
		}
		if slices.ContainsFunc(now, func(r versionReport) bool { return r.sw.Supersedes(f.Evidence["software_source"]) }) {
			gone = append(gone, f)
		}
	}
	for _, f := range gone {
		product, from := f.Evidence["product"], f.Evidence["version"]
		if !p.inv.Withdraw(d, f) {
			continue
		}
		fanout{p}.Emit(&event.Event{V: event.SchemaVersion, Time: cause.Time, Type: event.TypeObservation,
			Kind: event.KindFirmwareUpdated, Severity: event.SeverityInfo, Device: ep, Source: cause.Source,
			Summary:  fmt.Sprintf("%s %s replaced by %s: %s no longer applies", product, from, strings.Join(versions(running[product]), ", "), f.Evidence["advisory"]),
			Evidence: event.Evidence{"product": product, "from": from, "to": strings.Join(versions(running[product]), ","), "advisory": f.Evidence["advisory"]}})
	}
}

// versionReport is one version of a product a device reports.
type versionReport struct {
	version string          // as the feed parsed it
	sw      device.Software // converted from sw itself, whatever d.Software holds now
}

// versions lists the versions of reports.
func versions(reports []versionReport) []string {
	out := make([]string, len(reports))
	for i, r := range reports {
		out[i] = r.version
	}
	return out
}

// sameAdvisoryFacts: a and b say the same of one advisory and version.
// Which feed said it is no fact about the device: a finding confirmed by
// a newer feed keeps the feed it came from.
func sameAdvisoryFacts(a, b *event.Event) bool {
	facts := func(e event.Evidence) int {
		if _, ok := e["feed"]; ok {
			return len(e) - 1
		}
		return len(e)
	}
	if a.Severity != b.Severity || a.Summary != b.Summary || facts(a.Evidence) != facts(b.Evidence) {
		return false
	}
	for k, v := range a.Evidence {
		if w, ok := b.Evidence[k]; k != "feed" && (!ok || w != v) {
			return false
		}
	}
	return true
}

// RematchAdvisories compares every device's software with the current
// feed again, after a newer feed was loaded, and withdraws the findings
// it no longer supports.
func (p *Pipeline) RematchAdvisories() {
	for _, d := range p.inv.Devices() {
		if len(d.Software) > 0 {
			p.matchAdvisories(d, &event.Event{Time: d.LastSeen})
		}
	}
	p.WithdrawUnsupported()
}

// WithdrawUnsupported takes back the outdated_firmware findings the
// current feed no longer supports: their advisory is gone, or no longer
// names the version they were about (a correction by the feed's
// maintainers). Each is checked on its own product and version, not on
// what the device reports now, which after a restart may be nothing yet,
// and only against a feed at least as new as the one it came from: an
// older feed in force (the newest one not kept) has not heard of it yet.
// Unlike a device's word that it was updated, the signed feed is taken
// as it is: the finding is gone, and policy decides again.
func (p *Pipeline) WithdrawUnsupported() {
	feed := p.adv.Current()
	for _, d := range p.inv.Devices() {
		var gone []*event.Event
		for _, f := range d.Findings {
			if f.Kind == event.KindOutdatedFirmware && feed.AtLeast(f.Evidence["feed"]) && !supports(feed, f) {
				gone = append(gone, f)
			}
		}
		for _, f := range gone {
			if !p.inv.Withdraw(d, f) {
				continue
			}
			product, version, id := f.Evidence["product"], f.Evidence["version"], f.Evidence["advisory"]
			fanout{p}.Emit(&event.Event{V: event.SchemaVersion, Time: d.LastSeen, Type: event.TypeObservation,
				Kind: event.KindAdvisoryWithdrawn, Severity: event.SeverityInfo, Device: f.Device,
				Summary:  fmt.Sprintf("%s no longer applies to %s %s (advisory feed %s): finding withdrawn", id, product, version, feed.Version),
				Evidence: event.Evidence{"product": product, "version": version, "advisory": id, "feed": feed.Version}})
		}
	}
}

// supports reports whether feed still lists the advisory of finding f for
// f's product and version.
func supports(feed *advisory.Feed, f *event.Event) bool {
	for _, m := range feed.Match([]advisory.Software{{Product: f.Evidence["product"], Version: f.Evidence["version"]}}) {
		if m.Advisory.ID == f.Evidence["advisory"] {
			return true
		}
	}
	return false
}

// Inventory is the device inventory the pipeline fills.
func (p *Pipeline) Inventory() *device.Inventory { return p.inv }

// Engine is the inspection engine, for its statistics.
func (p *Pipeline) Engine() *inspect.Engine { return p.eng }

// Decoder is the frame decoder, for its statistics.
func (p *Pipeline) Decoder() *inspect.Decoder { return p.dec }

// SetSource names the source that following frames come from.
func (p *Pipeline) SetSource(name string) { p.eng.SetSource(name) }

// Restore files findings persisted by an earlier run under their devices,
// so that a restarted daemon knows what it knew, and gives the engine
// back the names their devices knew their cleartext services by.
func (p *Pipeline) Restore(devices []store.DeviceRecord) {
	for i := range devices {
		rec := &devices[i]
		p.inv.Restore(rec.MAC, rec.FirstSeen, rec.LastSeen, rec.Addrs)
		var names []serverName
		for j := range rec.Findings {
			ev := rec.Findings[j]
			ev.Device.MAC = rec.MAC.String()
			remask(&ev)
			p.inv.RestoreFinding(rec.MAC, &ev)
			if n, ok := serverNameOf(&ev); ok && rec.LastSeen.Sub(n.seen) <= restoredNameAge {
				names = append(names, n)
			}
		}
		// The newest last: of two findings naming one address, the
		// later name is the one the device last looked it up by.
		slices.SortStableFunc(names, func(a, b serverName) int { return a.seen.Compare(b.seen) })
		for _, n := range names {
			p.eng.RestoreServerName(rec.MAC, n.addr, n.name)
		}
	}
}

// restoredNameAge is how long before its device was last seen a saved
// cleartext finding may have been seen last for the engine to get its
// server's name back. The inspector files a use that goes on again at
// least daily, so a service the device still used then was seen within
// a day of it; a name older than that is one the device stopped using,
// whose address may serve another service since, and which a running
// engine may well have lost to other lookups.
const restoredNameAge = 48 * time.Hour

// serverName is a name a device looked a server's address up by, as a
// saved finding tells it.
type serverName struct {
	seen time.Time // the finding's last sighting
	addr netip.Addr
	name string
}

// serverNameOf is the name a plaintext_protocol finding gives its
// service, with the address of the flow that filed it.
func serverNameOf(ev *event.Event) (serverName, bool) {
	name := ev.Evidence["server_name"]
	if ev.Kind != event.KindPlaintextProtocol || !ev.IsFinding() || name == "" {
		return serverName{}, false
	}
	addr, err := netip.ParseAddr(ev.Evidence["destination"])
	if err != nil {
		return serverName{}, false
	}
	return serverName{ev.LastSeen(), addr, name}, true
}

// remask hides, in a finding an earlier version saved, what the
// inspector hides today: a firmware URL's identifiers (its file name
// named an IMEI or a MAC before the rule that hides them), and an
// identifier in a label of the server name of a plaintext_protocol or
// weak_tls finding (a1b2c3d4e5f6.iot.vendor.example, shown whole
// before).
func remask(ev *event.Event) {
	switch ev.Kind {
	case event.KindFirmwareOverHTTP:
		remaskField(ev, "url", inspecthttp.MaskFirmwareURL(ev.Evidence["url"], ev.Evidence["request"] != "update_check"))
	case event.KindPlaintextProtocol:
		remaskField(ev, "server_name", inspect.IDMaskedHost(ev.Evidence["server_name"]))
	case event.KindWeakTLS:
		remaskField(ev, "sni", inspect.IDMaskedHost(ev.Evidence["sni"]))
	}
}

// remaskField sets the evidence key to masked, and puts masked for the
// old value in the summary, when they differ.
func remaskField(ev *event.Event, key, masked string) {
	old := ev.Evidence[key]
	if old == "" || masked == old {
		return
	}
	ev.Evidence = maps.Clone(ev.Evidence)
	ev.Evidence[key] = masked
	ev.Summary = strings.ReplaceAll(ev.Summary, old, masked)
}

// Inject files an event that did not come from a packet (the DNS proxy,
// the active audit) as if an analyzer had emitted it.
func (p *Pipeline) Inject(ev *event.Event) { fanout{p}.Emit(ev) }

// HandleFrame decodes and inspects one frame.
func (p *Pipeline) HandleFrame(data []byte, info capture.Info) {
	p.dec.Decode(data, info, &p.pkt)
	p.eng.HandlePacket(&p.pkt)
}

// Run reads src to its end (or until ctx is done), naming it in events.
// A read error stops the run and is returned; everything read before it
// has been inspected. Flows stay open: call Flush after the last source.
func (p *Pipeline) Run(ctx context.Context, name string, src capture.Source, progress func(packets int64)) error {
	p.eng.SetSource(name)
	var n int64
	for {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(n)
			}
		}
		data, info, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n++
		p.HandleFrame(data, info)
	}
}

// Flush ends every open flow so that pending findings are reported, and
// gives up the datagrams whose IP fragments are still incomplete.
func (p *Pipeline) Flush() {
	p.eng.Flush()
	p.dec.Flush()
}
