package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/failpoint"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// Enable enables the unit at boot.
type Enable struct {
	H    *Host
	Unit string
}

type enableBefore struct {
	State string `json:"state"` // the unit file state before: "" when unknown to systemd
}

// Kind implements engine.Step.
func (s *Enable) Kind() string { return "enable" }

// Key implements engine.Step.
func (s *Enable) Key() string { return s.Unit }

// Check implements engine.Step.
func (s *Enable) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	state, err := s.H.Systemd.UnitFileState(ctx, s.Unit)
	if err != nil {
		return engine.Change{}, err
	}
	switch state {
	case "enabled", "enabled-runtime", "static", "alias", "generated":
		return engine.Change{}, nil
	case "masked", "masked-runtime":
		return engine.Change{}, engine.Refuse(fmt.Errorf("%s is masked: unmask it first if it should run", s.Unit))
	}
	return engine.Change{Action: "enable", Detail: "start at boot", Before: enableBefore{State: state}}, nil
}

// Apply implements engine.Step.
func (s *Enable) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	_, err := s.H.Systemd.Enable(ctx, s.Unit)
	return err
}

func undoEnable(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b enableBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err
		}
		if b.State == "enabled" {
			return nil
		}
		state, err := h.Systemd.UnitFileState(ctx, e.Key)
		if err != nil || state == "" || state == "disabled" {
			return err // no unit file left, or not enabled
		}
		if u.Would(engine.DisplayName(e.Step, e.Key), engine.Change{Action: "disable", Detail: "no longer start at boot"}) {
			return nil
		}
		_, err = h.Systemd.Disable(ctx, e.Key)
		return err
	}
}

// Reload makes systemd read the unit files again, when one changed or when
// systemd does not hold what they say. It comes right after the unit, its
// drop-in and enable, and does not wait. Where systemd has read the new unit
// already (a unit it did not know, read from disk when first asked for it),
// the start step asks for the reload once systemd has run the service's
// start job, and systemd reloads while the service gets ready. Otherwise the
// reload runs at once, while the user and the app's files are made. Either
// way what needs it waits for it (Host.Reloaded).
type Reload struct {
	H    *Host
	Unit string
	// Path is the unit file the plan writes.
	Path string
	// Links are the units an enable links the unit into ([Install]
	// WantedBy=, RequiredBy=); none when the plan does not enable it.
	Links []string
}

// reloadBefore is what a reload's journal entry records beyond its intent.
type reloadBefore struct {
	// WithStart: the reload was left to the start step (Host.oweReload).
	WithStart bool `json:"with_start,omitempty"`
}

// Kind implements engine.Step.
func (s *Reload) Kind() string { return "reload" }

// Key implements engine.Step.
func (s *Reload) Key() string { return "" }

// Check implements engine.Step.
func (s *Reload) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	var why string
	var st systemd.State
	peeked := false
	switch {
	case r.Changed("unit"):
		why = "a unit file changed"
	case r.Changed("enable"):
		// systemd's dependencies in memory follow the links on a reload.
		why = "the unit's enablement changed"
	default:
		var err error
		if st, err = s.H.Systemd.Peek(ctx, s.Unit); err != nil {
			return engine.Change{}, err
		}
		peeked = true
		if st.NeedDaemonReload || !st.Loaded() {
			why = "systemd has not read the unit file yet"
			break
		}
		// Links made and not read yet (a run killed between the enable
		// and the reload, an enable --no-reload): NeedDaemonReload does
		// not cover them before systemd 255.
		missing, err := s.unreadLink(ctx)
		if err != nil {
			return engine.Change{}, err
		}
		if missing == "" {
			return engine.Change{}, nil
		}
		why = "systemd has not read the unit's links yet: " + missing + " does not want it"
	}
	if r.DryRun {
		return engine.Change{Action: "daemon-reload", Detail: why, Before: reloadBefore{}}, nil
	}
	// The unit files are written by now. A unit systemd did not know, or
	// knew only as not found, it reads from disk when asked for it (systemd
	// 246 and later). If it has read it from the very file the plan wrote
	// and the service is to start, the service need not wait for the
	// reload. From systemd 255, which calls every unit NeedDaemonReload
	// after an enable, the reload runs at once as before.
	if !peeked {
		var err error
		if st, err = s.H.Systemd.Peek(ctx, s.Unit); err != nil {
			return engine.Change{}, err
		}
	}
	if st.Loaded() && !st.NeedDaemonReload && !st.Active() && st.FragmentPath == s.Path {
		return engine.Change{Action: "daemon-reload", Detail: why + "; systemd reloads as the service starts", Before: reloadBefore{WithStart: true}}, nil
	}
	return engine.Change{Action: "daemon-reload", Detail: why, Before: reloadBefore{}}, nil
}

