// Package systemd is notifyctl's view of the service manager: the few calls it
// needs, over one D-Bus connection opened once per run.
package systemd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/notifyctl/notifyctl/pkg/failpoint"
)

// Manager is what the steps need from systemd.
type Manager interface {
	// State reads a unit's current state.
	State(ctx context.Context, unit string) (State, error)
	// Peek reads only LoadState, ActiveState, SubState, NeedDaemonReload
	// and FragmentPath, the rest of State left empty: what a check needs,
	// for a fraction of reading every property of the unit and its service.
	Peek(ctx context.Context, unit string) (State, error)
	// Unlinked are the units of by that systemd does not hold, in memory,
	// as wanting or requiring unit (its WantedBy= and RequiredBy=), aliases
	// such as default.target resolved: what enabling a unit gives systemd
	// once it has reloaded. A unit of by that systemd has not loaded yet is
	// loaded, links included; one it has no unit file for is left out, since
	// it holds no links for it.
	Unlinked(ctx context.Context, unit string, by []string) ([]string, error)
	// UnitFileState is the unit file's enablement ("enabled", "disabled",
	// "static", ...), or "" when systemd knows no such unit file.
	UnitFileState(ctx context.Context, unit string) (string, error)
	// Enable enables a unit file; changed is false when it already was.
	Enable(ctx context.Context, unit string) (changed bool, err error)
	// Disable disables a unit file; changed is false when it already was.
	Disable(ctx context.Context, unit string) (changed bool, err error)
	// Reload is a daemon-reload.
	Reload(ctx context.Context) error
	// StartReload asks for a daemon-reload without waiting for it and
	// returns a function that does, with the reload's error. A caller waits
	// for it before any call that must see the reloaded units.
	StartReload(ctx context.Context) (wait func() error)
	// Start, Restart and Stop queue a job and wait for its result: one of
	// done, canceled, timeout, failed, dependency, skipped. Start and
	// Restart call queued, when not nil, once systemd has queued the job and
	// before its result: what the caller asks of systemd then runs while
	// the job does.
	Start(ctx context.Context, unit string, queued func()) (string, error)
	Restart(ctx context.Context, unit string, queued func()) (string, error)
	Stop(ctx context.Context, unit string) (string, error)
	// ResetFailed clears the failed state and the start rate-limit counter.
	ResetFailed(ctx context.Context, unit string) error
}

// State is a unit's state as systemd reports it.
type State struct {
	LoadState        string // loaded, not-found, bad-setting, error, masked
	ActiveState      string // active, reloading, inactive, failed, activating, deactivating
	SubState         string
	NeedDaemonReload bool
	InvocationID     string // hex, empty when the unit never ran
	FragmentPath     string
	// ActiveEnter is when the unit last became active (µs since the epoch).
	ActiveEnter uint64

	// Service properties.
	Type           string
	Result         string // success, exit-code, signal, core-dump, timeout, protocol, ...
	ExecMainCode   int32  // 1 exited, 2 killed, 3 dumped
	ExecMainStatus int32  // exit status or signal number
	MainPID        uint32
	StatusText     string
	NRestarts      uint32
}

// Active says whether the unit is up.
func (s State) Active() bool { return s.ActiveState == "active" || s.ActiveState == "reloading" }

// Loaded says whether systemd has a unit file for it.
func (s State) Loaded() bool { return s.LoadState == "loaded" }

// Conn is a Manager over D-Bus.
type Conn struct{ c *sd.Conn }

// Connect opens the connection: the system bus, or systemd's private socket
// when there is no bus.
func Connect(ctx context.Context) (*Conn, error) {
	c, err := sd.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w (is systemd PID 1 on this host?)", err)
	}
	return &Conn{c: c}, nil
}

// Close closes the connection.
func (c *Conn) Close() { c.c.Close() }

// State implements Manager.
func (c *Conn) State(ctx context.Context, unit string) (State, error) {
	var s State
	props, err := c.c.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return s, fmt.Errorf("read state of %s: %w", unit, err)
	}
	s.LoadState, _ = props["LoadState"].(string)
	s.ActiveState, _ = props["ActiveState"].(string)
	s.SubState, _ = props["SubState"].(string)
	s.NeedDaemonReload, _ = props["NeedDaemonReload"].(bool)
	s.FragmentPath, _ = props["FragmentPath"].(string)
	s.ActiveEnter, _ = props["ActiveEnterTimestamp"].(uint64)
	if id, ok := props["InvocationID"].([]byte); ok && len(id) > 0 {
		s.InvocationID = fmt.Sprintf("%x", id)
	}
	if !strings.HasSuffix(unit, ".service") || s.LoadState != "loaded" {
		return s, nil
	}
	svc, err := c.c.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return s, fmt.Errorf("read service state of %s: %w", unit, err)
	}
	s.Type, _ = svc["Type"].(string)
	s.Result, _ = svc["Result"].(string)
	s.ExecMainCode, _ = svc["ExecMainCode"].(int32)
	s.ExecMainStatus, _ = svc["ExecMainStatus"].(int32)
	s.MainPID, _ = svc["MainPID"].(uint32)
	s.StatusText, _ = svc["StatusText"].(string)
	s.NRestarts, _ = svc["NRestarts"].(uint32)
	return s, nil
}

