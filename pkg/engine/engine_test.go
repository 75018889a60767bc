package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// world is a tiny host: named values, and a log of what happened to them.
type world struct {
	t     *testing.T
	state map[string]string // key -> value; missing means absent
	log   []string
	j     *journal.Journal
}

func newWorld(t *testing.T, withJournal bool) *world {
	w := &world{t: t, state: map[string]string{}}
	if withJournal {
		dir, err := filepath.EvalSymlinks(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.OpenDir(filepath.Join(dir, "plan"), true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		w.j = j
	}
	return w
}

// valueBefore is what a set step records.
type valueBefore struct {
	Had   bool   `json:"had"`
	Value string `json:"value"`
}

// setStep sets one key of the world to a value.
type setStep struct {
	w        *world
	kind     string
	key      string
	want     string
	backup   bool // keep the replaced value as a backup
	checkErr error
	applyErr error
	partial  bool // on applyErr, the change happened anyway
}

func (s *setStep) Kind() string {
	if s.kind == "" {
		return "set"
	}
	return s.kind
}
func (s *setStep) Key() string { return s.key }

func (s *setStep) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	if s.checkErr != nil {
		return engine.Change{}, s.checkErr
	}
	cur, had := s.w.state[s.key]
	if had && cur == s.want {
		return engine.Change{}, nil
	}
	c := engine.Change{Action: "create", Detail: "to " + s.want, Before: valueBefore{Had: had, Value: cur}}
	if had {
		c.Action = "update"
		if s.backup {
			c.Backup = []byte(cur)
		}
	}
	return c, nil
}

func (s *setStep) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	w := s.w
	w.log = append(w.log, "apply "+s.key)
	// The journal names the change before it happens.
	live := w.j.Live()
	if len(live) == 0 {
		w.t.Errorf("apply %s: no intent in the journal", s.key)
	} else if last := live[len(live)-1]; last.Key != s.key || last.Outcome != "" || last.Run != r.ID || last.Action != c.Action {
		w.t.Errorf("apply %s: last journal entry is %+v, want the intent of this step", s.key, last)
	}
	if c.Backup != nil {
		if _, err := os.Lstat(filepath.Join(filepath.Dir(w.j.Path()), "backup")); err != nil {
			w.t.Errorf("apply %s: %v", s.key, err)
		}
	}
	if s.applyErr != nil {
		if s.partial {
			w.state[s.key] = s.want
		}
		return s.applyErr
	}
	w.state[s.key] = s.want
	return nil
}

func (w *world) undoers() map[string]engine.UndoFunc {
	undo := func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b valueBefore
		backup, err := engine.DecodeBefore(e, &b)
		if err != nil {
			return err
		}
		if backup != "" {
			content, err := u.Journal.Backup(backup)
			if err != nil {
				return err
			}
			if string(content) != b.Value {
				return fmt.Errorf("backup %q does not hold %q", content, b.Value)
			}
		}
		if u.Would(engine.DisplayName(e.Step, e.Key), engine.Change{Action: "restore", Detail: b.Value}) {
			return nil
		}
		w.log = append(w.log, fmt.Sprintf("undo %s (%s)", e.Key, e.Outcome))
		if b.Had {
			w.state[e.Key] = b.Value
		} else {
			delete(w.state, e.Key)
		}
		return nil
	}
	broken := func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		w.log = append(w.log, "undo "+e.Key+" fails")
		return errors.New("cannot undo")
	}
	return map[string]engine.UndoFunc{
		"set":    undo,
		"broken": broken,
		engine.FinishKind: func(ctx context.Context, u *engine.Undo, _ journal.Entry) error {
			w.log = append(w.log, fmt.Sprintf("finish dry=%v", u.DryRun))
			return nil
		},
	}
}

// reporter records what the engine reports.
type reporter struct{ lines []string }

