package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/daemon"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/store"
	"github.com/iotgw/iotgw/pkg/web"
)

// serveWeb runs the owner's page until ctx ends or it fails; up is called
// once it listens.
func serveWeb(ctx context.Context, cfg *config.Config, cfgPath string, b *daemon.Daemon, as web.AlertSettings, log *slog.Logger, up func()) error {
	dir := filepath.Dir(cfg.Store.Path)
	if removed, err := web.RemoveTemps(dir); err != nil || len(removed) > 0 {
		log.Warn("temporary files of an interrupted write of the page's keys", "removed", len(removed), "err", err)
	}
	addrs, forbidden, err := webAddresses(cfg)
	if err != nil {
		return err
	}
	opt := web.Options{
		Forbidden:    forbidden,
		Hostnames:    cfg.Web.Hostnames,
		Policy:       b.Policy,
		OwnerAt:      b.OwnerAt,
		ForgetOwners: b.ForgetOwners,
		HolderOf:     netwatch.HolderOf(cfg.LAN.Interfaces),
		ConfigPath:   cfgPath,
		Logger:       log,
	}
	for _, a := range addrs {
		opt.Addrs = append(opt.Addrs, netip.AddrPortFrom(a, uint16(cfg.Web.Port)))
	}
	if cfg.Web.HTTPS {
		cert, err := web.LoadOrCreateCertificate(dir, addrs, cfg.Web.Hostnames, time.Now())
		if err != nil {
			return err
		}
		opt.TLS = &cert
	}
	srv, err := web.New(opt, b, web.NewFileStore(dir), as)
	if err != nil {
		return err
	}
	lns, err := srv.Listen()
	if err != nil {
		return err
	}
	admit := webClients(addrs, netwatch.OnLAN(cfg.LAN.Interfaces))
	for i, ln := range lns {
		log.Info("web page listening", "address", ln.Addr().String(), "https", opt.TLS != nil)
		lns[i] = lanListener{Listener: ln, fromLAN: admit}
	}
	up()
	return srv.Serve(ctx, lns)
}

// webAddresses are the addresses the page listens on — configured, or
// those of the LAN interfaces — and the router's other (WAN) addresses,
// which it must never listen on. A configured address that is not on a
// LAN interface or loopback is refused.
func webAddresses(cfg *config.Config) (listen, forbidden []netip.Addr, err error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("web: interfaces: %w", err)
	}
	var lan []netip.Addr
	for _, ifi := range ifaces {
		ias, err := ifi.Addrs()
		if err != nil {
			continue
		}
		isLAN := slices.Contains(cfg.LAN.Interfaces, ifi.Name)
		for _, ia := range ias {
			p, err := netip.ParsePrefix(ia.String())
			if err != nil {
				continue
			}
			a := p.Addr()
			switch {
			case a.IsLoopback():
			case isLAN:
				lan = append(lan, a)
			default:
				forbidden = append(forbidden, a)
			}
		}
	}
	if len(cfg.Web.Addresses) == 0 {
		listen = defaultListen(lan)
		if len(listen) == 0 {
			return nil, nil, fmt.Errorf("web: the LAN interfaces %v have no address yet", cfg.LAN.Interfaces)
		}
		return listen, forbidden, nil
	}
	for _, a := range cfg.Web.Addresses {
		if !a.IsLoopback() && !slices.Contains(lan, a) {
			return nil, nil, fmt.Errorf("web: %s is not an address of the LAN interfaces %v", a, cfg.LAN.Interfaces)
		}
	}
	return cfg.Web.Addresses, forbidden, nil
}

// runSetupCode is `iotgw setup-code`: print the one-time code that lets
// the owner set the web page's password.
func runSetupCode(_ context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("setup-code", "", stderr)
	load := configFlagSet(flags)
	reset := flags.Bool("reset", false, "forget the web page's password (every session ends) and make a new setup code")
	if ok, code := parseNoArgs(flags, args); !ok {
		return code
	}
	cfg, _, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "iotgw setup-code: %v\n", err)
		return exitUsage
	}
	dir := filepath.Dir(cfg.Store.Path)
	var code string
	if *reset {
		code, err = web.ResetSetupCode(web.NewFileStore(dir))
	} else {
		code, err = web.ReadSetupCode(dir)
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			err = fmt.Errorf("%w (run as root)", err)
		}
		fmt.Fprintf(stderr, "iotgw setup-code: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, code)
	fmt.Fprintln(stdout, "Open the web page and enter this code to set its password; it works once.")
	if addrs, _, err := webAddresses(cfg); err == nil {
		scheme := "http"
		if cfg.Web.HTTPS {
			scheme = "https"
		}
		hosts := cfg.Web.Hostnames
		for _, a := range addrs {
			hosts = append(hosts, a.String())
		}
		for _, h := range hosts {
			fmt.Fprintf(stdout, "  %s://%s/\n", scheme, net.JoinHostPort(h, fmt.Sprint(cfg.Web.Port)))
		}
	}
	// The certificate is self-signed: its fingerprint is how the owner
	// tells the page from a device posing as it before typing the code.
	if cfg.Web.HTTPS {
		if fp, err := web.CertificateFingerprint(dir); err == nil {
			fmt.Fprintf(stdout, "The page's certificate has the SHA-256 fingerprint\n  %s\n", fp)
		} else {
			fmt.Fprintln(stdout, "The page's certificate is not made yet (the daemon makes it when it starts): run iotgw setup-code again once it runs, and compare the fingerprint it prints with the browser's before typing the code.")
		}
	}
	return exitOK
}

