// Package config owns iotgw's TOML configuration: its schema, defaults,
// validation and error messages that name the line at fault. Every key is
// documented in the example file iotgw.example.toml.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/dnsproxy"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// DefaultPath is where the daemon looks when --config is not given.
const DefaultPath = "/etc/iotgw/iotgw.toml"

// Config is the whole file.
type Config struct {
	LAN        LAN          `toml:"lan"`
	Inspect    Inspect      `toml:"inspect"`
	Policy     Policy       `toml:"policy"`
	Daemon     Daemon       `toml:"daemon"`
	Capture    Capture      `toml:"capture"`
	Quarantine Quarantine   `toml:"quarantine"`
	Store      Store        `toml:"store"`
	Advisory   Advisory     `toml:"advisory"`
	DNSProxy   DNSProxy     `toml:"dnsproxy"`
	Web        Web          `toml:"web"`
	Alert      alert.Config `toml:"alert"`
	Audit      Audit        `toml:"audit"`

	// warnings are what Parse did not take as written (Warnings).
	warnings []string
}

// Warnings are what the file loaded as, not as it was written: an
// interface or address named twice is taken once, a table key given
// another kind of value keeps its defaults. `iotgw run` and check-config
// tell them.
func (c *Config) Warnings() []string { return c.warnings }

// DNSProxy configures the DNS forwarder quarantined devices are sent to.
type DNSProxy struct {
	// Enabled runs the proxy; quarantined devices' DNS (udp/tcp 53 to any
	// address) is redirected to it, and everyone else's goes to dnsmasq
	// untouched, so a daemon crash only affects quarantined devices.
	Enabled bool `toml:"enabled"`
	// Port the proxy listens on, on the router's LAN addresses.
	Port int `toml:"port"`
	// Upstream is the resolver it forwards to: dnsmasq on the router.
	Upstream netip.AddrPort `toml:"upstream"`
	// UpdateDomains are names a quarantined device may still resolve and
	// reach (its vendor's firmware servers), e.g. "update.example.com"
	// (subdomains included, but not names below a public suffix inside
	// one; the proxy refuses a public suffix itself).
	UpdateDomains []string `toml:"update_domains"`
	// LocalDomains are forwarded for everyone (the router's own names).
	LocalDomains []string `toml:"local_domains"`
}

// Daemon configures `iotgw run`.
type Daemon struct {
	// Socket is the Unix socket the CLI talks to the daemon on.
	Socket string `toml:"socket"`
	// RouterAddresses are the router's own addresses, never quarantined.
	// Empty: the addresses of the LAN interfaces, and in afpacket mode
	// those of the capture interfaces too.
	RouterAddresses []netip.Addr `toml:"router_addresses"`
	// ManagementAddresses are the devices the owner manages iotgw from;
	// never quarantined.
	ManagementAddresses []netip.Addr `toml:"management_addresses"`
	// LogLevel: debug, info, warn, error.
	LogLevel string `toml:"log_level"`
}

// Capture selects the live packet source.
type Capture struct {
	// Mode "afpacket" reads the LAN interfaces through a memory-mapped
	// ring with a BPF filter; "nflog" reads what iotgw's nftables rules
	// pass: the first budget_bytes of every forwarded connection.
	Mode string `toml:"mode"`
	// Interfaces are the ones afpacket reads; the other modes do not
	// use them.
	Interfaces []string `toml:"interfaces"`
	// File is the capture mode "pcap" replays (demonstrations, tests).
	File string `toml:"file"`
	// RingBlocks × 128 KiB is the afpacket ring per interface.
	RingBlocks int `toml:"ring_blocks"`
	// AllPorts makes the afpacket filter pass TCP/UDP on any port, for
	// generic plaintext inspection; otherwise only the inspectors' ports.
	AllPorts bool `toml:"all_ports"`
	// NFLOGGroup, NFLOGSnaplen and BudgetBytes set the nftables fast path:
	// the first BudgetBytes of each direction of every forwarded
	// connection go to NFLOG group NFLOGGroup, NFLOGSnaplen bytes a packet
	// (see DefaultNFLOGSnaplen).
	NFLOGGroup   int `toml:"nflog_group"`
	NFLOGSnaplen int `toml:"nflog_snaplen"`
	BudgetBytes  int `toml:"budget_bytes"`
	// ConntrackMark is two bits of the connection mark the nflog rules set,
	// one per spent direction (see quarantine.CaptureConfig);
	// change it if another program on the router uses these bits.
	ConntrackMark int64 `toml:"conntrack_mark"`
	// PacketMark is one bit of the packet mark that, in afpacket mode,
	// iotgw's forward rules set on forwarded packets of a connection
	// direction past BudgetBytes, and that the ring's filter drops (see
	// quarantine.CaptureConfig.PacketMark). 0: every packet on the
	// inspectors' ports goes to the daemon, as before.
	PacketMark int64 `toml:"packet_mark"`
}