// Peek implements Manager.
func (c *Conn) Peek(ctx context.Context, unit string) (State, error) {
	var s State
	for _, p := range []struct {
		name string
		set  func(v any)
	}{
		{"LoadState", func(v any) { s.LoadState, _ = v.(string) }},
		{"ActiveState", func(v any) { s.ActiveState, _ = v.(string) }},
		{"SubState", func(v any) { s.SubState, _ = v.(string) }},
		{"NeedDaemonReload", func(v any) { s.NeedDaemonReload, _ = v.(bool) }},
		{"FragmentPath", func(v any) { s.FragmentPath, _ = v.(string) }},
	} {
		prop, err := c.c.GetUnitPropertyContext(ctx, unit, p.name)
		if err != nil {
			return State{}, fmt.Errorf("read state of %s: %w", unit, err)
		}
		p.set(prop.Value.Value())
	}
	return s, nil
}

// Unlinked implements Manager.
func (c *Conn) Unlinked(ctx context.Context, unit string, by []string) ([]string, error) {
	held, err := c.dependents(ctx, unit)
	if err != nil {
		return nil, err
	}
	type name struct{ given, id string }
	var missing []name
	for _, b := range by {
		if slices.Contains(held, b) {
			continue
		}
		// The name systemd holds it by (default.target is graphical.target
		// or multi-user.target); asking loads it when it was not.
		var state, id string
		for _, p := range []struct {
			name string
			to   *string
		}{{"LoadState", &state}, {"Id", &id}} {
			prop, err := c.c.GetUnitPropertyContext(ctx, b, p.name)
			if err != nil {
				return nil, fmt.Errorf("read the name of %s: %w", b, err)
			}
			*p.to, _ = prop.Value.Value().(string)
		}
		if state != "loaded" {
			continue
		}
		if id == "" {
			id = b
		}
		missing = append(missing, name{b, id})
	}
	if len(missing) == 0 {
		return nil, nil
	}
	// Loading one may have given systemd its links to unit.
	if held, err = c.dependents(ctx, unit); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range missing {
		if !slices.Contains(held, m.id) {
			out = append(out, m.given)
		}
	}
	return out, nil
}

// dependents are the units systemd holds as wanting or requiring unit.
func (c *Conn) dependents(ctx context.Context, unit string) ([]string, error) {
	var out []string
	for _, name := range []string{"WantedBy", "RequiredBy"} {
		prop, err := c.c.GetUnitPropertyContext(ctx, unit, name)
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", name, unit, err)
		}
		units, _ := prop.Value.Value().([]string)
		out = append(out, units...)
	}
	return out, nil
}

// UnitFileState implements Manager.
func (c *Conn) UnitFileState(ctx context.Context, unit string) (string, error) {
	files, err := c.c.ListUnitFilesByPatternsContext(ctx, nil, []string{unit})
	if err != nil {
		return "", fmt.Errorf("read unit file state of %s: %w", unit, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, "/"+unit) {
			return f.Type, nil
		}
	}
	return "", nil
}

// Enable implements Manager.
func (c *Conn) Enable(ctx context.Context, unit string) (bool, error) {
	_, changes, err := c.c.EnableUnitFilesContext(ctx, []string{unit}, false, false)
	if err != nil {
		return false, fmt.Errorf("enable %s: %w", unit, err)
	}
	return len(changes) > 0, nil
}

// Disable implements Manager.
func (c *Conn) Disable(ctx context.Context, unit string) (bool, error) {
	changes, err := c.c.DisableUnitFilesContext(ctx, []string{unit}, false)
	if err != nil {
		return false, fmt.Errorf("disable %s: %w", unit, err)
	}
	return len(changes) > 0, nil
}

// Reload implements Manager.
func (c *Conn) Reload(ctx context.Context) error {
	if err := c.c.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// StartReload implements Manager.
func (c *Conn) StartReload(ctx context.Context) func() error {
	done := make(chan error, 1)
	go func() { done <- c.Reload(ctx) }()
	return func() error { return <-done }
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job queues a job, calls queued (when not nil), and waits for the job's
// result, or for ctx.
func job(ctx context.Context, verb string, f jobFunc, unit string, queued func()) (string, error) {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	failpoint.Inject("systemd.job-queued")
	if queued != nil {
		queued()
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return "", fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

// Start implements Manager.
func (c *Conn) Start(ctx context.Context, unit string, queued func()) (string, error) {
	return job(ctx, "start", c.c.StartUnitContext, unit, queued)
}

// Restart implements Manager.
func (c *Conn) Restart(ctx context.Context, unit string, queued func()) (string, error) {
	return job(ctx, "restart", c.c.RestartUnitContext, unit, queued)
}

// Stop implements Manager.
func (c *Conn) Stop(ctx context.Context, unit string) (string, error) {
	return job(ctx, "stop", c.c.StopUnitContext, unit, nil)
}

// ResetFailed implements Manager.
func (c *Conn) ResetFailed(ctx context.Context, unit string) error {
	err := c.c.ResetFailedUnitContext(ctx, unit)
	if err != nil && !strings.Contains(err.Error(), "not loaded") {
		return fmt.Errorf("reset-failed %s: %w", unit, err)
	}
	return nil
}
