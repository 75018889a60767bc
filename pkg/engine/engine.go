// Package engine runs a plan's steps in order, records each change in the
// plan's journal before and after it acts, and undoes changes from the journal:
// those of a failed run (rollback) or all of them (uninstall).
//
// Every step has one contract: Check reads the host and says what Apply would
// change, without changing anything; Apply makes that change; an undo function,
// chosen by the step's kind, reverts one journal entry using only what the entry
// recorded. The preview (dry-run) and install share Check, so a preview cannot
// disagree with what install does.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/notifyctl/notifyctl/pkg/failpoint"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// Change is what a step would do to the host; Action is empty when nothing.
type Change struct {
	Action string // a verb: create, update, start, restart, enable, ...; "" for no change
	Detail string // one line for people: what and why
	Diff   string // a unified diff, for files and units
	// Before is what exists now, recorded in the journal for undo.
	Before any
	// Backup, when set, is content the change replaces; it is kept beside the
	// journal before the intent is written.
	Backup []byte
}

// Changed says whether the change does something.
func (c Change) Changed() bool { return c.Action != "" }

// Step is one unit of work in a plan.
type Step interface {
	// Kind selects the undo function, such as "file" or "user".
	Kind() string
	// Key names the resource the step manages, such as a path.
	Key() string
	// Check says what Apply would change. It must not change the host.
	Check(ctx context.Context, r *Run) (Change, error)
	// Apply makes the change Check described.
	Apply(ctx context.Context, r *Run, c Change) error
}

// ResourceID names what a step of kind acts on at key, such as the file at
// a path: the journal entries of one resource share it, whichever run wrote
// them.
func ResourceID(kind, key string) string { return kind + "\x00" + key }

// Name is how a step is shown.
func Name(s Step) string { return DisplayName(s.Kind(), s.Key()) }

// nouns name what a step kind acts on, where the kind itself does not.
var nouns = map[string]string{"enable": "autostart", "reload": "systemd", "start": "service"}

// DisplayName is how the step of a kind acting on key is shown, such as
// "file /opt/app/app.py" or "service app.service".
func DisplayName(kind, key string) string {
	n, ok := nouns[kind]
	if !ok {
		n = kind
	}
	if key == "" {
		return n
	}
	return n + " " + key
}

// UndoFunc reverts one journal entry. before is the entry's Before, backup
// reads content the entry kept. It must cope with the change having happened
// fully, partly or not at all (a run may have died while acting), and be safe
// to run twice.
type UndoFunc func(ctx context.Context, u *Undo, e journal.Entry) error

// Reporter hears about every step as it is checked and done.
type Reporter interface {
	Step(name string, c Change, applied bool, err error)
	Undo(name string, err error)
	Note(format string, args ...any)
}

// Run is the state of one install (or preview) shared by its steps.
type Run struct {
	ID     string
	DryRun bool
	// changed holds the kinds that changed (or would) in this run.
	changed map[string]bool
	// created holds the keys this run creates (or would), so that later checks
	// in a preview can reason about things not yet there.
	created map[string]bool
	// removed holds the keys this run removes (or would).
	removed map[string]bool
}

// NewRun starts a run.
func NewRun(dryRun bool) *Run {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Run{ID: hex.EncodeToString(b), DryRun: dryRun, changed: map[string]bool{}, created: map[string]bool{}, removed: map[string]bool{}}
}

// Changed says whether a step of one of these kinds changed (or would) in this run.
func (r *Run) Changed(kinds ...string) bool {
	for _, k := range kinds {
		if r.changed[k] {
			return true
		}
	}
	return false
}

// Creates says whether this run creates (or would) the resource key.
func (r *Run) Creates(key string) bool { return r.created[key] }

// Removes says whether this run removes (or would) the resource key.
func (r *Run) Removes(key string) bool { return r.removed[key] }

// Will records that this run creates (or would) a resource other than the
// step's own key, such as the group a user step creates.
func (r *Run) Will(key string) { r.created[key] = true }

// Note records what a step checked, for the checks after it, as Install does
// (for callers that run checks themselves, such as a drift report).
func (r *Run) Note(s Step, c Change) { r.note(s, c) }

func (r *Run) note(s Step, c Change) {
	if c.Changed() {
		r.changed[s.Kind()] = true
		switch c.Action {
		case "create":
			r.created[s.Key()] = true
		case "remove":
			r.removed[s.Key()] = true
		}
	}
}

// Result is what a run did.
type Result struct {
	Steps   []StepResult
	Changed int
}