// unreadLink is a unit the plan's unit is linked into on disk but that
// systemd does not hold as wanting or requiring it, "" when there is none.
func (s *Reload) unreadLink(ctx context.Context) (string, error) {
	if len(s.Links) == 0 {
		return "", nil
	}
	missing, err := s.H.Systemd.Unlinked(ctx, s.Unit, s.Links)
	if err != nil || len(missing) == 0 {
		return "", err
	}
	return missing[0], nil
}

// Apply implements engine.Step.
func (s *Reload) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	if b, ok := c.Before.(reloadBefore); ok && b.WithStart {
		s.H.oweReload(ctx)
		return nil
	}
	s.H.startReload(ctx)
	return nil
}

func undoReload(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		u.NeedReload = true
		return nil
	}
}

// Start starts the service, or restarts it when this run changed what it runs
// (or an earlier run did and ended before its restart), and waits until
// systemd reports it active, then until it answers.
type Start struct {
	H       *Host
	Unit    string
	Timeout time.Duration
	HTTP    string // probed once active, when set
	// Due is a restart an earlier run owes: see RestartDue.
	Due bool
}

type startBefore struct {
	Active bool `json:"active"`
}

// Kind implements engine.Step.
func (s *Start) Kind() string { return "start" }

// Key implements engine.Step.
func (s *Start) Key() string { return s.Unit }

// affecting are the step kinds whose changes the running service must pick up.
var affecting = []string{"user", "directory", "file", "unit", "packages"}

// ChangesWhatItRuns says whether run changed (or would change) what the
// service runs, so that the service restarts.
func ChangesWhatItRuns(r *engine.Run) bool { return r.Changed(affecting...) }

// RestartDue says whether an earlier run changed what the service runs and
// ended before the restart that goes with it: killed, or failed with --keep.
// A run that changes any of it ends with a start or restart entry, so a live
// change journaled after the last start or restart known to have completed
// means the running service may still be the one from before: its files on
// disk say otherwise, and a rerun that compared only the files would leave
// it so.
func RestartDue(live []journal.Entry) bool {
	due := false
	for _, e := range live {
		switch {
		case e.Step == "start":
			due = e.Outcome != journal.OpDone
		case slices.Contains(affecting, e.Step):
			due = true
		}
	}
	return due
}

// Check implements engine.Step.
func (s *Start) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	// What systemd says of the unit counts only once it has read it.
	if err := s.H.unitRead(); err != nil {
		return engine.Change{}, err
	}
	st, err := s.H.Systemd.Peek(ctx, s.Unit)
	if err != nil {
		return engine.Change{}, err
	}
	if !st.Active() {
		return engine.Change{Action: "start", Detail: "wait for ActiveState=active", Before: startBefore{}}, nil
	}
	if ChangesWhatItRuns(r) {
		return engine.Change{Action: "restart", Detail: "this run changed what it runs", Before: startBefore{Active: true}}, nil
	}
	if s.Due {
		return engine.Change{Action: "restart", Detail: "an earlier run changed what it runs and ended before restarting it", Before: startBefore{Active: true}}, nil
	}
	return engine.Change{}, nil
}

