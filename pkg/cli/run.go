package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/harden"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/lint"
	"github.com/notifyctl/notifyctl/pkg/lock"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/pkg/steps"
	"github.com/notifyctl/notifyctl/pkg/system"
	"github.com/notifyctl/notifyctl/pkg/systemd"
	"github.com/notifyctl/notifyctl/plans"
	"golang.org/x/sys/unix"
)

// output is the JSON object --json prints.
type output struct {
	Plan     string              `json:"plan"`
	OK       bool                `json:"ok"`
	DryRun   bool                `json:"dry_run,omitempty"`
	Changed  int                 `json:"changed"`
	Steps    []engine.StepResult `json:"steps"`
	Warnings []string            `json:"warnings,omitempty"`
	Exposure *float64            `json:"exposure,omitempty"`
	Error    string              `json:"error,omitempty"`
}

func needRoot(what string) error {
	if os.Geteuid() != 0 {
		return usage(fmt.Errorf("%s must run as root (try sudo)", what))
	}
	return nil
}

// connect opens the one D-Bus connection a command uses. An interrupt that
// cancels ctx must not close it: a rollback still needs it.
func connect(ctx context.Context) (*systemd.Conn, error) {
	conn, err := systemd.Connect(context.WithoutCancel(ctx))
	if err != nil {
		return nil, failed(err)
	}
	return conn, nil
}

func newHost(m systemd.Manager) *steps.Host {
	return &steps.Host{
		Root:     "/",
		Systemd:  m,
		Accounts: system.Accounts{},
		Packages: system.Apt{},
		Logs:     systemd.Logs,
		Probe:    probeHTTP,
		Mailer:   system.Mailer{},
		Exec:     system.Accounts{}.Exec,
	}
}