// StepResult is one step's outcome.
type StepResult struct {
	Name    string `json:"name"`
	Action  string `json:"action"`
	Changed bool   `json:"changed"`
	Detail  string `json:"detail,omitempty"`
	Diff    string `json:"diff,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Engine runs steps against a journal.
type Engine struct {
	Journal *journal.Journal // nil for a preview
	Undoers map[string]UndoFunc
	// Order, when set, gives the order in which a rollback or uninstall
	// undoes the entries it is handed latest first, as the journal has them
	// in reverse. It may only move an entry ahead of others whose undo does
	// not depend on it.
	Order  func([]journal.Entry) []journal.Entry
	Report Reporter
}

// StepError is a step that failed; the run was rolled back (unless kept).
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Refusal is a check that found the host in a state the plan cannot be
// applied to (a file where a directory must go, a masked unit), as opposed
// to one that failed to look: the first is bad input (exit 2), the second a
// failure (exit 1).
type Refusal struct{ Err error }

func (r *Refusal) Error() string { return r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse marks err as a refusal.
func Refuse(err error) error { return &Refusal{Err: err} }

// RollbackError is a rollback that could not undo everything.
type RollbackError struct{ Err error }

func (e *RollbackError) Error() string { return "rollback incomplete: " + e.Err.Error() }
func (e *RollbackError) Unwrap() error { return e.Err }

// Install checks each step and, unless r is a dry run, applies what changed.
// When a step fails, the changes of this run are undone in reverse unless keep
// is set; the returned error wraps a *StepError, joined with a
// *RollbackError when the rollback could not undo everything.
func (e *Engine) Install(ctx context.Context, r *Run, steps []Step, keep bool) (Result, error) {
	var res Result
	removed := map[string]bool{}
	for _, s := range steps {
		name := Name(s)
		c, err := s.Check(ctx, r)
		if err == nil && c.Changed() && !r.DryRun {
			err = e.apply(ctx, r, s, c)
		}
		if err != nil {
			e.Report.Step(name, c, false, err)
			res.Steps = append(res.Steps, StepResult{Name: name, Action: "failed", Error: err.Error()})
			failure := &StepError{Step: name, Err: err}
			if r.DryRun || keep {
				if keep && !r.DryRun {
					e.Report.Note("--keep: leaving this run's changes in place")
				}
				return res, failure
			}
			// An interrupt ends the run, not its rollback.
			rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			if rbErr := e.Rollback(rbCtx, r.ID); rbErr != nil {
				return res, errors.Join(failure, &RollbackError{Err: rbErr})
			}
			return res, failure
		}
		r.note(s, c)
		e.Report.Step(name, c, !r.DryRun && c.Changed(), nil)
		action := c.Action
		if action == "" {
			action = "none"
		}
		res.Steps = append(res.Steps, StepResult{Name: name, Action: action, Changed: c.Changed(), Detail: c.Detail, Diff: c.Diff})
		if c.Changed() {
			res.Changed++
		}
		if c.Action == "remove" {
			removed[ResourceID(s.Kind(), s.Key())] = true
		}
	}
	if r.DryRun || len(removed) == 0 {
		return res, nil
	}
	// What the run removed is no longer the plan's: once the run has
	// succeeded (a rollback would put it back), its entries are retired, so
	// that another plan may take the path and uninstall leaves it alone. A
	// run killed before this only leaves them live: uninstall then finds
	// nothing there to undo. Latest first: a resource's first live entry
	// must stay its first entry (what was there before install), or
	// uninstall would undo the removal instead, and put it back.
	live := e.Journal.Live()
	for i := len(live) - 1; i >= 0; i-- {
		if en := live[i]; removed[ResourceID(en.Step, en.Key)] {
			if err := e.Journal.Undone(en.Seq); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// Preflight checks every step as a preview would, without reporting, so that
// a host a plan cannot be applied to (a symlink in the way, a missing owner,
// a masked unit) is refused before anything is changed.
func Preflight(ctx context.Context, steps []Step) ([]Checked, error) {
	r := NewRun(true)
	var out []Checked
	for _, s := range steps {
		c, err := s.Check(ctx, r)
		if err != nil {
			return nil, &StepError{Step: Name(s), Err: err}
		}
		r.note(s, c)
		out = append(out, Checked{Step: s, Change: c})
	}
	return out, nil
}

// Checked is a step with what its check found.
type Checked struct {
	Step   Step
	Change Change
}

// Changes says whether any of the checked steps, of the given kinds (any
// kind when none is given), would change the host.
func Changes(checked []Checked, kinds ...string) bool {
	for _, c := range checked {
		if c.Change.Changed() && (len(kinds) == 0 || slices.Contains(kinds, c.Step.Kind())) {
			return true
		}
	}
	return false
}

// UpToDate reports steps a preflight found with nothing to do, as Install
// would have, without touching the journal: a rerun that changes nothing
// costs one round of checks.
func (e *Engine) UpToDate(checked []Checked) Result {
	var res Result
	for _, c := range checked {
		name := Name(c.Step)
		e.Report.Step(name, c.Change, false, nil)
		res.Steps = append(res.Steps, StepResult{Name: name, Action: "none", Detail: c.Change.Detail})
	}
	return res
}

// apply journals the intent, acts, and journals the outcome.
func (e *Engine) apply(ctx context.Context, r *Run, s Step, c Change) error {
	before := c.Before
	if c.Backup != nil {
		name, err := e.Journal.SaveBackup(c.Backup)
		if err != nil {
			return err
		}
		before = withBackup{Backup: name, State: c.Before}
	}
	seq, err := e.Journal.Intent(r.ID, s.Kind(), s.Key(), c.Action, before)
	if err != nil {
		return err
	}
	failpoint.Inject("engine.after-intent")
	if err := s.Apply(ctx, r, c); err != nil {
		if jerr := e.Journal.Failed(seq, err); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	failpoint.Inject("engine.after-apply")
	return e.Journal.Done(seq)
}

// withBackup wraps a step's Before with the name of the kept content.
type withBackup struct {
	Backup string `json:"backup"`
	State  any    `json:"state"`
}

// DecodeBefore reads an entry's Before into v and returns the backup name, if any.
func DecodeBefore(e journal.Entry, v any) (backup string, err error) {
	var wb struct {
		Backup string          `json:"backup"`
		State  json.RawMessage `json:"state"`
	}
	raw := []byte(e.Before)
	if json.Unmarshal(raw, &wb) == nil && wb.Backup != "" {
		backup, raw = wb.Backup, wb.State
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return "", fmt.Errorf("journal entry %d (%s %s): %w", e.Seq, e.Step, e.Key, err)
	}
	return backup, nil
}

// Undo is the state shared by the undo functions of one rollback or uninstall.
type Undo struct {
	Journal *journal.Journal
	// PurgePackages removes the packages install added, otherwise kept.
	PurgePackages bool
	// Purge removes what is otherwise kept as the administrator's: files
	// changed since notifyctl wrote them, the service's data.
	Purge bool
	// Skip holds journal entries (by Seq) not to undo, with why: entries that
	// failed validation, when uninstall is forced.
	Skip map[int]string
	// Left lists what was not undone because it was skipped.
	Left []string
	// later holds, per entry undone for a resource, the resource's later
	// entries, retired with it.
	later map[int][]int
	// Kept counts what uninstall kept as the administrator's and the
	// service's user may own (edited files, data, directories holding files
	// of others, as the undo functions count them; not root's unit files):
	// the user is kept too.
	Kept int
	// latest holds, per resource, the last live entry: what notifyctl last
	// did to it (an undo function compares the host with that).
	latest map[string]journal.Entry
	// NeedReload asks for one daemon-reload once every entry is undone.
	NeedReload bool
	// Restart lists units that were running before and must run again once
	// their files are restored.
	Restart []string
	Report  Reporter
	// DryRun asks the undo functions to say what they would do (Would) and
	// change nothing.
	DryRun bool
	// Preview collects what a dry run would do.
	Preview []StepResult
}

// Latest is the last live journal entry for the resource of e: what notifyctl
// last did to it, which may be later than e itself.
func (u *Undo) Latest(e journal.Entry) journal.Entry {
	if l, ok := u.latest[ResourceID(e.Step, e.Key)]; ok {
		return l
	}
	return e
}

// Would records, in a dry run, what undoing an entry would do. It returns
// u.DryRun so that an undo function can write `if u.Would(...) { return nil }`.
func (u *Undo) Would(name string, c Change) bool {
	if !u.DryRun {
		return false
	}
	if c.Changed() {
		u.Report.Step(name, c, false, nil)
		u.Preview = append(u.Preview, StepResult{Name: name, Action: c.Action, Changed: true, Detail: c.Detail, Diff: c.Diff})
	}
	return true
}

// Rollback undoes, in reverse, the changes made by run id.
func (e *Engine) Rollback(ctx context.Context, id string) error {
	var entries []journal.Entry
	for _, en := range e.Journal.Live() {
		if en.Run == id {
			entries = append(entries, en)
		}
	}
	e.Report.Note("rolling back %d change(s) of this run", len(entries))
	// What this run added is all undone, data and packages included: nothing
	// of a failed run is the administrator's yet.
	return e.undo(ctx, entries, &Undo{Journal: e.Journal, Report: e.Report, Purge: true, PurgePackages: true})
}

// Uninstall undoes every change the journal holds, in reverse. For a resource
// changed by several runs, the state before the first of them is restored.
func (e *Engine) Uninstall(ctx context.Context, u *Undo) error {
	live := e.Journal.Live()
	// A uninstall killed before its daemon-reload left systemd with units
	// whose files are gone: reload whenever the plan ever installed a unit.
	for _, en := range e.Journal.Entries() {
		if en.Step == "unit" {
			u.NeedReload = true
		}
	}
	// Each resource is undone once, from its first entry: the state before
	// the first run that changed it. Its later entries are retired with it,
	// as soon as it is undone, so that a uninstall that fails halfway can be
	// run again. Kinds whose entries are independent of each other (a user
	// step may create a different group each run) undo every entry.
	first := map[string]int{}
	u.later = map[int][]int{}
	var entries []journal.Entry
	skipped := map[string]bool{}
	for _, en := range live {
		id := ResourceID(en.Step, en.Key)
		if why, ok := u.Skip[en.Seq]; ok || skipped[id] {
			if !skipped[id] {
				e.Report.Note("left %s: journal entry %d refused: %s", DisplayName(en.Step, en.Key), en.Seq, why)
				u.Left = append(u.Left, DisplayName(en.Step, en.Key))
			}
			skipped[id] = true
			continue
		}
		if seq, ok := first[id]; ok && !everyEntry[en.Step] {
			u.later[seq] = append(u.later[seq], en.Seq)
			continue
		}
		first[id] = en.Seq
		entries = append(entries, en)
	}
	u.Journal, u.Report = e.Journal, e.Report
	return e.undo(ctx, entries, u)
}

// everyEntry are the step kinds whose every journal entry is undone, not
// only a resource's first: each may record something the others do not.
var everyEntry = map[string]bool{"user": true}

// undo reverts entries in reverse order (as e.Order arranges it), then
// finishes.
func (e *Engine) undo(ctx context.Context, entries []journal.Entry, u *Undo) error {
	if begin, ok := e.Undoers[BeginKind]; ok {
		// Its error is for the run that was undone, not for the undoing.
		_ = begin(ctx, u, journal.Entry{})
	}
	u.latest = map[string]journal.Entry{}
	for _, en := range e.Journal.Live() {
		u.latest[ResourceID(en.Step, en.Key)] = en
	}
	order := slices.Clone(entries)
	slices.Reverse(order)
	if e.Order != nil {
		order = e.Order(order)
	}
	var errs []error
	var finishing []journal.Entry
	// undone marks an entry and the later ones retired with it undone.
	undone := func(en journal.Entry) error {
		for _, seq := range u.later[en.Seq] {
			if err := e.Journal.Undone(seq); err != nil {
				return err
			}
		}
		if err := e.Journal.Undone(en.Seq); err != nil {
			return err
		}
		e.Report.Undo(DisplayName(en.Step, en.Key), nil)
		return nil
	}
	for _, en := range order {
		name := DisplayName(en.Step, en.Key)
		f, ok := e.Undoers[en.Step]
		if !ok {
			err := fmt.Errorf("journal entry %d: unknown step kind %q", en.Seq, en.Step)
			e.Report.Undo(name, err)
			errs = append(errs, err)
			continue
		}
		if err := f(ctx, u, en); errors.Is(err, ErrKept) {
			// Kept as the administrator's: the entry stays, so that a later
			// uninstall --purge can still remove it.
			continue
		} else if errors.Is(err, ErrFinishes) {
			finishing = append(finishing, en)
			continue
		} else if err != nil {
			e.Report.Undo(name, err)
			errs = append(errs, fmt.Errorf("undo %s: %w", name, err))
			continue
		}
		if u.DryRun {
			continue
		}
		failpoint.Inject("engine.after-undo")
		if err := undone(en); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	failpoint.Inject("engine.before-finish")
	if fin, ok := e.Undoers[FinishKind]; ok {
		if err := fin(ctx, u, journal.Entry{}); err != nil {
			// What finish was to complete stays live: a later run sees it.
			return errors.Join(append(errs, err)...)
		}
	}
	if !u.DryRun {
		for _, en := range finishing {
			if err := undone(en); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
	}
	return errors.Join(errs...)
}

// ErrFinishes is what an undo function returns when the finish function
// completes its undo, such as the restart of a service that ran before,
// once all its files are back: the entry is marked undone only once finish
// has succeeded, so that a run killed before then leaves it live (a later
// install then sees a restart that is due).
var ErrFinishes = errors.New("completed by finish")

// ErrKept is what an undo function returns when it keeps what the entry
// made as the administrator's (data, a file changed since install): the
// entry stays in the journal, for uninstall --purge.
var ErrKept = errors.New("kept")

// FinishKind is the key in Undoers of the function run after every undo.
const FinishKind = "finish"

// BeginKind is the key in Undoers of the function run before any undo, such
// as waiting for what the failed run left under way.
const BeginKind = "begin"