func (r *reporter) Step(name string, c engine.Change, applied bool, err error) {
	r.lines = append(r.lines, fmt.Sprintf("step %s %q applied=%v err=%v", name, c.Action, applied, err != nil))
}
func (r *reporter) Undo(name string, err error) {
	r.lines = append(r.lines, fmt.Sprintf("undo %s err=%v", name, err != nil))
}
func (r *reporter) Note(format string, args ...any) {
	r.lines = append(r.lines, "note "+fmt.Sprintf(format, args...))
}

func (r *reporter) has(prefix string) bool {
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func (w *world) engine(rep *reporter) *engine.Engine {
	return &engine.Engine{Journal: w.j, Undoers: w.undoers(), Report: rep}
}

func actions(res engine.Result) []string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.Name+"="+s.Action)
	}
	return out
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func TestInstallJournalsIntentBeforeActingAndOutcomeAfter(t *testing.T) {
	w := newWorld(t, true)
	w.state["b"] = "same"
	w.state["c"] = "old"
	rep := &reporter{}
	e := w.engine(rep)
	r := engine.NewRun(false)
	steps := []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&setStep{w: w, key: "b", want: "same"},
		&setStep{w: w, key: "c", want: "new", backup: true},
	}
	res, err := e.Install(context.Background(), r, steps, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed != 2 {
		t.Errorf("Changed = %d, want 2", res.Changed)
	}
	equal(t, "actions", actions(res), []string{"set a=create", "set b=none", "set c=update"})
	equal(t, "log", w.log, []string{"apply a", "apply c"})
	equal(t, "state", w.state, map[string]string{"a": "1", "b": "same", "c": "new"})
	equal(t, "reports", rep.lines, []string{
		`step set a "create" applied=true err=false`,
		`step set b "" applied=false err=false`,
		`step set c "update" applied=true err=false`,
	})
	es := w.j.Entries()
	if len(es) != 2 {
		t.Fatalf("journal has %d entries, want 2 (unchanged steps are not journaled)", len(es))
	}
	for _, en := range es {
		if en.Outcome != journal.OpDone || en.Run != r.ID || en.Undone {
			t.Errorf("entry %+v: want done by run %s", en, r.ID)
		}
	}
	// The replaced value is kept and the entry names it.
	var b valueBefore
	backup, err := engine.DecodeBefore(es[1], &b)
	if err != nil {
		t.Fatal(err)
	}
	if backup == "" || !b.Had || b.Value != "old" {
		t.Errorf("DecodeBefore = %q, %+v", backup, b)
	}
	if got, err := w.j.Backup(backup); err != nil || string(got) != "old" {
		t.Errorf("backup holds %q, %v", got, err)
	}
	if backup, err := engine.DecodeBefore(es[0], &b); err != nil || backup != "" || b.Had {
		t.Errorf("DecodeBefore of an entry without backup = %q, %+v, %v", backup, b, err)
	}
	if !r.Changed("set") || r.Changed("other") {
		t.Errorf("Run.Changed: set=%v other=%v", r.Changed("set"), r.Changed("other"))
	}
	if !r.Creates("a") || r.Creates("c") || r.Creates("b") {
		t.Errorf("Run.Creates: a=%v b=%v c=%v", r.Creates("a"), r.Creates("b"), r.Creates("c"))
	}
}

