package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/lock"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/pkg/steps"
	"github.com/notifyctl/notifyctl/plans"
)

// Exit codes of status.
const (
	ExitDrifted      = 3
	ExitNotInstalled = 4
)

// statusOutput is what status --json prints.
type statusOutput struct {
	Plan       string     `json:"plan"`
	Installed  bool       `json:"installed"`
	Since      *time.Time `json:"installed_since,omitempty"`
	Unit       string     `json:"unit,omitempty"`
	Active     string     `json:"active_state,omitempty"`
	Sub        string     `json:"sub_state,omitempty"`
	StatusText string     `json:"status_text,omitempty"`
	MainPID    uint32     `json:"main_pid,omitempty"`
	ActiveAt   *time.Time `json:"active_since,omitempty"`
	Restarts   uint32     `json:"restarts"`
	Drift      []drift    `json:"drift"`
	// Kept lists what an uninstall kept, when the plan is not installed.
	Kept []string `json:"kept,omitempty"`
}

type drift struct {
	Name   string `json:"name"`
	Action string `json:"action"` // what install would do to repair it
	Detail string `json:"detail,omitempty"`
}

// notDrift are step kinds whose preview is no drift: a check or a mail runs
// only because something else changed, data is the service's to create.
var notDrift = map[string]bool{"check": true, "mail": true, "data": true}

func statusCmd(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "status [PLAN]",
		Short: "Show an installed plan's live state and any drift from the plan",
		Long: `Show the service's live state as systemd reports it (ActiveState/SubState,
StatusText, main PID, since when, restarts), what the journal says was
installed, and drift: every file, directory mode or owner, unit, user or
package that no longer matches the plan (an edited app file is named), found
by the same checks install runs, so that what status reports is exactly what
install would repair.

Exit codes:
  0  installed and matching the plan
  1  failed to find out
  2  bad input or usage
  3  installed, but drifted from the plan
  4  not installed`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), o, planArg(args))
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print one JSON object on stdout")
	return c
}

func runStatus(ctx context.Context, o *options, arg string) error {
	if err := needRoot("status"); err != nil {
		return err
	}
	p, err := plan.Resolve(arg, plans.FS, plans.Default)
	if err != nil {
		return usage(err)
	}
	rep := newReporter(o)
	out := statusOutput{Plan: p.Name, Unit: p.Unit.Name, Drift: []drift{}}
	j, err := journal.OpenReadOnly(p.Name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return failed(err)
	}
	// Installed means the journal still holds the plan's unit: after an
	// uninstall that kept data or edited files, it holds only those.
	var kept []string
	var live []journal.Entry
	if j != nil {
		if len(journalProblems(j)) == 0 {
			live = j.Live()
		}
		for _, e := range j.Live() {
			if e.Step == "unit" {
				out.Installed = true
			}
			kept = append(kept, engine.DisplayName(e.Step, e.Key))
		}
		if es := j.Entries(); len(es) > 0 {
			t := es[0].Time.Local()
			out.Since = &t
		}
		j.Close()
	}
	if !out.Installed {
		if o.json {
			out.Kept = kept
			rep.json(out)
		} else {
			fmt.Fprintf(o.stdout, "%s is not installed\n", p.Name)
			if len(kept) > 0 {
				// Kept as the administrator's, or not undone yet by an
				// uninstall that was interrupted (it undoes the unit first).
				fmt.Fprintf(o.stdout, "  left after an uninstall: %s (notifyctl uninstall %s finishes one that was interrupted; --purge also removes what it kept)\n", strings.Join(kept, ", "), p.Name)
			}
		}
		return &ExitError{Code: ExitNotInstalled, Err: silent}
	}
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if st, err := conn.State(ctx, p.Unit.Name); err == nil {
		out.Active, out.Sub, out.StatusText, out.MainPID, out.Restarts = st.ActiveState, st.SubState, st.StatusText, st.MainPID, st.NRestarts
		if st.ActiveEnter > 0 && st.Active() {
			t := time.UnixMicro(int64(st.ActiveEnter))
			out.ActiveAt = &t
		}
	}
	if p.UsesSelf() {
		self, err := selfBinary()
		if err != nil {
			return failed(err)
		}
		p.SetSelf(self)
	}
	// Drift is what install would change: the same checks, in a preview.
	run := engine.NewRun(true)
	planned, _ := steps.ForPlan(newHost(conn), p, live)
	// A run under way owes no restart yet: it has not ended.
	if holder, busy := lock.Held(lock.Path); busy {
		rep.log.Warn("another notifyctl run is under way: the host may still change", "holder", holder)
		for _, s := range planned {
			if start, ok := s.(*steps.Start); ok {
				start.Due = false
			}
		}
	}
	for _, s := range planned {
		c, err := s.Check(ctx, run)
		if err != nil {
			out.Drift = append(out.Drift, drift{Name: engine.Name(s), Action: "blocked", Detail: err.Error()})
			continue
		}
		run.Note(s, c)
		// A restart, or a reload for a unit file or an enablement that
		// drifted, follows from drift named already. A restart an earlier
		// run owes is drift of its own (the service runs what the files no
		// longer hold), as is a reload for what systemd has not read.
		consequence := s.Kind() == "start" && c.Action == "restart" && steps.ChangesWhatItRuns(run) || s.Kind() == "reload" && run.Changed("unit", "enable")
		if c.Changed() && !notDrift[s.Kind()] && !consequence {
			out.Drift = append(out.Drift, drift{Name: engine.Name(s), Action: c.Action, Detail: c.Detail})
		}
	}
	if o.json {
		rep.json(out)
	} else {
		printStatus(o, out)
	}
	if len(out.Drift) > 0 {
		return &ExitError{Code: ExitDrifted, Err: silent}
	}
	return nil
}

func printStatus(o *options, s statusOutput) {
	w := o.stdout
	fmt.Fprintf(w, "%s: %s/%s", s.Unit, s.Active, s.Sub)
	if s.ActiveAt != nil {
		fmt.Fprintf(w, " since %s (%s)", s.ActiveAt.Format(time.DateTime), time.Since(*s.ActiveAt).Round(time.Second))
	}
	fmt.Fprintln(w)
	if s.StatusText != "" {
		fmt.Fprintf(w, "  status:    %s\n", s.StatusText)
	}
	if s.MainPID != 0 {
		fmt.Fprintf(w, "  main PID:  %d\n", s.MainPID)
	}
	fmt.Fprintf(w, "  restarts:  %d\n", s.Restarts)
	if s.Since != nil {
		fmt.Fprintf(w, "  installed: %s, journal %s\n", s.Since.Format(time.DateTime), journal.Dir(s.Plan))
	}
	if len(s.Drift) == 0 {
		fmt.Fprintf(w, "  drift:     none, the host matches the plan\n")
		return
	}
	fmt.Fprintf(w, "  drift:     %d item(s); `notifyctl install` would repair them:\n", len(s.Drift))
	for _, d := range s.Drift {
		fmt.Fprintf(w, "    %-10s %s", d.Action, d.Name)
		if d.Detail != "" {
			fmt.Fprintf(w, " (%s)", d.Detail)
		}
		fmt.Fprintln(w)
	}
}
