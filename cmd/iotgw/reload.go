package main

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"reflect"
	"strings"

	"github.com/iotgw/iotgw/pkg/advisory"
	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/daemon"
)

// reloader applies a re-read configuration to the running daemon.
type reloader struct {
	// running is the configuration the daemon started with: what a
	// reload cannot apply is compared with it.
	running *config.Config
	path    string
	d       *daemon.Daemon
	adv     *advisory.Holder
	audits  *auditControl
	alerts  alertSettings
	dns     *proxyRules // nil without the DNS proxy
	log     *slog.Logger
}

// reloadOnHUP re-reads the configuration on SIGHUP and applies it; a bad
// file is logged and ignored as a whole.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, r *reloader) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				r.reload()
			}
		}
	}()
}

// reload re-reads the configuration and applies it. What the file loads
// as but its owner likely did not mean is told as at start, since a
// reload is how an edit is usually tried.
func (r *reloader) reload() {
	cfg, err := config.Load(r.path, true)
	if err != nil {
		r.log.Error("reload: configuration rejected, keeping the running one", "err", err)
		return
	}
	for _, w := range configWarnings(cfg, r.path) {
		r.log.Warn("reload: " + w)
	}
	if err := r.apply(cfg); err != nil {
		r.log.Error("reload: configuration not applied, keeping the running one", "err", err)
		return
	}
	r.log.Info("configuration reloaded", "path", r.path)
}

// apply puts cfg in force: the audit first, which the owner switches off
// when it locks accounts or trips alarms, then the policy and the rest.
// Quarantines stay as they are until the new verdicts say otherwise.
func (r *reloader) apply(cfg *config.Config) error {
	runner, auditChanged, err := r.audits.prepare(cfg.Audit)
	if err != nil {
		return err
	}
	if auditChanged {
		r.audits.apply(cfg.Audit, runner)
	}
	// Before the policy: what its new verdicts raise goes to the new
	// channels. Load checked the section; only a ca_file gone since
	// fails here, and the channels in force stay.
	if err := r.alerts.reconfigure(cfg.Alert, r.log); err != nil {
		r.log.Error("reload: alert channels not changed", "err", err)
	}
	// Before the policy too: a quarantine it turns to updates-only
	// must find the new update domains in force.
	if r.dns != nil {
		if err := r.dns.set(rulesOf(cfg)); err != nil {
			r.log.Error("reload: DNS proxy domains and upstream not changed", "err", err)
		}
	}
	r.d.Reload(cfg)
	loadFeedFile(r.adv, cfg, r.log)
	r.noteRestart(cfg)
	return nil
}

// needRestart names the settings ("section.key") of next that differ
// from running and that a reload does not apply: all but [policy],
// [audit], [alert], the DNS proxy's domains and upstream, the management
// addresses and the advisory feed file.
func needRestart(running, next *config.Config) []string {
	a, b := *running, *next
	for _, c := range []*config.Config{&a, &b} {
		c.Policy, c.Audit, c.Alert = config.Policy{}, config.Audit{}, alert.Config{}
		c.Daemon.ManagementAddresses = nil
		c.Advisory.FeedFile = ""
		c.DNSProxy.UpdateDomains, c.DNSProxy.LocalDomains, c.DNSProxy.Upstream = nil, nil, netip.AddrPort{}
	}
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !va.Type().Field(i).IsExported() {
			continue // no setting: what loading the file noted
		}
		section := tomlName(va.Type().Field(i))
		sa, sb := va.Field(i), vb.Field(i)
		if sa.Kind() != reflect.Struct {
			if !reflect.DeepEqual(sa.Interface(), sb.Interface()) {
				out = append(out, section)
			}
			continue
		}
		for j := range sa.NumField() {
			if !reflect.DeepEqual(sa.Field(j).Interface(), sb.Field(j).Interface()) {
				out = append(out, section+"."+tomlName(sa.Type().Field(j)))
			}
		}
	}
	return out
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// noteRestart raises the problem that names the settings changed since
// the start that wait for a restart, or clears it when there are none
// (a later reload put them back). Problems are not saved: a restart,
// which puts the settings in force, starts without it.
func (r *reloader) noteRestart(cfg *config.Config) {
	later := needRestart(r.running, cfg)
	if len(later) == 0 {
		r.d.ClearProblem(alert.AreaRestart)
		return
	}
	r.log.Warn("reload: these settings changed and take effect at the next restart (service iotgw restart)", "settings", later)
	r.d.SetProblem(alert.AreaRestart, strings.Join(later, ", ")+" (service iotgw restart)")
}