// probeHTTP asks url once; any 2xx answer means the service answers.
func probeHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func runInstall(ctx context.Context, o *options, arg string) error {
	if !o.dryRun {
		if err := needRoot("install"); err != nil {
			return err
		}
	}
	p, err := plan.Resolve(arg, plans.FS, plans.Default)
	if err != nil {
		return usage(err)
	}
	if o.timeout < 0 {
		return usage(errors.New("--timeout must be positive"))
	}
	if o.timeout > 0 {
		p.Readiness.Timeout = plan.Duration(o.timeout)
	}
	if p.UsesSelf() {
		self, err := selfBinary()
		if err != nil {
			return failed(err)
		}
		p.SetSelf(self)
	}
	rep := newReporter(o)
	verb := "install"
	if o.dryRun {
		verb = "plan"
	}
	rep.log.Info(fmt.Sprintf("%s %s", verb, p.Name), "from", p.Origin)
	warnings := lint.Readiness(p)
	for _, w := range warnings {
		rep.log.Warn(w)
	}
	// systemd's checks of the unit (verify, exposure) take a few tens of
	// milliseconds: when the unit or its drop-in will be written, and in a
	// preview, they start now and are awaited before the first change.
	type unitResult struct {
		exposure *float64
		err      error
	}
	var unitChecked chan unitResult
	if o.dryRun || !unitInstalled(p) {
		unitChecked = make(chan unitResult, 1)
		go func() {
			e, err := checkUnit(ctx, rep, p)
			unitChecked <- unitResult{e, err}
		}()
	}
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// What is installed is read under the lock, so that no other run
	// changes it between the reading and the acting.
	if !o.dryRun {
		l, err := acquire(ctx, o, rep, "install "+p.Name)
		if err != nil {
			return err
		}
		defer l.Release()
	}
	h := newHost(conn)
	h.Waiting = rep.Waiting
	eng := steps.NewEngine(h, nil, rep)
	live, err := installedEntries(p.Name, o.dryRun, rep)
	if err != nil {
		return failed(err)
	}
	planned, left := steps.ForPlan(h, p, live)
	for _, name := range left {
		rep.log.Warn(fmt.Sprintf("%s is no longer in the plan: uninstall undoes it", name))
	}
	// refuse ends a run that changed nothing because of its input or the host.
	refuse := func(err error) error {
		if o.json {
			rep.json(output{Plan: p.Name, Steps: []engine.StepResult{}, Warnings: warnings, Error: err.Error()})
		}
		return usage(err)
	}
	if err := notOthers(p.Name, planned); err != nil {
		return refuse(fmt.Errorf("%s: %w; nothing was changed", p.Source, err))
	}
	var checked []engine.Checked
	if !o.dryRun {
		checked, err = engine.Preflight(ctx, planned)
		if err != nil {
			err = fmt.Errorf("%s: %w; nothing was changed", p.Source, err)
			var r *engine.Refusal
			if !errors.As(err, &r) && !errors.Is(err, fsutil.ErrSymlink) {
				// Not the host in the way: a failure to look (D-Bus, I/O).
				if o.json {
					rep.json(output{Plan: p.Name, Steps: []engine.StepResult{}, Warnings: warnings, Error: err.Error()})
				}
				return failed(err)
			}
			return refuse(err)
		}
	}
	steps.HashAhead(checked)
	// systemd's checks of the unit: always in a preview, and before an
	// install that writes the unit or its drop-in.
	var exposure *float64
	if unitChecked == nil && engine.Changes(checked, "unit") {
		// The unit changed between the quick look and the checks.
		unitChecked = make(chan unitResult, 1)
		e, err := checkUnit(ctx, rep, p)
		unitChecked <- unitResult{e, err}
	}
	if unitChecked != nil {
		r := <-unitChecked
		if exposure, err = r.exposure, r.err; err != nil {
			return refuse(err)
		}
	}
	if !o.dryRun && !engine.Changes(checked) {
		res := eng.UpToDate(checked)
		rep.log.Info(fmt.Sprintf("%s is up to date: 0 changed, nothing restarted", p.Name))
		if o.json {
			rep.json(output{Plan: p.Name, OK: true, Steps: res.Steps, Warnings: warnings})
		}
		return nil
	}
	if !o.dryRun {
		j, err := journal.Open(p.Name, true)
		if err != nil {
			return failed(err)
		}
		defer j.Close()
		eng.Journal = j
	}
	run := engine.NewRun(o.dryRun)
	res, err := eng.Install(ctx, run, planned, o.keep)
	// A run that failed between the reload and the start (with --keep)
	// leaves it under way: it ends before notifyctl does.
	if rerr := h.Reloaded(); rerr != nil {
		rep.log.Warn("systemd did not reload", "err", rerr)
	}
	out := output{Plan: p.Name, OK: err == nil, DryRun: o.dryRun, Changed: res.Changed, Steps: res.Steps, Warnings: warnings, Exposure: exposure}
	if err != nil {
		out.Error = err.Error()
		rep.failure(err)
		// A step's error may carry a command's own output (a config check):
		// its first line was shown with the step, the rest follows.
		var f *systemd.Failure
		var se *engine.StepError
		if errors.As(err, &se) && !errors.As(err, &f) {
			if lines := strings.Split(se.Err.Error(), "\n"); len(lines) > 1 {
				for _, l := range lines[1:] {
					fmt.Fprintln(o.stderr, "    "+l)
				}
			}
		}
		if eng.Journal != nil && len(eng.Journal.Live()) == 0 {
			// Nothing of this plan is left on the host: neither is its journal.
			if rerr := eng.Journal.Remove(); rerr != nil {
				rep.log.Warn("could not remove the empty journal", "err", rerr)
			}
		}
		if o.json {
			rep.json(out)
		}
		var r *engine.Refusal
		if o.dryRun && (errors.As(err, &r) || errors.Is(err, fsutil.ErrSymlink)) {
			// The host is in a state the plan cannot be applied to.
			return usage(silentErr(err))
		}
		return failed(silentErr(err))
	}
	switch {
	case o.dryRun && res.Changed == 0:
		rep.log.Info(fmt.Sprintf("%s is installed and up to date: nothing would change", p.Name))
	case o.dryRun:
		rep.log.Info(fmt.Sprintf("%d of %d steps would change the host; nothing was changed", res.Changed, len(res.Steps)))
	case res.Changed == 0:
		rep.log.Info(fmt.Sprintf("%s is up to date: 0 changed, nothing restarted", p.Name))
	default:
		rep.log.Info(fmt.Sprintf("%s installed and ready: %d changed", p.Name, res.Changed), "journal", eng.Journal.Path())
	}
	if o.json {
		rep.json(out)
	}
	return nil
}