func TestInstallFailureRollsBackThisRunOnlyInReverse(t *testing.T) {
	w := newWorld(t, true)
	rep := &reporter{}
	e := w.engine(rep)
	ctx := context.Background()

	// An earlier run made x.
	r1 := engine.NewRun(false)
	if _, err := e.Install(ctx, r1, []engine.Step{&setStep{w: w, key: "x", want: "1"}}, false); err != nil {
		t.Fatal(err)
	}
	w.state["b"] = "old"
	w.log = nil

	boom := errors.New("boom")
	r2 := engine.NewRun(false)
	res, err := e.Install(ctx, r2, []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&setStep{w: w, key: "b", want: "new", backup: true},
		&setStep{w: w, key: "c", want: "1", applyErr: boom, partial: true},
		&setStep{w: w, key: "d", want: "1"},
	}, false)
	var se *engine.StepError
	if !errors.As(err, &se) || se.Step != "set c" || !errors.Is(err, boom) {
		t.Fatalf("Install error = %v, want a StepError for set c wrapping boom", err)
	}
	if errors.As(err, new(*engine.RollbackError)) {
		t.Errorf("a complete rollback reported a RollbackError: %v", err)
	}
	equal(t, "actions", actions(res), []string{"set a=create", "set b=update", "set c=failed"})
	if res.Steps[2].Error != "boom" {
		t.Errorf("failed step error = %q", res.Steps[2].Error)
	}
	equal(t, "log", w.log, []string{
		"apply a", "apply b", "apply c",
		"undo c (failed)", "undo b (done)", "undo a (done)",
		"finish dry=false",
	})
	equal(t, "state", w.state, map[string]string{"x": "1", "b": "old"})
	if !rep.has("note rolling back 3 change(s)") {
		t.Errorf("no rollback note: %q", rep.lines)
	}
	live := w.j.Live()
	if len(live) != 1 || live[0].Key != "x" || live[0].Run != r1.ID {
		t.Errorf("live entries after rollback: %+v, want only x of the first run", live)
	}
	for _, en := range w.j.Entries() {
		if en.Key == "c" && en.Outcome != journal.OpFailed {
			t.Errorf("entry c outcome %q, want failed", en.Outcome)
		}
	}
}

func TestInstallFailureWithKeepLeavesChanges(t *testing.T) {
	w := newWorld(t, true)
	rep := &reporter{}
	r := engine.NewRun(false)
	_, err := w.engine(rep).Install(context.Background(), r, []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&setStep{w: w, key: "b", want: "1", checkErr: errors.New("bad")},
	}, true)
	if !errors.As(err, new(*engine.StepError)) {
		t.Fatalf("Install error = %v, want a StepError", err)
	}
	equal(t, "log", w.log, []string{"apply a"})
	equal(t, "state", w.state, map[string]string{"a": "1"})
	if len(w.j.Live()) != 1 {
		t.Errorf("live entries: %+v", w.j.Live())
	}
	if !rep.has("note --keep") {
		t.Errorf("no --keep note: %q", rep.lines)
	}
}

func TestDryRunChecksOnlyAndNeedsNoJournal(t *testing.T) {
	w := newWorld(t, false) // Journal nil: any write would panic
	w.state["b"] = "same"
	rep := &reporter{}
	r := engine.NewRun(true)
	res, err := w.engine(rep).Install(context.Background(), r, []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&setStep{w: w, key: "b", want: "same"},
		&setStep{w: w, key: "c", want: "1"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "actions", actions(res), []string{"set a=create", "set b=none", "set c=create"})
	if res.Changed != 2 {
		t.Errorf("Changed = %d, want 2", res.Changed)
	}
	if len(w.log) != 0 {
		t.Errorf("a dry run acted: %v", w.log)
	}
	equal(t, "state", w.state, map[string]string{"b": "same"})
	if !r.Creates("a") || !r.Creates("c") || !r.Changed("set") {
		t.Error("a dry run does not remember what it would create")
	}
	for _, l := range rep.lines {
		if strings.Contains(l, "applied=true") {
			t.Errorf("dry run reported a step as applied: %s", l)
		}
	}

	// A failing check in a dry run is reported without any rollback.
	_, err = w.engine(rep).Install(context.Background(), engine.NewRun(true), []engine.Step{
		&setStep{w: w, key: "a", want: "1", checkErr: errors.New("bad")},
	}, false)
	if !errors.As(err, new(*engine.StepError)) {
		t.Errorf("dry run with a failing check: %v", err)
	}
}

func TestRollbackThatCannotUndoEverything(t *testing.T) {
	w := newWorld(t, true)
	rep := &reporter{}
	_, err := w.engine(rep).Install(context.Background(), engine.NewRun(false), []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&setStep{w: w, kind: "broken", key: "b", want: "1"},
		&setStep{w: w, key: "c", want: "1", applyErr: errors.New("boom")},
	}, false)
	var se *engine.StepError
	var re *engine.RollbackError
	if !errors.As(err, &se) || !errors.As(err, &re) {
		t.Fatalf("Install error = %v, want a StepError and a RollbackError", err)
	}
	if !strings.Contains(re.Error(), "rollback incomplete") || !strings.Contains(re.Error(), "broken b") {
		t.Errorf("RollbackError = %q", re)
	}
	// The other entries are still undone; the one that failed stays live.
	equal(t, "log", w.log, []string{"apply a", "apply b", "apply c", "undo c (failed)", "undo b fails", "undo a (done)", "finish dry=false"})
	live := w.j.Live()
	if len(live) != 1 || live[0].Key != "b" {
		t.Errorf("live after an incomplete rollback: %+v, want b", live)
	}
	if !rep.has("undo broken b err=true") {
		t.Errorf("the failed undo was not reported: %q", rep.lines)
	}
}