// Apply implements engine.Step.
func (s *Start) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := newPausable(s.Timeout, func() { cancel(errNotActive) })
	defer deadline.stop()
	// A unit left failed by an earlier attempt would count against the start
	// rate limit; this run starts afresh.
	if err := s.H.Systemd.ResetFailed(ctx, s.Unit); err != nil {
		return err
	}
	start := s.H.Systemd.Start
	if c.Action == "restart" {
		start = s.H.Systemd.Restart
	}
	failpoint.Inject("start.before-job")
	if s.H.Waiting != nil {
		defer s.watch(ctx)()
	}
	// A reload left to this step runs while the service gets ready: it is
	// asked for once systemd has run the job, so that the service starts
	// first, and waited for before anything reads the unit again. The
	// readiness timeout does not count it: a host with many units may take
	// seconds to reload.
	var reloadErr error
	queued := func() {
		if s.H.owed == nil {
			return
		}
		s.running(ctx)
		deadline.pause()
		s.H.askOwedReload()
		reloadErr = s.H.Reloaded()
		deadline.resume()
	}
	result, err := start(ctx, s.Unit, queued)
	failpoint.Inject("start.after-job")
	if err == nil {
		err = reloadErr
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errNotActive) {
			return s.failure(context.Background(), fmt.Sprintf("not active after %s", s.Timeout))
		}
		return err
	}
	st, err := s.H.Systemd.Peek(ctx, s.Unit)
	if err != nil {
		return err
	}
	if result != "done" || !st.Active() {
		return s.failure(ctx, fmt.Sprintf("start job %s", result))
	}
	if s.HTTP != "" {
		if err := s.waitHTTP(ctx); err != nil {
			return s.failure(context.Background(), fmt.Sprintf("active, but %s did not answer: %v", s.HTTP, err))
		}
	}
	return nil
}

// errNotActive ends a start that took longer than the plan's timeout.
var errNotActive = errors.New("not active in time")

// pausable is a timeout whose clock stops while something it should not
// count runs. It is used from one goroutine.
type pausable struct {
	t      *time.Timer
	left   time.Duration
	since  time.Time
	paused bool
}

func newPausable(d time.Duration, expire func()) *pausable {
	return &pausable{t: time.AfterFunc(d, expire), left: d, since: time.Now()}
}

// pause stops the clock, unless it has run out already.
func (p *pausable) pause() {
	if p.t.Stop() {
		p.left = max(p.left-time.Since(p.since), 0)
		p.paused = true
	}
}

// resume starts the clock again with what was left (none: it runs out now).
func (p *pausable) resume() {
	if p.paused {
		p.paused = false
		p.since = time.Now()
		p.t.Reset(p.left)
	}
}

func (p *pausable) stop() { p.t.Stop() }

// running waits, for 20 Peeks at most, until systemd has run the start job
// just queued: the unit has left inactive, its process is forked.
// systemd runs queued jobs only when it has nothing else to do, so that a
// daemon-reload asked for at once may come first (about one install in
// five, measured on systemd 252), and the service then starts only after
// it. A unit whose job waits for another unit stays inactive: the reload
// goes ahead after the last round.
func (s *Start) running(ctx context.Context) {
	for range 20 {
		st, err := s.H.Systemd.Peek(ctx, s.Unit)
		if err != nil || st.ActiveState != "inactive" {
			return
		}
	}
}

