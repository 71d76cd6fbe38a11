package main

import (
	"fmt"
	"log/slog"
	"reflect"
	"sync"

	"github.com/iotgw/iotgw/pkg/audit"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/daemon"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/netwatch"
)

// auditControl holds the active audit's scheduler for the daemon's
// lifetime, on or off, and applies the [audit] section to it at start
// and at each reload. One scheduler throughout: its memory of past
// audits and lockout holds must outlast the audit being switched off
// and on again.
type auditControl struct {
	sched *audit.Scheduler
	// newRunner builds the auditor of an enabled section.
	newRunner func(config.Audit) (audit.Runner, error)

	mu      sync.Mutex
	applied *config.Audit // nil before the first apply
}

// newAuditControl makes the scheduler, switched off, and the UPnP
// description fetcher, and hands both to the daemon; apply the section
// to switch the audit on. run runs the scheduler and the fetcher.
func newAuditControl(cfg *config.Config, d *daemon.Daemon, log *slog.Logger, newRunner func(config.Audit) (audit.Runner, error)) (*auditControl, *audit.UPnPFetcher, error) {
	sink := recordSink{d}
	sched, err := audit.NewScheduler(nil, sink, audit.SchedulerOptions{
		Current: d.AuditTarget, Logger: log,
		// Saved with the device: see Daemon.SaveAuditTime.
		Started: func(t audit.Target) { d.SaveAuditTime(t.MAC) },
		Done:    func(t audit.Target, _ audit.Report, _ error) { d.SaveAuditTime(t.MAC) }})
	if err != nil {
		return nil, nil, fmt.Errorf("audit scheduler: %w", err)
	}
	// Always made: the daemon offers it descriptions only while
	// audit.fetch_upnp is on, which a reload may change.
	upnp := audit.NewUPnPFetcher(nil, sink, audit.FetchOptions{OnLAN: netwatch.OnLAN(cfg.LAN.Interfaces), HolderOf: netwatch.HolderOf(cfg.LAN.Interfaces)}, log)
	d.SetAudit(upnp, sched)
	return &auditControl{sched: sched, newRunner: newRunner}, upnp, nil
}

// auditorFor builds the real auditor of a section. Nothing it sends
// leaves the LAN interfaces: not the router itself, not the WAN side.
// The LAN settings are the running ones: they need a restart.
func auditorFor(cfg *config.Config, log *slog.Logger) func(config.Audit) (audit.Runner, error) {
	var mu sync.Mutex
	var cl *creds.Classifier
	return func(a config.Audit) (audit.Runner, error) {
		mu.Lock()
		defer mu.Unlock()
		if cl == nil {
			var err error
			if cl, err = creds.New(); err != nil {
				return nil, fmt.Errorf("default-credential list: %w", err)
			}
		}
		ports := make([]uint16, len(a.Ports))
		for i, p := range a.Ports {
			ports[i] = uint16(p)
		}
		auditor, err := audit.New(audit.Options{
			MaxAttempts: a.MaxAttempts, AttemptDelay: a.AttemptDelay.Duration, PortDelay: a.PortDelay.Duration,
			ConnectTimeout: a.ConnectTimeout.Duration, ResponseTimeout: a.ResponseTimeout.Duration,
			Ports: ports, LAN: cfg.LAN.Prefixes, OnLAN: netwatch.OnLAN(cfg.LAN.Interfaces), HolderOf: netwatch.HolderOf(cfg.LAN.Interfaces),
			Candidates: cl, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		return auditor, nil
	}
}

// prepare builds the runner section a needs, before anything of a
// reload is applied: nil when the audit is off. changed is false when a
// leaves the scheduler as it is (fetch_upnp is the daemon's).
func (c *auditControl) prepare(a config.Audit) (runner audit.Runner, changed bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.FetchUPnP = false
	if c.applied != nil && equalAudit(*c.applied, a) {
		return nil, false, nil
	}
	if a.Enabled {
		if runner, err = c.newRunner(a); err != nil {
			return nil, false, err
		}
	}
	return runner, true, nil
}

// apply switches the scheduler to a prepared runner: a running audit is
// cancelled at once (see audit.Scheduler.Reconfigure).
func (c *auditControl) apply(a config.Audit, runner audit.Runner) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.FetchUPnP = false
	c.applied = &a
	c.sched.Reconfigure(runner, a.NewDevices, a.Interval.Duration)
}

// set prepares and applies a section.
func (c *auditControl) set(a config.Audit) error {
	runner, changed, err := c.prepare(a)
	if err != nil || !changed {
		return err
	}
	c.apply(a, runner)
	return nil
}

// equalAudit: a and b run the audit the same way; two sections that
// both switch it off are equal.
func equalAudit(a, b config.Audit) bool {
	return !a.Enabled && !b.Enabled || reflect.DeepEqual(a, b)
}

// recordSink files the audit's events through the daemon, from the
// audit's own goroutines.
type recordSink struct{ d *daemon.Daemon }

func (r recordSink) Emit(ev *event.Event) { r.d.Record(ev) }