// Quarantine configures enforcement.
type Quarantine struct {
	// NoticePort is the router port of the page that tells the person
	// using a quarantined device why; its HTTP is redirected there.
	NoticePort int `toml:"notice_port"`
	// IsolateLAN makes "isolate" cut LAN peers too.
	IsolateLAN bool `toml:"isolate_lan"`
	// Table names iotgw's nftables tables.
	Table string `toml:"table"`
	// ConntrackMark is the bit of the connection mark set on the
	// connections the owner's devices (protected by MAC) open, so that a
	// quarantined device answers them from any of its addresses (see
	// quarantine.Config.OwnerMark); not one of capture.conntrack_mark's.
	ConntrackMark int64 `toml:"conntrack_mark"`
}

// Store configures the state file.
type Store struct {
	Path string `toml:"path"`
	// WriteInterval: routine changes are written at most this often, to
	// spare the router's flash (at least 1m); owner actions are written
	// at once.
	WriteInterval Duration `toml:"write_interval"`
	MaxBytes      int      `toml:"max_bytes"`
}

// LAN says which addresses and interfaces are the home network.
type LAN struct {
	// Prefixes inside the home network; devices are the hosts in them.
	Prefixes []netip.Prefix `toml:"prefixes"`
	// Interfaces are the LAN interfaces whose neighbours (ARP/NDP) are
	// devices; on OpenWrt the bridge br-lan.
	Interfaces []string `toml:"interfaces"`
	// AwayAfter: a device with no sign of life this long is marked away
	// (not deleted).
	AwayAfter Duration `toml:"away_after"`
	// LeaseFiles are dnsmasq or odhcpd lease files read for host names
	// and addresses.
	LeaseFiles []string `toml:"lease_files"`
}

// Audit configures the active baseline audit: port checks and
// default-login tests the router runs against LAN devices.
type Audit struct {
	// Enabled allows any active audit, including `iotgw audit MAC`.
	Enabled bool `toml:"enabled"`
	// NewDevices audits new devices automatically, and again after
	// Interval. Off by default: wrong passwords can lock a device's
	// account or trip its intrusion alarm.
	NewDevices      bool     `toml:"new_devices"`
	Interval        Duration `toml:"interval"`
	MaxAttempts     int      `toml:"max_attempts"`
	AttemptDelay    Duration `toml:"attempt_delay"`
	PortDelay       Duration `toml:"port_delay"`
	ConnectTimeout  Duration `toml:"connect_timeout"`
	ResponseTimeout Duration `toml:"response_timeout"`
	Ports           []int    `toml:"ports"`
	// FetchUPnP fetches the description a device announces over SSDP.
	FetchUPnP bool `toml:"fetch_upnp"`
}

// Advisory configures the feed of known-vulnerable versions.
type Advisory struct {
	// FeedFile is a newer signed feed on disk (its signature beside it,
	// with ".sig" appended); re-read on SIGHUP. Empty: the built-in feed.
	FeedFile string `toml:"feed_file"`
	// FeedURL is fetched every RefreshInterval (and FeedURL + ".sig").
	FeedURL         string   `toml:"feed_url"`
	RefreshInterval Duration `toml:"refresh_interval"`
	// TrustedKeys are extra ed25519 public keys (PEM or base64) for an
	// owner who signs a private feed.
	TrustedKeys  []string `toml:"trusted_keys"`
	MaxFeedBytes int      `toml:"max_feed_bytes"`
	FetchTimeout Duration `toml:"fetch_timeout"`
}

// Inspect bounds the packet path.
type Inspect struct {
	MaxFlows     int      `toml:"max_flows"`
	MaxInspected int      `toml:"max_inspected"`
	ByteBudget   int      `toml:"byte_budget"`
	StreamBuffer int      `toml:"stream_buffer"`
	MaxBuffers   int      `toml:"max_buffers"`
	TCPIdle      Duration `toml:"tcp_idle"`
	UDPIdle      Duration `toml:"udp_idle"`
	MaxDevices   int      `toml:"max_devices"`
	// SecretFile holds the key for hashes of captured secrets. Empty: a
	// random key per run (hashes then only compare within one run).
	SecretFile string `toml:"secret_file"`
}

// Action is what policy does about a finding.
type Action string

// Actions, mildest last.
const (
	ActionQuarantine Action = "quarantine"
	ActionIsolate    Action = "isolate"
	ActionAlert      Action = "alert"
	ActionIgnore     Action = "ignore"
)