// watch tells H.Waiting how the start goes, every 250 ms, until the returned
// function is called (which waits for the last report).
func (s *Start) watch(ctx context.Context) (stop func()) {
	t0 := time.Now()
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				st, _ := s.H.Systemd.State(ctx, s.Unit)
				s.H.Waiting(engine.DisplayName("start", s.Unit), time.Since(t0), st.StatusText)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// waitHTTP probes the URL until it answers or ctx ends, quickly at first.
func (s *Start) waitHTTP(ctx context.Context) error {
	delay := 10 * time.Millisecond
	for {
		err := s.H.Probe(ctx, s.HTTP)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		if delay < 500*time.Millisecond {
			delay *= 2
		}
	}
}

// failure describes why the service is not up: systemd's view and its log.
func (s *Start) failure(ctx context.Context, why string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f := &systemd.Failure{Unit: s.Unit, Why: why}
	if st, err := s.H.Systemd.State(ctx, s.Unit); err == nil {
		f.State = st
		if s.H.Logs != nil && st.InvocationID != "" {
			f.Logs = s.H.Logs(ctx, st.InvocationID, 20)
		}
	}
	return f
}

func undoStart(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b startBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err
		}
		if b.Active {
			// It ran before this run: run it again once its files are back.
			// Until finish has, the entry stays live, and no longer as a
			// start that completed: the service may run what is being
			// undone, and a run killed before the restart owes one
			// (RestartDue).
			u.Restart = append(u.Restart, e.Key)
			if !u.DryRun {
				if err := u.Journal.Failed(e.Seq, errors.New("undone: to restart with the previous files")); err != nil {
					return err
				}
			}
			return engine.ErrFinishes
		}
		st, err := h.Systemd.Peek(ctx, e.Key)
		if err != nil {
			return err
		}
		if st.ActiveState == "inactive" {
			return nil
		}
		if u.Would(engine.DisplayName(e.Step, e.Key), engine.Change{Action: "stop", Detail: "ActiveState=" + st.ActiveState}) {
			return nil
		}
		if st.ActiveState != "inactive" && st.ActiveState != "failed" {
			if _, err := h.Systemd.Stop(ctx, e.Key); err != nil {
				return err
			}
		}
		return h.Systemd.ResetFailed(ctx, e.Key)
	}
}

// begin comes before any undo: a rollback may come while the run's own
// daemon-reload is under way, and no undo may call systemd before it ends.
// Its outcome no longer matters: finish reloads again, reading what is left.
// A reload the run still owed is not asked for: undoing the run's reload
// entry makes finish reload once the files are gone.
func begin(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, _ journal.Entry) error {
		h.owed = nil
		return h.Reloaded()
	}
}

// finish does what the undo functions asked for once all are done: one
// daemon-reload, then the restart of services that were running before.
func finish(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, _ journal.Entry) error {
		if u.DryRun {
			if u.NeedReload {
				u.Would("systemd", engine.Change{Action: "daemon-reload"})
			}
			for _, unit := range u.Restart {
				u.Would(engine.DisplayName("start", unit), engine.Change{Action: "restart", Detail: "with its previous files"})
			}
			return nil
		}
		// The reload reloadEarly started, then one more if an undo after it
		// changed a unit file.
		reloaded := h.reloading != nil
		if err := h.Reloaded(); err != nil {
			return err
		}
		if u.NeedReload {
			if err := h.Systemd.Reload(ctx); err != nil {
				return err
			}
			reloaded = true
		}
		if reloaded {
			u.Report.Note("systemd reloaded")
		}
		var errs []error
		for _, unit := range u.Restart {
			if err := h.Systemd.ResetFailed(ctx, unit); err != nil {
				errs = append(errs, err)
				continue
			}
			res, err := h.Systemd.Restart(ctx, unit, nil)
			if err == nil && res != "done" {
				err = fmt.Errorf("restart %s: job %s", unit, res)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			u.Report.Note("%s restarted with its previous files", unit)
		}
		return errors.Join(errs...)
	}
}

// Undoers maps each step kind to how its journal entries are undone.
func Undoers(h *Host) map[string]engine.UndoFunc {
	m := map[string]engine.UndoFunc{
		"packages":  undoPackages(h),
		"user":      undoUser(h),
		"directory": undoDirectory(h),
		"file":      undoFile(h),
		"unit":      undoFile(h),
		"enable":    undoEnable(h),
		"reload":    undoReload(h),
		"start":     undoStart(h),
		"mail":      undoNothing,
		"check":     undoNothing,
		"data":      undoData(h),
	}
	for kind, f := range m {
		m[kind] = reloadEarly(h, f)
	}
	m[engine.BeginKind] = begin(h)
	m[engine.FinishKind] = finish(h)
	return m
}