func TestUninstallRestoresTheStateBeforeTheFirstRun(t *testing.T) {
	w := newWorld(t, true)
	w.state["a"] = "orig"
	rep := &reporter{}
	e := w.engine(rep)
	ctx := context.Background()
	if _, err := e.Install(ctx, engine.NewRun(false), []engine.Step{
		&setStep{w: w, key: "a", want: "v1", backup: true},
		&setStep{w: w, key: "b", want: "v1"},
	}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Install(ctx, engine.NewRun(false), []engine.Step{
		&setStep{w: w, key: "a", want: "v2", backup: true},
		&setStep{w: w, key: "b", want: "v2"},
		&setStep{w: w, key: "c", want: "v2"},
	}, false); err != nil {
		t.Fatal(err)
	}
	if n := len(w.j.Live()); n != 5 {
		t.Fatalf("%d live entries, want 5", n)
	}
	w.log = nil

	// A dry run says what would be undone and changes nothing.
	dry := &engine.Undo{DryRun: true}
	if err := e.Uninstall(ctx, dry); err != nil {
		t.Fatal(err)
	}
	var preview []string
	for _, p := range dry.Preview {
		preview = append(preview, p.Name+"="+p.Action+":"+p.Detail)
	}
	equal(t, "preview", preview, []string{"set c=restore:", "set b=restore:", "set a=restore:orig"})
	equal(t, "log after dry run", w.log, []string{"finish dry=true"})
	equal(t, "state after dry run", w.state, map[string]string{"a": "v2", "b": "v2", "c": "v2"})
	if n := len(w.j.Live()); n != 5 {
		t.Errorf("a dry run changed the journal: %d live entries", n)
	}
	w.log = nil

	if err := e.Uninstall(ctx, &engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	// One undo per resource, the first entry's, last made first.
	equal(t, "log", w.log, []string{"undo c (done)", "undo b (done)", "undo a (done)", "finish dry=false"})
	equal(t, "state", w.state, map[string]string{"a": "orig"})
	if live := w.j.Live(); len(live) != 0 {
		t.Errorf("live entries after uninstall: %+v", live)
	}
}

func TestUninstallUnknownKindIsAnErrorAndTheRestIsUndone(t *testing.T) {
	w := newWorld(t, true)
	if _, err := w.j.Intent("r0", "mystery", "m", "create", struct{}{}); err != nil {
		t.Fatal(err)
	}
	rep := &reporter{}
	e := w.engine(rep)
	if _, err := e.Install(context.Background(), engine.NewRun(false), []engine.Step{&setStep{w: w, key: "a", want: "1"}}, false); err != nil {
		t.Fatal(err)
	}
	err := e.Uninstall(context.Background(), &engine.Undo{})
	if err == nil || !strings.Contains(err.Error(), `unknown step kind "mystery"`) {
		t.Fatalf("Uninstall error = %v, want unknown step kind", err)
	}
	equal(t, "log", w.log, []string{"apply a", "undo a (done)", "finish dry=false"})
	live := w.j.Live()
	if len(live) != 1 || live[0].Step != "mystery" {
		t.Errorf("live entries: %+v, want only the unknown one", live)
	}
}

func TestUndoWouldOnlyInDryRun(t *testing.T) {
	rep := &reporter{}
	u := &engine.Undo{Report: rep}
	if u.Would("file /a", engine.Change{Action: "remove"}) {
		t.Error("Would returned true outside a dry run")
	}
	if len(u.Preview) != 0 || len(rep.lines) != 0 {
		t.Error("Would recorded something outside a dry run")
	}
	u.DryRun = true
	if !u.Would("file /a", engine.Change{Action: "remove", Detail: "d"}) {
		t.Error("Would returned false in a dry run")
	}
	if !u.Would("file /b", engine.Change{}) {
		t.Error("Would returned false in a dry run for no change")
	}
	equal(t, "preview", u.Preview, []engine.StepResult{{Name: "file /a", Action: "remove", Changed: true, Detail: "d"}})
	equal(t, "reports", rep.lines, []string{`step file /a "remove" applied=false err=false`})
}

func TestDisplayName(t *testing.T) {
	for _, c := range []struct{ kind, key, want string }{
		{"file", "/opt/a", "file /opt/a"},
		{"enable", "a.service", "autostart a.service"},
		{"reload", "", "systemd"},
		{"start", "a.service", "service a.service"},
		{"user", "demo", "user demo"},
	} {
		if got := engine.DisplayName(c.kind, c.key); got != c.want {
			t.Errorf("DisplayName(%q, %q) = %q, want %q", c.kind, c.key, got, c.want)
		}
	}
	if got := engine.Name(&setStep{kind: "start", key: "x.service"}); got != "service x.service" {
		t.Errorf("Name = %q", got)
	}
}

func TestNewRunIDsDiffer(t *testing.T) {
	a, b := engine.NewRun(false), engine.NewRun(true)
	if a.ID == "" || a.ID == b.ID || len(a.ID) != 16 {
		t.Errorf("run IDs %q and %q", a.ID, b.ID)
	}
	if a.DryRun || !b.DryRun {
		t.Error("NewRun does not keep DryRun")
	}
	a.Will("g")
	if !a.Creates("g") || b.Creates("g") {
		t.Error("Will is not per run")
	}
}

// needStep fails its check unless an earlier step of the run creates need.
type needStep struct {
	setStep
	need string
}

func (s *needStep) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	if _, ok := s.w.state[s.need]; !ok && !r.Creates(s.need) {
		return engine.Change{}, fmt.Errorf("%s is missing", s.need)
	}
	return s.setStep.Check(ctx, r)
}

func TestPreflight(t *testing.T) {
	w := newWorld(t, false)
	ctx := context.Background()
	ok := []engine.Step{
		&setStep{w: w, key: "dir", want: "1"},
		&needStep{setStep: setStep{w: w, key: "file", want: "1"}, need: "dir"},
	}
	checked, err := engine.Preflight(ctx, ok)
	if err != nil {
		t.Errorf("Preflight: %v; a step may count on what an earlier one creates", err)
	}
	if len(checked) != 2 || !engine.Changes(checked) || engine.Changes(checked, "other-kind") {
		t.Errorf("Preflight found %+v", checked)
	}
	bad := errors.New("in the way")
	_, err = engine.Preflight(ctx, []engine.Step{
		&setStep{w: w, key: "a", want: "1"},
		&needStep{setStep: setStep{w: w, key: "file", want: "1"}, need: "nodir"},
		&setStep{w: w, key: "c", want: "1", checkErr: bad},
	})
	var se *engine.StepError
	if !errors.As(err, &se) || se.Step != "set file" || !strings.Contains(err.Error(), "nodir is missing") {
		t.Errorf("Preflight = %v, want a StepError for set file", err)
	}
	_, err = engine.Preflight(ctx, []engine.Step{&setStep{w: w, key: "a", want: "1"}, &setStep{w: w, key: "c", want: "1", checkErr: bad}})
	if !errors.As(err, &se) || se.Step != "set c" || !errors.Is(err, bad) {
		t.Errorf("Preflight = %v, want a StepError for set c", err)
	}
	if len(w.log) != 0 || len(w.state) != 0 {
		t.Errorf("Preflight acted: %v %v", w.log, w.state)
	}
}