// ParseAction validates an action name.
func ParseAction(s string) (Action, error) {
	switch a := Action(s); a {
	case ActionQuarantine, ActionIsolate, ActionAlert, ActionIgnore:
		return a, nil
	}
	return "", fmt.Errorf("unknown action %q (want quarantine, isolate, alert or ignore)", s)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Policy maps findings to actions.
type Policy struct {
	// Mode "monitor" reports what would be done; "enforce" does it.
	Mode string `toml:"mode"`
	// Actions by finding kind; kinds not listed get DefaultAction.
	Actions       map[string]Action `toml:"actions"`
	DefaultAction Action            `toml:"default_action"`
	// MinSeverity: findings below it are ignored by policy.
	MinSeverity event.Severity `toml:"min_severity"`
	// QuarantineExploitedOnly: outdated firmware leads to quarantine only
	// when an advisory marks the vulnerability as exploited in the wild.
	QuarantineExploitedOnly bool `toml:"quarantine_exploited_only"`
	// Thresholds: how many findings of a kind a device needs before
	// policy acts on the kind (default 1), counting repeats (Count);
	// towards isolation or quarantine only those that call for it.
	Thresholds map[string]int `toml:"thresholds"`
	// Grace delays a quarantine or isolation after the first finding that
	// calls for it, so the owner can mark the device trusted first; the
	// owner is alerted at once. 0: act at once.
	Grace Duration `toml:"grace"`
	// QuarantineMode is how "quarantine" is enforced: block (nothing but
	// DHCP, DNS and the notice page), isolate (LAN only) or updates-only
	// (only the allow-listed update hosts, on TCP 80 and 443 and UDP 443).
	QuarantineMode string `toml:"quarantine_mode"`
	// QuarantineFor ends automatic quarantines after this long, as a
	// release does (the same findings do not start another); 0 keeps
	// them until the owner releases the device.
	QuarantineFor Duration `toml:"quarantine_for"`
	// MaxAutoQuarantine caps how many devices policy may hold in
	// quarantine at once; beyond it, the owner must confirm.
	MaxAutoQuarantine int `toml:"max_auto_quarantine"`
	// Devices are per-device overrides.
	Devices []DeviceRule `toml:"device"`
}

// DeviceRule overrides policy for one device.
type DeviceRule struct {
	MAC     hwaddr.MAC `toml:"mac"`
	Name    string     `toml:"name"`
	Trusted bool       `toml:"trusted"` // never quarantined, findings still shown
	Exempt  []string   `toml:"exempt"`  // finding kinds ignored for this device
	Force   Action     `toml:"force"`   // this action regardless of findings
}

// Duration is a time.Duration written as "90s", "10m", "24h".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number with a unit: 30s, 10m, 24h)", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// FindingKinds are the finding kinds policy can name.
var FindingKinds = []string{
	"default_credentials", "weak_credentials", "plaintext_credentials",
	"personal_data", "plaintext_protocol", "weak_tls", "weak_ssh", "firmware_over_http",
	"scanning", "outdated_firmware", "exposed_service",
}

// DefaultNFLOGSnaplen is capture.nflog_snaplen's default. Conntrack puts
// IP fragments together before the log rule, so a fragmented datagram is
// logged as one packet, cut to the snap length, and the inspectors would
// read a part of it as if it were whole. This keeps a datagram as large
// as the decoder itself reassembles from fragments (inspect.DefragMaxBytes
// of transport header and payload) with its IP headers: at most 60 bytes
// in IPv4, 40 and a few extension headers in IPv6. It keeps a byte
// budget's worth (16 KiB) of a TCP segment GRO merged, too. What it costs
// is bounded by the budget: only a direction's first bytes and first few
// packets are logged.
const DefaultNFLOGSnaplen = inspect.DefragMaxBytes + 128

// Caps of the AF_PACKET rings, in 128 KiB blocks.
const (
	maxRingBlocks      = 128
	maxRingBlocksTotal = 256
)

// Memory caps a router with 128 MB can afford: the inspector's stream
// buffers in all (the default is 4 MiB), and the state file, whose
// findings the store also keeps in memory and reads back (the default
// is 4 MiB). Opening a state file at the cap holds about 3 times the file
// live, twice that before the collector runs (pkg/store
// TestOpenMemoryBounded: ~21 MiB live for the 7 MiB file of an 8 MiB
// cap), and every write encodes the whole state again: a 16 MiB cap
// needs ~50 MiB of heap to open its file.
// The store honours at most 8 MiB and lowers a larger cap to it;
// configurations written when 16 MiB was allowed still load.
const (
	maxStreamMemory = 64 << 20
	maxStoreBytes   = 16 << 20
)

// Default returns the configuration used when no file exists.
func Default() *Config {
	// The packages' own defaults, so that a library user and the daemon
	// agree.
	insp := inspect.DefaultConfig()
	var auditPorts []int
	for _, p := range audit.DefaultPorts() {
		auditPorts = append(auditPorts, int(p))
	}
	return &Config{
		LAN: LAN{
			Prefixes:   insp.LAN,
			Interfaces: []string{"br-lan"},
			AwayAfter:  Duration{30 * time.Minute},
			LeaseFiles: []string{"/tmp/dhcp.leases", "/tmp/hosts/odhcpd"},
		},
		Audit: Audit{Interval: Duration{7 * 24 * time.Hour}, MaxAttempts: audit.DefaultMaxAttempts, AttemptDelay: Duration{audit.DefaultAttemptDelay},
			PortDelay: Duration{audit.DefaultPortDelay}, ConnectTimeout: Duration{audit.DefaultConnectTimeout}, ResponseTimeout: Duration{audit.DefaultResponseTimeout},
			Ports: auditPorts, FetchUPnP: true},
		DNSProxy: DNSProxy{Enabled: true, Port: 5354, Upstream: netip.MustParseAddrPort("127.0.0.1:53"), LocalDomains: []string{"lan"}},
		Advisory: Advisory{RefreshInterval: Duration{24 * time.Hour}, MaxFeedBytes: 4 << 20, FetchTimeout: Duration{30 * time.Second}},
		Inspect: Inspect{
			MaxFlows:     insp.MaxFlows,
			MaxInspected: insp.MaxInspected,
			ByteBudget:   insp.ByteBudget,
			StreamBuffer: insp.StreamBuffer,
			MaxBuffers:   insp.MaxBuffers,
			TCPIdle:      Duration{insp.TCPIdle},
			UDPIdle:      Duration{insp.UDPIdle},
			MaxDevices:   1024,
		},
		Policy: Policy{
			Mode: "monitor",
			Actions: map[string]Action{
				"default_credentials": ActionQuarantine,
				"outdated_firmware":   ActionQuarantine,
			},
			DefaultAction:           ActionAlert,
			MinSeverity:             event.SeverityLow,
			QuarantineExploitedOnly: true,
			QuarantineMode:          "block",
			MaxAutoQuarantine:       3,
		},
		Daemon: Daemon{Socket: "/var/run/iotgw.sock", LogLevel: "info"},
		Capture: Capture{
			Mode:          "afpacket",
			Interfaces:    []string{"br-lan"},
			RingBlocks:    16,
			NFLOGGroup:    7,
			NFLOGSnaplen:  DefaultNFLOGSnaplen,
			BudgetBytes:   16384,
			ConntrackMark: quarantine.DefaultCaptureMark,
			PacketMark:    quarantine.DefaultPacketMark,
		},
		Quarantine: Quarantine{NoticePort: 8088, Table: "iotgw", ConntrackMark: quarantine.DefaultOwnerMark},
		Store:      Store{Path: "/etc/iotgw/state.json", WriteInterval: Duration{10 * time.Minute}, MaxBytes: 4 << 20},
		Web:        defaultWeb(),
	}
}

// Error is a configuration problem, with the line it was found on when
// known.
type Error struct {
	File string
	Line int // 0 when unknown
	Col  int // 0 when unknown
	Key  string
	Msg  string
	// at is where in the file the fault is, when more precise than Key
	// ("alert.channel[1]" for the second channel of "alert").
	at string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads and validates the file at path. A missing file at the
// default path yields the defaults; a missing file named explicitly is an
// error.
func Load(path string, explicit bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return Default(), nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named path in errors) over the defaults and
// validates the result.
func Parse(path string, data []byte) (*Config, error) {
	cfg := Default()
	// Maps merge in TOML decoding; a file that lists actions replaces the
	// default table only for the kinds it names, which is what owners expect.
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(cfg)
	if err != nil {
		return nil, Errors{decodeError(path, data, err)}
	}
	lines := keyLines(data)
	for _, w := range cfg.dropRepeats() {
		w.File, w.Line = path, lines.findString(w.Key)
		cfg.warnings = append(cfg.warnings, w.Error())
	}
	var errs Errors
	for _, k := range md.Undecoded() {
		errs = append(errs, &Error{File: path, Line: lines.find(k), Key: k.String(), Msg: "unknown key"})
	}
	// The decoder leaves a map at its defaults, without an error, when
	// the file gives its key a value of another kind. Warned of, not
	// refused: such files ran with the defaults.
	for _, k := range []toml.Key{{"policy", "actions"}, {"policy", "thresholds"}} {
		if kind := md.Type(k...); kind != "" && kind != "Hash" {
			w := &Error{File: path, Line: lines.find(k), Key: k.String(), Msg: cmp.Or(kindWords[kind], kind) + " where a table is wanted: ignored, the defaults apply"}
			cfg.warnings = append(cfg.warnings, w.Error())
		}
	}
	for _, v := range cfg.validate() {
		v.File = path
		v.Line = lines.findString(cmp.Or(v.at, v.Key))
		errs = append(errs, v)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// checkLANPrefix refuses a LAN prefix wide enough to hold much of the
// internet ("0.0.0.0/0", "::/0" typed for "any"): every host on it would
// be a device, filling the inventory, and no flow would count as leaving
// the home network, so plaintext to the internet would go unreported.
// The widest a home network's own ranges are is 10.0.0.0/8, fc00::/7 and
// fe80::/10; an ISP's whole allocation is a /32.
func checkLANPrefix(p netip.Prefix) error {
	switch {
	case p.Addr().Is4() && p.Bits() < 8:
		return fmt.Errorf("%s is wider than /8: it holds internet hosts", p)
	case p.Addr().Is6() && p.Bits() < 32 && p.Overlaps(netip.MustParsePrefix("2000::/3")):
		return fmt.Errorf("%s is wider than /32 in the global unicast space: it holds internet hosts", p)
	}
	return nil
}

func (c *Config) validate() []*Error {
	var errs []*Error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if len(c.LAN.Prefixes) == 0 {
		bad("lan.prefixes", "at least one prefix is needed")
	}
	for _, p := range c.LAN.Prefixes {
		if err := checkLANPrefix(p); err != nil {
			bad("lan.prefixes", "%v", err)
		}
	}
	if len(c.LAN.Interfaces) == 0 {
		bad("lan.interfaces", "at least one interface is needed")
	}
	if n := len(c.LAN.Interfaces); n > quarantine.MaxLANInterfaces {
		bad("lan.interfaces", "%d interfaces: at most %d", n, quarantine.MaxLANInterfaces)
	}
	for _, name := range c.LAN.Interfaces {
		if err := checkInterfaceName(name); err != nil {
			bad("lan.interfaces", "%v", err)
		}
	}
	for _, f := range c.LAN.LeaseFiles {
		// The daemon's working directory is not the owner's.
		if !filepath.IsAbs(f) {
			bad("lan.lease_files", "%q: want an absolute path", f)
		}
	}
	for _, p := range []struct{ key, path string }{
		{"inspect.secret_file", c.Inspect.SecretFile},
		{"daemon.socket", c.Daemon.Socket},
		{"capture.file", c.Capture.File},
		{"advisory.feed_file", c.Advisory.FeedFile},
	} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			bad(p.key, "%q: want an absolute path (the daemon's working directory is not the owner's)", p.path)
		}
	}
	if c.LAN.AwayAfter.Duration < time.Minute {
		bad("lan.away_after", "at least 1m")
	}
	if a := &c.Advisory; a.FeedURL != "" && !strings.HasPrefix(a.FeedURL, "https://") && !strings.HasPrefix(a.FeedURL, "http://") {
		// Not quoted: a feed URL may carry a password or token.
		bad("advisory.feed_url", "want an http:// or https:// URL")
	}
	if c.Advisory.RefreshInterval.Duration < time.Minute {
		bad("advisory.refresh_interval", "at least 1m")
	}
	if c.Advisory.MaxFeedBytes < 1024 || c.Advisory.MaxFeedBytes > 64<<20 {
		bad("advisory.max_feed_bytes", "%d is out of range (1024 to 67108864)", c.Advisory.MaxFeedBytes)
	}
	if c.Advisory.FetchTimeout.Duration < time.Second {
		bad("advisory.fetch_timeout", "at least 1s")
	}
	for i, k := range c.Advisory.TrustedKeys {
		// `iotgw run` parses them at start and stops on one it cannot.
		if _, err := advisory.ParsePublicKey([]byte(k)); err != nil {
			bad("advisory.trusted_keys", "key %d: %v", i+1, err)
		}
	}
	if dp := &c.DNSProxy; dp.Enabled {
		if dp.Port < 1 || dp.Port > 65535 || dp.Port == 53 {
			bad("dnsproxy.port", "%d: want a free port other than 53 (dnsmasq keeps 53)", dp.Port)
		}
		if !dp.Upstream.IsValid() || dp.Upstream.Port() == 0 {
			bad("dnsproxy.upstream", "an address:port is needed, such as 127.0.0.1:53")
		}
		// The proxy refuses what these checks refuse when it is built, at
		// start and on a reload, and quarantined devices get no DNS.
		for _, list := range []struct {
			key   string
			names []string
			check func([]string) error
		}{
			{"dnsproxy.update_domains", dp.UpdateDomains, dnsproxy.CheckUpdateDomains},
			{"dnsproxy.local_domains", dp.LocalDomains, dnsproxy.CheckLocalDomains},
		} {
			named := true
			for _, d := range list.names {
				// A '*' is the proxy's to refuse: it says what to
				// write for the wildcard meant.
				if d == "" || strings.ContainsAny(d, " /") {
					bad(list.key, "%q is not a domain name", d)
					named = false
				}
			}
			if err := list.check(list.names); named && err != nil {
				bad(list.key, "%v", err)
			}
		}
	}
	// Up to the whole default list on five services (about 127 each): an
	// owner may want an audit that can rule a default out, not a sample.
	if a := &c.Audit; a.MaxAttempts < 1 || a.MaxAttempts > 1000 {
		bad("audit.max_attempts", "%d is out of range (1 to 1000)", a.MaxAttempts)
	}
	if c.Audit.AttemptDelay.Duration < 100*time.Millisecond {
		bad("audit.attempt_delay", "at least 100ms, to stay polite")
	}
	if c.Audit.Interval.Duration < time.Hour {
		bad("audit.interval", "at least 1h")
	}
	if c.Audit.ConnectTimeout.Duration <= 0 || c.Audit.ResponseTimeout.Duration <= 0 || c.Audit.PortDelay.Duration < 0 {
		bad("audit", "timeouts must be positive")
	}
	if len(c.Audit.Ports) > 64 {
		bad("audit.ports", "at most 64 ports (none: the default list)")
	}
	for _, p := range c.Audit.Ports {
		if p < 1 || p > 65535 {
			bad("audit.ports", "%d is not a port", p)
		}
	}
	if err := c.Alert.Validate(); err != nil {
		e := &Error{Key: "alert", Msg: strings.TrimPrefix(err.Error(), "alert: ")}
		if ce := (*alert.ChannelError)(nil); errors.As(err, &ce) {
			e.at = fmt.Sprintf("alert.channel[%d]", ce.Index)
		}
		errs = append(errs, e)
	}
	in := &c.Inspect
	if in.MaxFlows < 16 || in.MaxFlows > inspect.MaxFlowsLimit {
		bad("inspect.max_flows", "%d is out of range (16 to %d)", in.MaxFlows, inspect.MaxFlowsLimit)
	}
	if in.MaxInspected < 1 || in.MaxInspected > in.MaxFlows {
		bad("inspect.max_inspected", "%d is out of range (1 to max_flows)", in.MaxInspected)
	}
	if in.ByteBudget < 256 || in.ByteBudget > inspect.MaxByteBudget {
		bad("inspect.byte_budget", "%d is out of range (256 to %d)", in.ByteBudget, inspect.MaxByteBudget)
	}
	if in.StreamBuffer < 512 || in.StreamBuffer > 1<<20 {
		bad("inspect.stream_buffer", "%d is out of range (512 to 1048576)", in.StreamBuffer)
	}
	if in.MaxBuffers < 1 || in.MaxBuffers > 1<<20 {
		bad("inspect.max_buffers", "%d is out of range (1 to 1048576)", in.MaxBuffers)
	} else if total := int64(in.StreamBuffer) * int64(in.MaxBuffers); total > maxStreamMemory {
		// Each is bounded alone; together they are what a flood of
		// flows can make the daemon hold. In 64 bits: a 32-bit int
		// (mips, armv7) wraps at 2 GiB.
		bad("inspect.max_buffers", "%d buffers of stream_buffer %d bytes are %d MiB: at most %d MiB in all", in.MaxBuffers, in.StreamBuffer, total>>20, maxStreamMemory>>20)
	}
	if in.TCPIdle.Duration < time.Second {
		bad("inspect.tcp_idle", "%s is too short (at least 1s)", in.TCPIdle)
	}
	if in.UDPIdle.Duration < time.Second {
		bad("inspect.udp_idle", "%s is too short (at least 1s)", in.UDPIdle)
	}
	if in.MaxDevices < 1 || in.MaxDevices > 1<<20 {
		bad("inspect.max_devices", "%d is out of range (1 to 1048576)", in.MaxDevices)
	}
	p := &c.Policy
	if p.Mode != "monitor" && p.Mode != "enforce" {
		bad("policy.mode", "%q: want \"monitor\" or \"enforce\"", p.Mode)
	}
	for kind := range p.Actions {
		if !knownKind(kind) {
			bad("policy.actions."+kind, "unknown finding kind (known: %s)", strings.Join(FindingKinds, ", "))
		}
	}
	for kind, n := range p.Thresholds {
		if !knownKind(kind) {
			bad("policy.thresholds."+kind, "unknown finding kind")
		} else if n < 1 {
			bad("policy.thresholds."+kind, "%d: want at least 1", n)
		}
	}
	if p.Grace.Duration < 0 {
		bad("policy.grace", "must not be negative")
	}
	if p.QuarantineFor.Duration < 0 {
		bad("policy.quarantine_for", "must not be negative")
	}
	switch p.QuarantineMode {
	case "block", "isolate", "updates-only":
	default:
		bad("policy.quarantine_mode", "%q: want block, isolate or updates-only", p.QuarantineMode)
	}
	if p.MaxAutoQuarantine < 0 {
		bad("policy.max_auto_quarantine", "must not be negative")
	}
	switch c.Daemon.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("daemon.log_level", "%q: want debug, info, warn or error", c.Daemon.LogLevel)
	}
	if c.Daemon.Socket == "" {
		bad("daemon.socket", "a path is needed")
	}
	cp := &c.Capture
	switch cp.Mode {
	case "afpacket", "nflog":
	case "pcap":
		if cp.File == "" {
			bad("capture.file", "mode pcap needs a capture file")
		}
	default:
		bad("capture.mode", "%q: want afpacket, nflog or pcap", cp.Mode)
	}
	if cp.Mode == "afpacket" {
		if len(cp.Interfaces) == 0 {
			bad("capture.interfaces", "afpacket needs at least one interface")
		}
		for _, name := range cp.Interfaces {
			if err := checkInterfaceName(name); err != nil {
				bad("capture.interfaces", "%v", err)
			}
		}
	}
	// The rings are kernel memory pinned for good, on routers of 64 or
	// 128 MB: at most 16 MiB each, and 32 MiB for all interfaces.
	if cp.RingBlocks < 1 || cp.RingBlocks > maxRingBlocks {
		bad("capture.ring_blocks", "%d is out of range (1 to %d, 128 KiB each)", cp.RingBlocks, maxRingBlocks)
	} else if n := len(cp.Interfaces); cp.Mode == "afpacket" && n*cp.RingBlocks > maxRingBlocksTotal {
		bad("capture.ring_blocks", "%d blocks on each of %d interfaces: at most %d blocks (%d MiB) in all", cp.RingBlocks, n, maxRingBlocksTotal, maxRingBlocksTotal/8)
	}
	if cp.NFLOGGroup < 0 || cp.NFLOGGroup > 65535 {
		bad("capture.nflog_group", "%d is out of range (0 to 65535)", cp.NFLOGGroup)
	}
	if cp.NFLOGSnaplen < 64 || cp.NFLOGSnaplen > 65535 {
		bad("capture.nflog_snaplen", "%d is out of range (64 to 65535)", cp.NFLOGSnaplen)
	}
	if cp.BudgetBytes < 256 || cp.BudgetBytes > 1<<24 {
		bad("capture.budget_bytes", "%d is out of range (256 to 16777216)", cp.BudgetBytes)
	}
	if m := cp.ConntrackMark; m <= 0 || m > math.MaxUint32 || !quarantine.ValidCaptureMark(uint32(m)) {
		bad("capture.conntrack_mark", "%#x: want two bits of a 32-bit mark, such as 0xc000", m)
	}
	if m := cp.PacketMark; m < 0 || m > math.MaxUint32 || (m != 0 && !quarantine.ValidPacketMark(uint32(m))) {
		bad("capture.packet_mark", "%#x: want one bit of a 32-bit mark, such as %#x, or 0 for none", m, quarantine.DefaultPacketMark)
	}
	if q := c.Quarantine.NoticePort; q < 1 || q > 65535 {
		bad("quarantine.notice_port", "%d is not a port", q)
	}
	switch m := c.Quarantine.ConntrackMark; {
	case m <= 0 || m > math.MaxUint32 || !quarantine.ValidOwnerMark(uint32(m)):
		bad("quarantine.conntrack_mark", "%#x: want one bit of a 32-bit mark, such as %#x", m, quarantine.DefaultOwnerMark)
	case m&cp.ConntrackMark != 0:
		bad("quarantine.conntrack_mark", "%#x is a bit of capture.conntrack_mark (%#x): pick another", m, cp.ConntrackMark)
	}
	if t := c.Quarantine.Table; t == "" {
		bad("quarantine.table", "a name is needed")
	} else if err := quarantine.CheckTableName(t); err != nil {
		bad("quarantine.table", "%v", err)
	}
	switch sp := c.Store.Path; {
	case sp == "":
		bad("store.path", "a path is needed")
	case !filepath.IsAbs(sp) || strings.HasSuffix(sp, "/"):
		bad("store.path", "%q: want the absolute path of a file, such as /etc/iotgw/state.json", sp)
	case filepath.Dir(filepath.Clean(sp)) == "/etc/config":
		// Every file there is read as OpenWrt settings (uci): the state
		// written over /etc/config/iotgw, the name an owner may take
		// for iotgw's, would leave uci unable to read it.
		bad("store.path", "%s is in /etc/config, where OpenWrt keeps its settings: want a file of iotgw's own, such as /etc/iotgw/state.json", sp)
	default:
		// A directory named here would be taken for a damaged state
		// file and moved aside (/etc/config with OpenWrt's settings).
		if fi, err := os.Stat(sp); err == nil && fi.IsDir() {
			bad("store.path", "%s is a directory: want the path of a file in it, such as %s", sp, filepath.Join(sp, "state.json"))
		}
	}
	// Each routine write rewrites the whole state, up to max_bytes, and on
	// a busy network something routine changes in nearly every interval.
	if w := c.Store.WriteInterval.Duration; w < time.Minute {
		bad("store.write_interval", "%v is too short: at least 1m, to spare the router's flash (owner actions and quarantines are written at once anyway)", w)
	}
	if c.Store.MaxBytes < 64<<10 || c.Store.MaxBytes > maxStoreBytes {
		bad("store.max_bytes", "%d is out of range (65536 to %d)", c.Store.MaxBytes, maxStoreBytes)
	}
	seen := map[hwaddr.MAC]bool{}
	for i, d := range p.Devices {
		key := fmt.Sprintf("policy.device[%d]", i)
		if d.MAC.IsZero() {
			bad(key+".mac", "a device rule needs a MAC address")
		} else if seen[d.MAC] {
			bad(key+".mac", "%s has more than one rule", d.MAC)
		}
		seen[d.MAC] = true
		for _, k := range d.Exempt {
			if !knownKind(k) {
				bad(key+".exempt", "unknown finding kind %q", k)
			}
		}
		if d.Trusted && (d.Force == ActionQuarantine || d.Force == ActionIsolate) {
			bad(key+".force", "a trusted device cannot be forced into %s", d.Force)
		}
	}
	errs = append(errs, c.validateWeb()...)
	errs = append(errs, c.validatePorts()...)
	return errs
}

// dropRepeats takes out of the lists whose entries must differ each
// entry named again, and says what it took out. Two rings on one
// interface would read every packet twice, a second listener on one
// address fails and the page would never come up. Not refused: files
// that repeated one ran before, and an upgrade must not turn them into
// files the daemon will not start with.
func (c *Config) dropRepeats() []*Error {
	var notes []*Error
	note := func(key string, repeated []string) {
		for _, r := range repeated {
			notes = append(notes, &Error{Key: key, Msg: r + " is named twice: taken once"})
		}
	}
	var repeated []string
	c.LAN.Interfaces, repeated = withoutRepeats(c.LAN.Interfaces, strconv.Quote)
	note("lan.interfaces", repeated)
	c.Capture.Interfaces, repeated = withoutRepeats(c.Capture.Interfaces, strconv.Quote)
	note("capture.interfaces", repeated)
	c.Web.Addresses, repeated = withoutRepeats(c.Web.Addresses, netip.Addr.String)
	note("web.addresses", repeated)
	return notes
}

// withoutRepeats returns list with each value once, in the order of its
// first occurrence, and the values it named more than once, each once
// and as name writes it.
func withoutRepeats[T comparable](list []T, name func(T) string) (kept []T, repeated []string) {
	seen := make(map[T]int, len(list))
	for _, v := range list {
		if seen[v]++; seen[v] == 1 {
			kept = append(kept, v)
		} else if seen[v] == 2 {
			repeated = append(repeated, name(v))
		}
	}
	if len(repeated) == 0 {
		return list, nil
	}
	return kept, repeated
}

// checkInterfaceName applies the rules the quarantine's nftables rules
// and the kernel apply to an interface name when the daemon starts.
func checkInterfaceName(name string) error {
	if !quarantine.ValidInterfaceName(name) {
		return fmt.Errorf("%q: not an interface name (1 to 15 bytes, no spaces, '/', ':', '*', quotes or backslashes, not . or ..)", name)
	}
	return nil
}

// validatePorts gives every listener the daemon opens its own port: two
// on one port stop `iotgw run` with "address already in use". The notice
// page always listens; the web page and the DNS proxy only when enabled.
func (c *Config) validatePorts() []*Error {
	listeners := []struct {
		key, name string
		port      int
		on        bool
	}{
		{"quarantine.notice_port", "the notice page", c.Quarantine.NoticePort, true},
		{"web.port", "the web page", c.Web.Port, c.Web.Enabled},
		{"dnsproxy.port", "the DNS proxy", c.DNSProxy.Port, c.DNSProxy.Enabled},
	}
	var errs []*Error
	for i, a := range listeners {
		for _, b := range listeners[:i] {
			// Ports out of range are reported by their own checks.
			if a.on && b.on && a.port == b.port && a.port > 0 && a.port <= 65535 {
				errs = append(errs, &Error{Key: a.key, Msg: fmt.Sprintf("%d is the port of %s (%s)", a.port, b.name, b.key)})
			}
		}
	}
	return errs
}

func knownKind(k string) bool {
	for _, f := range FindingKinds {
		if f == k {
			return true
		}
	}
	return false
}