// planName is the plan an uninstall argument names: a bare name is taken as
// it is (the plan file may be gone), a path is read for its name.
func planName(arg string) (string, error) {
	if arg == "" {
		return plans.Default, nil
	}
	if !strings.ContainsAny(arg, "/.") {
		// An installed plan's name wins over a directory of that name here:
		// uninstall works from anywhere, also from the app's parent directory.
		if installed, _ := journal.Exists(arg); installed {
			return arg, nil
		}
		if _, err := os.Stat(arg); err != nil {
			return arg, nil
		}
	}
	p, err := plan.Resolve(arg, plans.FS, plans.Default)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

func runUninstall(ctx context.Context, o *options, arg string) error {
	if err := needRoot("uninstall"); err != nil {
		return err
	}
	name, err := planName(arg)
	if err != nil {
		return usage(err)
	}
	rep := newReporter(o)
	out := output{Plan: name, DryRun: o.dryRun, Steps: []engine.StepResult{}}
	if !o.dryRun {
		l, err := acquire(ctx, o, rep, "uninstall "+name)
		if err != nil {
			return err
		}
		defer l.Release()
	}
	ok, err := journal.Exists(name)
	if err != nil {
		return failed(err)
	}
	if !ok {
		if !o.dryRun {
			if err := journal.RemoveEmptyRoot(); err != nil {
				return failed(err)
			}
		}
		rep.log.Info(fmt.Sprintf("%s is not installed: nothing to do", name))
		out.OK = true
		if o.json {
			rep.json(out)
		}
		return nil
	}
	open := func() (*journal.Journal, error) { return journal.Open(name, true) }
	if o.dryRun {
		open = func() (*journal.Journal, error) { return journal.OpenReadOnly(name) }
	}
	j, err := open()
	if err != nil {
		return failed(err)
	}
	defer j.Close()
	conn, err := connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	h := newHost(conn)
	eng := steps.NewEngine(h, j, rep)
	verb := "uninstall"
	if o.dryRun {
		verb = "uninstall --dry-run"
	}
	rep.log.Info(fmt.Sprintf("%s %s", verb, name), "journal", j.Path())
	u := &engine.Undo{PurgePackages: o.purgePackages, Purge: o.purge, DryRun: o.dryRun}
	if problems := journalProblems(j); len(problems) > 0 {
		if !o.force {
			return usage(fmt.Errorf("%s fails validation, nothing was changed (--force undoes what is safe and lists the rest): %s",
				j.Path(), strings.Join(problems, "; ")))
		}
		rep.log.Warn(fmt.Sprintf("%s fails validation; --force: undoing only what is safe", j.Path()), "problems", strings.Join(problems, "; "))
		u.Skip = steps.Validate(j.Live())
		// Nothing recorded from the first line changed by hand on is trusted.
		if trusted := j.TrustedSeq(); trusted >= 0 {
			for _, e := range j.Live() {
				if _, ok := u.Skip[e.Seq]; !ok && e.Seq > trusted {
					u.Skip[e.Seq] = "recorded after the journal was changed by hand"
				}
			}
		}
	}
	err = eng.Uninstall(ctx, u)
	// An uninstall that stopped early (the journal could not be written)
	// may leave the reload it started under way: it ends before notifyctl.
	if rerr := h.Reloaded(); rerr != nil {
		rep.log.Warn("systemd did not reload", "err", rerr)
	}
	out.Steps = append(out.Steps, rep.undone...)
	if o.dryRun {
		out.Steps = u.Preview
	}
	out.Changed = len(out.Steps)
	if err == nil && !o.dryRun {
		switch {
		case len(u.Left) > 0:
			// What was left stays recorded.
			rep.log.Warn(fmt.Sprintf("kept the journal %s: it records what was left", j.Path()))
		case len(j.Live()) > 0:
			rep.log.Info(fmt.Sprintf("kept %d item(s) as the administrator's; `notifyctl uninstall --purge %s` removes them", len(j.Live()), name))
		default:
			err = j.Remove()
		}
	}
	out.OK = err == nil
	if err != nil {
		out.Error = err.Error()
		if o.json {
			rep.json(out)
		}
		return failed(fmt.Errorf("uninstall %s incomplete: %w; run it again once the cause is fixed", name, err))
	}
	switch {
	case o.dryRun && len(u.Preview) == 0:
		rep.log.Info("nothing would change")
	case o.dryRun:
		rep.log.Info(fmt.Sprintf("%d change(s) would be undone; nothing was changed", len(u.Preview)))
	default:
		rep.log.Info(fmt.Sprintf("%s uninstalled: %d change(s) undone", name, len(rep.undone)))
	}
	if o.json {
		rep.json(out)
	}
	return nil
}

// installedEntries are the live entries of the plan's journal, from which
// install removes what an earlier install made and the plan no longer has;
// none when the plan is not installed (a run killed before it wrote its
// journal may have left the directory alone), or when its journal fails
// validation (then nothing is removed on its word: uninstall says why). A
// preview that may not read the journals (not root) shows no removals.
func installedEntries(name string, dryRun bool, rep *reporter) ([]journal.Entry, error) {
	j, err := journal.OpenReadOnly(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil && dryRun:
		rep.log.Warn("the journal cannot be read: what the plan no longer has is not shown", "err", err)
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer j.Close()
	if problems := journalProblems(j); len(problems) > 0 {
		rep.log.Warn(fmt.Sprintf("%s fails validation: what the plan no longer has is left in place", j.Path()), "problems", strings.Join(problems, "; "))
		return nil, nil
	}
	return j.Live(), nil
}

// checkUnit runs systemd's own checks on the unit and its hardening drop-in
// before anything is changed: verify, then the exposure score, which must
// not exceed the plan's maximum. The score is nil when it cannot be had.
func checkUnit(ctx context.Context, rep *reporter, p *plan.Plan) (*float64, error) {
	// Two runs of systemd-analyze, side by side.
	verified := make(chan error, 1)
	go func() { verified <- harden.Verify(ctx, p.Unit.Name, p.UnitContent, p.DropIn) }()
	score, worst, err := harden.Exposure(ctx, p.Unit.Name, p.UnitContent, p.DropIn)
	if verr := <-verified; verr != nil {
		return nil, fmt.Errorf("%s: unit %s does not verify, nothing was changed: %w", p.Source, p.Unit.Name, verr)
	}
	if err != nil {
		if p.Hardening.MaxExposure != nil {
			return nil, fmt.Errorf("%s: hardening.max_exposure is set but the exposure cannot be measured: %w", p.Source, err)
		}
		rep.log.Warn("exposure not measured", "err", err)
		return nil, nil
	}
	profile := p.Hardening.Profile
	if profile == "" {
		profile = harden.DefaultProfile
	}
	rep.log.Info(fmt.Sprintf("exposure %.1f (systemd-analyze security)", score), "profile", profile)
	if m := p.Hardening.MaxExposure; m != nil && score > *m {
		if len(worst) > 5 {
			worst = worst[:5]
		}
		return &score, fmt.Errorf("%s: unit %s has an exposure of %.1f, above hardening.max_exposure %.1f, nothing was changed; worst: %s",
			p.Source, p.Unit.Name, score, *m, strings.Join(worst, "; "))
	}
	return &score, nil
}

// owning are the step kinds whose key is a path on the host.
var owning = map[string]bool{"file": true, "directory": true, "unit": true, "data": true, "enable": true}

// notOthers refuses a plan that would take over what another installed plan
// owns: a path (or unit) that the other's journal records as its own.
func notOthers(name string, planned []engine.Step) error {
	mine := map[string]string{}
	for _, s := range planned {
		if owning[s.Kind()] {
			mine[s.Key()] = engine.Name(s)
		}
	}
	others, err := os.ReadDir(journal.Root)
	if err != nil {
		return nil // no journal at all: nothing is owned
	}
	for _, d := range others {
		if !d.IsDir() || d.Name() == name {
			continue
		}
		j, err := journal.OpenReadOnly(d.Name())
		if err != nil {
			continue
		}
		live := j.Live()
		j.Close()
		for _, e := range live {
			if step, ok := mine[e.Key]; ok && owning[e.Step] {
				return fmt.Errorf("%s belongs to the installed plan %s", step, d.Name())
			}
		}
	}
	return nil
}

// unitInstalled says whether the unit file and its drop-in on disk are the
// plan's already (then systemd's checks of them ran when they were written).
func unitInstalled(p *plan.Plan) bool {
	if same, err := fsutil.Equal(p.Unit.Path(), p.UnitContent); err != nil || !same {
		return false
	}
	if len(p.DropIn) == 0 {
		// Unless a drop-in from before is still there: removing it changes
		// the unit systemd runs, which must pass the checks again.
		info, err := fsutil.Stat(p.DropInPath())
		return err == nil && !info.Exists
	}
	same, err := fsutil.Equal(p.DropInPath(), p.DropIn)
	return err == nil && same
}

// journalProblems lists why a journal cannot be trusted as it is: records
// changed by hand, entries naming what no plan may own.
func journalProblems(j *journal.Journal) []string {
	var out []string
	if n := j.Broken(); n > 0 {
		out = append(out, fmt.Sprintf("line %d was changed by hand", n))
	}
	bad := steps.Validate(j.Live())
	for _, e := range j.Live() {
		if why, ok := bad[e.Seq]; ok {
			out = append(out, fmt.Sprintf("entry %d (%s): %s", e.Seq, engine.DisplayName(e.Step, e.Key), why))
		}
	}
	return out
}

// acquire takes the host-wide lock, saying for whom it waits.
func acquire(ctx context.Context, o *options, rep *reporter, what string) (*lock.Lock, error) {
	l, err := lock.Acquire(ctx, lock.Path, what, o.lockTimeout, func(holder string) {
		rep.log.Warn("waiting for another notifyctl run to finish", "holder", holder)
	})
	if err != nil {
		return nil, failed(err)
	}
	return l, nil
}

// silentErr marks an error the reporter has already shown in full.
func silentErr(err error) error { return fmt.Errorf("%w%w", silent, err) }

// selfBinary is the content of the running notifyctl, which a plan may
// install as its service's readiness wrapper. It is mapped rather than read:
// the 11 MB are then not copied, nor the pages for them faulted in, unless
// they are written (a rerun only compares them). The kernel refuses writes
// to the file of a running program (ETXTBSY), and an upgrade replaces it by
// a rename: the mapping cannot change under notifyctl.
func selfBinary() ([]byte, error) {
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open the notifyctl binary: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read the notifyctl binary: %w", err)
	}
	if fi.Size() > 0 && fi.Size() < 1<<30 {
		if b, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_PRIVATE); err == nil {
			return b, nil
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read the notifyctl binary: %w", err)
	}
	return b, nil
}