// alertSettings shows the alert dispatcher's channels on the page; the
// owner's on/off switches are kept in the store.
type alertSettings struct {
	d  *alert.Dispatcher
	st *store.Store
	// mu makes a switch one step in the dispatcher and the store, so that
	// two tabs switching at once cannot leave them disagreeing.
	mu *sync.Mutex
}

func newAlertSettings(d *alert.Dispatcher, st *store.Store) alertSettings {
	return alertSettings{d: d, st: st, mu: new(sync.Mutex)}
}

func (a alertSettings) Channels() []web.ChannelView {
	var out []web.ChannelView
	for _, st := range a.d.Status() {
		v := web.ChannelView{Name: st.Name, Kind: st.Type, Enabled: st.Enabled}
		if st.LastError != "" {
			v.Detail = "last error: " + st.LastError
		} else {
			v.LastSent = st.LastSent
		}
		out = append(out, v)
	}
	return out
}

func (a alertSettings) SetEnabled(name string, on bool) error {
	if err := a.setEnabled(name, on); err != nil {
		return err
	}
	// On flash before the page says so, waited for without a.mu: a
	// reload need not wait for the flash. A failed write leaves the
	// switch as set: the store logs it, retries, and the owner sees the
	// state problem.
	_ = a.st.Sync(context.Background())
	return nil
}

// setEnabled switches the channel in the dispatcher and the store as one
// step.
func (a alertSettings) setEnabled(name string, on bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	was := !slices.Contains(a.st.MutedAlertChannels(), name)
	if err := a.d.SetEnabled(name, on); err != nil {
		return err
	}
	if err := a.st.SetAlertChannelMuted(name, !on); err != nil {
		_ = a.d.SetEnabled(name, was)
		return fmt.Errorf("keep the switch of alert channel %q: %w", name, err)
	}
	return nil
}

// restoreMutedChannels switches off the channels the owner switched off
// before the restart. A muted channel the configuration no longer has is
// forgotten, so that one added later under the same name starts on.
func restoreMutedChannels(d *alert.Dispatcher, st *store.Store, log *slog.Logger) {
	for _, name := range st.MutedAlertChannels() {
		if err := d.SetEnabled(name, false); err != nil {
			log.Info("forgetting the switch of an alert channel the configuration no longer has", "channel", name)
			_ = st.SetAlertChannelMuted(name, false)
			continue
		}
		log.Info("alert channel stays switched off, as the owner set it on the web page", "channel", name)
	}
}

// reconfigure rebuilds the channels from a reloaded [alert] section (see
// alert.Dispatcher.Reconfigure) and forgets the owner's switches of the
// channels it took out, as a restart would.
func (a alertSettings) reconfigure(cfg alert.Config, log *slog.Logger) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.d.Reconfigure(cfg); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	restoreMutedChannels(a.d, a.st, log)
	return nil
}

func (a alertSettings) SendTest(ctx context.Context, name string) error {
	return a.d.SendTest(ctx, name)
}

// webClients admits the page's clients: the owner on the LAN, a shell on
// the router itself (loopback, or the address the page listens on), an
// SSH tunnel. The page listens on LAN addresses only, but a host on the
// WAN side can still send to them, and the firewall alone kept it out: an
// owner who opened the port on the WAN zone, or a router without fw4,
// would have put the login form on the internet.
func webClients(listen []netip.Addr, fromLAN func(netip.Addr) bool) func(netip.Addr) bool {
	return func(a netip.Addr) bool {
		a = a.Unmap()
		return a.IsLoopback() || slices.Contains(listen, a) || fromLAN(a)
	}
}

// defaultListen picks the LAN addresses the page listens on, and its
// certificate names, when the configuration names none. Link-local
// addresses need a zone in URLs; owners use the others. A global IPv6
// address comes from the prefix the ISP delegates, which many change
// from time to time, and a new one would make a new certificate that the
// owner's browser warns about, training the owner to click through the
// warning that would tell of a device posing as the router; IPv6 clients
// reach the page at the LAN's unique-local address. Only a LAN with no
// other address listens on its global ones.
func defaultListen(lan []netip.Addr) []netip.Addr {
	var stable, global []netip.Addr
	for _, a := range lan {
		switch {
		case a.IsLinkLocalUnicast():
		case a.Is6() && !a.IsPrivate():
			global = append(global, a)
		default:
			stable = append(stable, a)
		}
	}
	if len(stable) == 0 {
		return global
	}
	return stable
}
