package steps_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/pkg/steps"
	"github.com/notifyctl/notifyctl/pkg/systemd"
	"github.com/notifyctl/notifyctl/plans"
)

// The test plan: a user whose group may exist already, two directories, two
// app files and a config file in a directory the plan does not own, a unit
// and an HTTP readiness check.
const testPlan = `name: demo
description: test plan
packages: [python3, curl]
user:
  name: demo
  home: /opt/demo
directories:
  - path: /opt/demo
    mode: "0750"
    owner: demo
  - path: /opt/demo/data
    mode: "0700"
    owner: demo
files:
  - source: app.py
    dest: /opt/demo/app.py
    mode: "0640"
    owner: demo
  - source: run.sh
    dest: /opt/demo/run.sh
    mode: "0755"
    owner: demo
  - source: demo.conf
    dest: /etc/demo.conf
    mode: "0644"
unit:
  name: demo.service
# The hardening drop-in has tests of its own (TestHardeningDropIn).
hardening:
  profile: none
readiness:
  timeout: TIMEOUT
  http: http://127.0.0.1:5001/health
`

const (
	unitName = "demo.service"
	unitPath = "/etc/systemd/system/demo.service"
	appV1    = "print('v1')\n"
	appV2    = "print('v2')\n"
	unitV1   = unitHead + unitInstall
	unitV2   = unitHead + "Environment=PORT=5002\n" + unitInstall
	unitHead = "[Unit]\nDescription=demo\n\n[Service]\nType=notify\nUser=demo\nExecStart=/opt/demo/run.sh\n"
	// The links an enable makes: systemd holds them after a reload.
	unitInstall = "\n[Install]\nWantedBy=multi-user.target\n"
	confV1      = "port = 5001\n"
)

// version says what the plan ships; the zero value is version 1.
type version struct {
	app, unit, conf string
	timeout         string
	group           string // the user's group, when not "demo"
	// edit, when set, changes the plan file.
	edit func(planYAML string) string
}

func loadPlan(t *testing.T, v version) *plan.Plan {
	t.Helper()
	if v.app == "" {
		v.app = appV1
	}
	if v.unit == "" {
		v.unit = unitV1
	}
	if v.conf == "" {
		v.conf = confV1
	}
	if v.timeout == "" {
		v.timeout = "5s"
	}
	planYAML := strings.Replace(testPlan, "TIMEOUT", v.timeout, 1)
	if v.group != "" {
		planYAML = strings.Replace(planYAML, "  name: demo\n", "  name: demo\n  group: "+v.group+"\n", 1)
	}
	if v.edit != nil {
		planYAML = v.edit(planYAML)
	}
	fsys := fstest.MapFS{
		"plan.yaml":    {Data: []byte(planYAML)},
		"app.py":       {Data: []byte(v.app)},
		"run.sh":       {Data: []byte("#!/bin/sh\nexec python3 /opt/demo/app.py\n")},
		"demo.conf":    {Data: []byte(v.conf)},
		"demo.service": {Data: []byte(v.unit)},
	}
	p, err := plan.Load(fsys, "plan.yaml", "test/plan.yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a host under a temporary root with fake systemd, accounts and
// packages, and a journal beside it.
type fixture struct {
	t        *testing.T
	root     string
	log      *Log
	sd       *fakeSystemd
	acc      *fakeAccounts
	pkgs     *fakePackages
	rep      *reporter
	h        *steps.Host
	j        *journal.Journal
	probeErr error
	logsFor  []string // the invocations whose logs were read
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, root: filepath.Join(base, "root"), log: &Log{}}
	for _, d := range []string{"opt", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(f.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.sd = newFakeSystemd(f.root, f.log)
	f.acc = newFakeAccounts(f.log)
	f.pkgs = newFakePackages(f.log, "python3")
	f.rep = &reporter{log: f.log}
	f.h = &steps.Host{
		Root:     f.root,
		Systemd:  f.sd,
		Accounts: f.acc,
		Packages: f.pkgs,
		Logs:     fakeLogs(&f.logsFor),
		Probe:    fakeProbe(f.log, &f.probeErr),
	}
	f.j, err = journal.OpenDir(filepath.Join(base, "lib", "demo"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.j.Close()
		if len(f.sd.Violations) > 0 {
			t.Errorf("systemd calls made in the wrong order: %q (calls %q)", f.sd.Violations, f.sd.Calls)
		}
		if f.sd.EnablingUnread() {
			t.Errorf("systemd was not reloaded after the unit's links changed (calls %q)", f.sd.Calls)
		}
	})
	return f
}

// entry is the journal's last entry for a step kind and key.
func (f *fixture) entry(step, key string) journal.Entry {
	f.t.Helper()
	es := f.j.Entries()
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Step == step && es[i].Key == key {
			return es[i]
		}
	}
	f.t.Fatalf("no journal entry for %s %q", step, key)
	return journal.Entry{}
}

func (f *fixture) engine() *engine.Engine {
	return steps.NewEngine(f.h, f.j, f.rep)
}

func (f *fixture) install(p *plan.Plan) (engine.Result, error) {
	return f.engine().Install(context.Background(), engine.NewRun(false), f.planned(p), false)
}

// planned is p's steps on f, as install builds them from f's journal.
func (f *fixture) planned(p *plan.Plan) []engine.Step {
	s, _ := steps.ForPlan(f.h, p, f.j.Live())
	return s
}

func (f *fixture) mustInstall(p *plan.Plan) engine.Result {
	f.t.Helper()
	res, err := f.install(p)
	if err != nil {
		f.t.Fatalf("install: %v", err)
	}
	return res
}

func (f *fixture) uninstall(u *engine.Undo) error {
	return f.engine().Uninstall(context.Background(), u)
}

// path is where a host path is under the root.
func (f *fixture) path(p string) string { return filepath.Join(f.root, p) }

func (f *fixture) write(p, content string, mode os.FileMode, uid, gid int) {
	f.t.Helper()
	if err := os.WriteFile(f.path(p), []byte(content), mode); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chmod(f.path(p), mode); err != nil {
		f.t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(f.path(p), uid, gid); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) read(p string) string {
	f.t.Helper()
	b, err := os.ReadFile(f.path(p))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// stat describes a host path as "type mode uid:gid".
func (f *fixture) stat(p string) string {
	f.t.Helper()
	fi, err := os.Lstat(f.path(p))
	if err != nil {
		return "missing"
	}
	st := fi.Sys().(*syscall.Stat_t)
	kind := "file"
	switch {
	case fi.IsDir():
		kind = "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		kind = "link"
	}
	return fmt.Sprintf("%s %04o %d:%d", kind, st.Mode&0o7777, st.Uid, st.Gid)
}

func (f *fixture) inode(p string) uint64 {
	f.t.Helper()
	fi, err := os.Lstat(f.path(p))
	if err != nil {
		f.t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// listing describes everything under dir: type, mode, owner and content.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %04o %d:%d", strings.TrimPrefix(p, dir), fi.Mode().Type(), st.Mode&0o7777, st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + fsutil.Sum(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func actions(res engine.Result) []string {
	var out []string
	for _, s := range res.Steps {
		out = append(out, s.Name+" = "+s.Action)
	}
	return out
}

// changedSteps names the steps of res that changed the host, with their action.
func changedSteps(res engine.Result) []string {
	var changed []string
	for _, s := range res.Steps {
		if s.Changed {
			changed = append(changed, s.Name+" = "+s.Action)
		}
	}
	return changed
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

// owner is "uid:gid" of a fake account and its group.
func (f *fixture) owner(user string) string {
	uid, gid, ok, _ := f.acc.User(user)
	if !ok {
		f.t.Fatalf("no user %s", user)
	}
	return fmt.Sprintf("%d:%d", uid, gid)
}

var firstInstall = []string{
	"packages python3,curl = install",
	"unit /etc/systemd/system/demo.service = create",
	"autostart demo.service = enable",
	"systemd = daemon-reload",
	"user demo = create",
	"directory /opt/demo = create",
	"directory /opt/demo/data = create",
	"file /opt/demo/app.py = create",
	"file /opt/demo/run.sh = create",
	"file /etc/demo.conf = create",
	"service demo.service = start",
}

// firstInstallOrder is what a first install of the test plan does, in order,
// each step acting before it is reported. Where systemd reads a unit it does
// not know when first asked for it (onDemand), the reload is asked for once
// the start job runs; otherwise it comes right after the enable.
func firstInstallOrder(onDemand bool) []string {
	order := []string{
		"apt install curl",
		"applied packages python3,curl install",
		"applied unit /etc/systemd/system/demo.service create",
		"enable demo.service",
		"applied autostart demo.service enable",
		"applied systemd daemon-reload",
		// One useradd makes the user and its group of the same name.
		"useradd --user-group demo",
		"applied user demo create",
		"applied directory /opt/demo create",
		"applied directory /opt/demo/data create",
		"applied file /opt/demo/app.py create",
		"applied file /opt/demo/run.sh create",
		"applied file /etc/demo.conf create",
		"reset-failed demo.service",
		"start demo.service",
		"probe http://127.0.0.1:5001/health",
		"applied service demo.service start",
	}
	if onDemand {
		return slices.Insert(order, slices.Index(order, "start demo.service")+1, "reload")
	}
	return slices.Insert(order, slices.Index(order, "applied systemd daemon-reload"), "reload")
}

// stepNamed is the result of the step called name.
func stepNamed(t *testing.T, res engine.Result, name string) engine.StepResult {
	t.Helper()
	for _, s := range res.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %s in %v", name, actions(res))
	return engine.StepResult{}
}

func TestFirstInstall(t *testing.T) {
	f := newFixture(t)
	res := f.mustInstall(loadPlan(t, version{}))

	equal(t, "actions", actions(res), firstInstall)
	if res.Changed != len(firstInstall) {
		t.Errorf("Changed = %d, want %d", res.Changed, len(firstInstall))
	}
	// Everything happens in the plan's order, each step acting before it is
	// reported: the unit and enable first. systemd reads a unit it does not
	// know when first asked for it, so the one reload is left to the start:
	// asked for once the start job is queued, it runs while the service
	// gets ready, and systemd then holds the unit's links too.
	equal(t, "order", f.log.Since(0), firstInstallOrder(true))
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reset-failed demo.service", "start demo.service", "reload"})
	// The unit file was on disk before the first systemd call and was not
	// written again; the reload came after the start job.
	equal(t, "unit writes", f.sd.UnitWrites[unitName], []int{0})
	equal(t, "reloads", f.sd.Reloads, []int{3})
	if b := f.entry("reload", "").Before; string(b) != `{"with_start":true}` {
		t.Errorf("reload entry before = %s", b)
	}
	if !f.sd.Active(unitName) || !f.sd.Enabled(unitName) {
		t.Error("the service is not active and enabled")
	}

	// The user and its group.
	u, ok := f.acc.Users["demo"]
	if !ok || u.group != "demo" || u.home != "/opt/demo" || u.shell != "/usr/sbin/nologin" || u.comment != "notifyctl plan demo" {
		t.Errorf("user demo = %+v, %v", u, ok)
	}
	if gid, ok := f.acc.Groups["demo"]; !ok || gid != u.gid {
		t.Errorf("group demo = %d, %v; user's gid %d", gid, ok, u.gid)
	}
	equal(t, "packages", f.pkgs.List(), []string{"curl", "python3"})

	// Files and directories, with their content, mode and owner.
	demo := f.owner("demo")
	for p, want := range map[string]string{
		"/opt/demo":        "dir 0750 " + demo,
		"/opt/demo/data":   "dir 0700 " + demo,
		"/opt/demo/app.py": "file 0640 " + demo,
		"/opt/demo/run.sh": "file 0755 " + demo,
		"/etc/demo.conf":   "file 0644 " + f.owner("root"),
		unitPath:           "file 0644 " + f.owner("root"),
	} {
		if got := f.stat(p); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
	for p, want := range map[string]string{
		"/opt/demo/app.py": appV1,
		"/opt/demo/run.sh": "#!/bin/sh\nexec python3 /opt/demo/app.py\n",
		"/etc/demo.conf":   confV1,
		unitPath:           unitV1,
	} {
		if got := f.read(p); got != want {
			t.Errorf("%s holds %q, want %q", p, got, want)
		}
	}

	// The journal holds one intent per change, each done.
	es := f.j.Entries()
	if len(es) != len(firstInstall) {
		t.Fatalf("journal has %d entries, want %d", len(es), len(firstInstall))
	}
	for i, e := range es {
		name := engine.DisplayName(e.Step, e.Key) + " = " + e.Action
		if name != firstInstall[i] || e.Outcome != journal.OpDone || e.Undone || e.Run != es[0].Run {
			t.Errorf("journal entry %d: %s outcome %q undone %v", i, name, e.Outcome, e.Undone)
		}
	}
}

// defaultPlan is the embedded default plan (notifydemo), ready to install on
// f: its notifyctl a stand-in, python3-flask there already.
func (f *fixture) defaultPlan() *plan.Plan {
	f.t.Helper()
	p, err := plan.Resolve("", plans.FS, plans.Default)
	if err != nil {
		f.t.Fatal(err)
	}
	p.SetSelf([]byte("#!notifyctl\n"))
	f.pkgs.Installed["python3-flask"] = true
	return p
}

func TestEmbeddedPlanInstalls(t *testing.T) {
	f := newFixture(t)
	p := f.defaultPlan()
	res := f.mustInstall(p)
	equal(t, "actions", actions(res), []string{
		"packages python3,python3-flask,curl = install",
		"unit /etc/systemd/system/notifydemo.service = create",
		// The strict hardening profile, as a drop-in written before the one reload.
		"directory /etc/systemd/system/notifydemo.service.d = create",
		"unit /etc/systemd/system/notifydemo.service.d/50-notifyctl-hardening.conf = create",
		"autostart notifydemo.service = enable",
		"systemd = daemon-reload",
		"user notifydemo = create",
		"directory /opt/notifydemo = create",
		"file /opt/notifydemo/app.py = create",
		"file /opt/notifydemo/notifyctl = create",
		"service notifydemo.service = start",
		"mail root = none", // the fixture has no mailer
	})
	equal(t, "packages installed", f.pkgs.Calls, []string{"apt install curl"})
	if got := f.read("/etc/systemd/system/notifydemo.service"); got != string(p.UnitContent) {
		t.Errorf("unit file holds %q", got)
	}
	if got, want := f.stat("/opt/notifydemo/notifyctl"), "file 0755 "+f.owner("root"); got != want {
		t.Errorf("notifyctl: %s, want %s", got, want)
	}
	if got := f.read("/opt/notifydemo/notifyctl"); got != "#!notifyctl\n" {
		t.Errorf("the wrapper holds %q, not the notifyctl binary", got)
	}
	res = f.mustInstall(p)
	if res.Changed != 0 {
		t.Errorf("second install changed %d: %v", res.Changed, actions(res))
	}
}

func TestSecondInstallChangesNothing(t *testing.T) {
	f := newFixture(t)
	p := loadPlan(t, version{})
	f.mustInstall(p)
	before := listing(t, f.root)
	calls, logged, entries := len(f.sd.Calls), f.log.Len(), len(f.j.Entries())
	accCalls, pkgCalls := len(f.acc.Calls), len(f.pkgs.Calls)

	res := f.mustInstall(p)
	if res.Changed != 0 {
		t.Errorf("Changed = %d: %v", res.Changed, actions(res))
	}
	for _, s := range res.Steps {
		if s.Action != "none" || s.Changed {
			t.Errorf("step %s: %s", s.Name, s.Action)
		}
	}
	if len(res.Steps) != len(firstInstall) {
		t.Errorf("%d steps, want %d", len(res.Steps), len(firstInstall))
	}
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string(nil))
	equal(t, "logged", f.log.Since(logged), []string(nil))
	if len(f.acc.Calls) != accCalls || len(f.pkgs.Calls) != pkgCalls {
		t.Error("the second install touched the accounts or the packages")
	}
	if n := len(f.j.Entries()); n != entries {
		t.Errorf("the journal grew from %d to %d entries", entries, n)
	}
	equal(t, "listing", listing(t, f.root), before)
}

// mustOweRestart checks that app.py holds app and that the journal owes the
// service a restart, after what is said.
func (f *fixture) mustOweRestart(app, after string) {
	f.t.Helper()
	if got := f.read("/opt/demo/app.py"); got != app {
		f.t.Fatalf("after %s, app.py holds %q, want %q", after, got, app)
	}
	if !steps.RestartDue(f.j.Live()) {
		f.t.Fatalf("no restart due after %s", after)
	}
}

// A run that changed app.py and ended before its restart (killed: here,
// the steps after the file are never run) leaves the restart due: the next
// install, whose checks find every file as the plan has it, still restarts
// the service, and the one after that changes nothing.
func TestRestartOwedByAnEndedRunIsDone(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	v2 := loadPlan(t, version{app: appV2})
	planned := f.planned(v2)
	var upToFiles []engine.Step
	for _, s := range planned {
		if s.Kind() == "start" {
			break
		}
		upToFiles = append(upToFiles, s)
	}
	if _, err := f.engine().Install(context.Background(), engine.NewRun(false), upToFiles, false); err != nil {
		t.Fatal(err)
	}
	f.mustOweRestart(appV2, "a run that changed app.py and did not restart")
	calls := len(f.sd.Calls)
	res := f.mustInstall(v2)
	var changed []string
	for _, s := range res.Steps {
		if s.Changed {
			changed = append(changed, s.Name+" = "+s.Action+" ("+s.Detail+")")
		}
	}
	equal(t, "changed", changed, []string{"service demo.service = restart (an earlier run changed what it runs and ended before restarting it)"})
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reset-failed demo.service", "restart demo.service"})
	if steps.RestartDue(f.j.Live()) {
		t.Error("a restart is still due after the restart")
	}
	calls = len(f.sd.Calls)
	if res := f.mustInstall(v2); res.Changed != 0 {
		t.Errorf("third install changed %d steps: %v", res.Changed, actions(res))
	}
	equal(t, "systemd calls of the third install", f.sd.CallsSince(calls), []string(nil))
}

// RestartDue reads the journal: a change after the last start or restart
// that completed. A start the run died in (no outcome) or that failed
// leaves the restart due; so does a change with no outcome (the run may have
// made it).
func TestRestartDue(t *testing.T) {
	e := func(step, outcome string) journal.Entry {
		return journal.Entry{Record: journal.Record{Step: step}, Outcome: outcome}
	}
	for _, c := range []struct {
		name string
		live []journal.Entry
		want bool
	}{
		{"nothing", nil, false},
		{"installed", []journal.Entry{e("unit", journal.OpDone), e("file", journal.OpDone), e("start", journal.OpDone), e("mail", journal.OpDone)}, false},
		{"changed, restarted", []journal.Entry{e("file", journal.OpDone), e("start", journal.OpDone), e("file", journal.OpDone), e("start", journal.OpDone)}, false},
		{"changed, not restarted", []journal.Entry{e("file", journal.OpDone), e("start", journal.OpDone), e("file", journal.OpDone)}, true},
		{"change with no outcome", []journal.Entry{e("start", journal.OpDone), e("user", "")}, true},
		{"died in the restart", []journal.Entry{e("start", journal.OpDone), e("unit", journal.OpDone), e("start", "")}, true},
		{"restart failed (--keep)", []journal.Entry{e("start", journal.OpDone), e("packages", journal.OpDone), e("start", journal.OpFailed)}, true},
		{"only what the service does not run", []journal.Entry{e("start", journal.OpDone), e("enable", journal.OpDone), e("reload", journal.OpDone), e("mail", journal.OpDone)}, false},
	} {
		if got := steps.RestartDue(c.live); got != c.want {
			t.Errorf("%s: RestartDue = %v, want %v", c.name, got, c.want)
		}
	}
}

// A first install cut short after its enable, or after its reload step
// left the reload to a start it never reached: systemd has read the unit
// (when asked for it) but not its links, and nothing is left to change on
// disk. The next install sees the links missing from systemd's memory,
// reloads, and starts the service.
func TestUnreadLinksAreReadByTheNextInstall(t *testing.T) {
	for _, last := range []string{"enable", "start"} { // cut after the enable, or before the start
		f := newFixture(t)
		p := loadPlan(t, version{})
		var cut []engine.Step
		for _, s := range f.planned(p) {
			if s.Kind() == "start" {
				break
			}
			cut = append(cut, s)
			if s.Kind() == last {
				break
			}
		}
		if _, err := f.engine().Install(context.Background(), engine.NewRun(false), cut, false); err != nil {
			t.Fatal(err)
		}
		if !f.sd.EnablingUnread() || len(f.sd.Reloads) != 0 {
			t.Fatalf("up to %s: the cut-short run reloaded (calls %q)", last, f.sd.Calls)
		}
		calls := len(f.sd.Calls)
		res := f.mustInstall(p)
		if ch := changedSteps(res); ch[0] != "systemd = daemon-reload" || ch[len(ch)-1] != "service demo.service = start" {
			t.Errorf("up to %s: changed %q", last, ch)
		}
		if d := stepNamed(t, res, "systemd").Detail; d != "systemd has not read the unit's links yet: multi-user.target does not want it; systemd reloads as the service starts" {
			t.Errorf("up to %s: reload detail %q", last, d)
		}
		equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reset-failed demo.service", "start demo.service", "reload"})
		calls = len(f.sd.Calls)
		if res := f.mustInstall(p); res.Changed != 0 {
			t.Errorf("up to %s: the install after that changed %d steps: %v", last, res.Changed, actions(res))
		}
		equal(t, "systemd calls of the install after that", f.sd.CallsSince(calls), []string(nil))
	}
}

func TestChangedFileRestartsWithoutReload(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	other := map[string]uint64{}
	for _, p := range []string{"/opt/demo/run.sh", "/etc/demo.conf", unitPath, "/opt/demo/app.py"} {
		other[p] = f.inode(p)
	}
	calls := len(f.sd.Calls)

	res := f.mustInstall(loadPlan(t, version{app: appV2}))
	changed := changedSteps(res)
	equal(t, "changed", changed, []string{"file /opt/demo/app.py = update", "service demo.service = restart"})
	if res.Changed != 2 {
		t.Errorf("Changed = %d", res.Changed)
	}
	if d := stepNamed(t, res, "file /opt/demo/app.py").Diff; !strings.Contains(d, "-print('v1')") || !strings.Contains(d, "+print('v2')") {
		t.Errorf("app.py diff:\n%s", d)
	}
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reset-failed demo.service", "restart demo.service"})
	if got := f.read("/opt/demo/app.py"); got != appV2 {
		t.Errorf("app.py holds %q", got)
	}
	if got, want := f.stat("/opt/demo/app.py"), "file 0640 "+f.owner("demo"); got != want {
		t.Errorf("app.py: %s, want %s", got, want)
	}
	if f.inode("/opt/demo/app.py") == other["/opt/demo/app.py"] {
		t.Error("app.py was not rewritten")
	}
	for _, p := range []string{"/opt/demo/run.sh", "/etc/demo.conf", unitPath} {
		if f.inode(p) != other[p] {
			t.Errorf("%s was rewritten although it did not change", p)
		}
	}

	// Now the unit changes: one reload, then a restart.
	calls = len(f.sd.Calls)
	res = f.mustInstall(loadPlan(t, version{app: appV2, unit: unitV2}))
	changed = nil
	for _, s := range res.Steps {
		if s.Changed {
			changed = append(changed, s.Name+" = "+s.Action)
		}
	}
	equal(t, "changed", changed, []string{
		"unit /etc/systemd/system/demo.service = update",
		"systemd = daemon-reload",
		"service demo.service = restart",
	})
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reload", "reset-failed demo.service", "restart demo.service"})
	if got := f.read(unitPath); got != unitV2 {
		t.Errorf("unit holds %q", got)
	}
	writes := f.sd.UnitWrites[unitName]
	if len(writes) != 2 || writes[1] != calls {
		t.Errorf("unit writes at %v, want a second one at %d", writes, calls)
	}
}

func TestDryRunReportsWhatInstallDoesAndChangesNothing(t *testing.T) {
	p := loadPlan(t, version{})
	f := newFixture(t)
	before := listing(t, f.root)
	e := steps.NewEngine(f.h, nil, f.rep) // no journal
	dry, err := e.Install(context.Background(), engine.NewRun(true), f.planned(p), false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "dry-run actions", actions(dry), firstInstall)
	equal(t, "listing after a dry run", listing(t, f.root), before)
	if len(f.sd.Calls) != 0 || len(f.acc.Calls) != 0 || len(f.pkgs.Calls) != 0 {
		t.Errorf("a dry run acted: systemd %q accounts %q packages %q", f.sd.Calls, f.acc.Calls, f.pkgs.Calls)
	}
	if len(f.acc.Users) != 1 || len(f.acc.Groups) != 1 {
		t.Error("a dry run created accounts")
	}
	for _, l := range f.log.Since(0) {
		if strings.HasPrefix(l, "applied ") {
			t.Errorf("a dry run reported %s", l)
		}
	}

	// The same plan on an identical host, for real, does what the dry run
	// said. Only the install knows when systemd reloads: its detail may add
	// that.
	g := newFixture(t)
	real := g.mustInstall(p)
	equal(t, "install actions", actions(real), actions(dry))
	for i := range real.Steps {
		if !strings.HasPrefix(real.Steps[i].Detail, dry.Steps[i].Detail) {
			t.Errorf("%s: dry run said %q, install did %q", real.Steps[i].Name, dry.Steps[i].Detail, real.Steps[i].Detail)
		}
		if real.Steps[i].Diff != dry.Steps[i].Diff {
			t.Errorf("%s: the diffs differ", real.Steps[i].Name)
		}
	}

	// On an installed host a dry run finds nothing to do, and after a plan
	// change it names exactly the change.
	entries := len(g.j.Entries())
	ge := steps.NewEngine(g.h, nil, g.rep)
	res, err := ge.Install(context.Background(), engine.NewRun(true), g.planned(p), false)
	if err != nil || res.Changed != 0 {
		t.Errorf("dry run on an installed host: %d changed (%v), %v", res.Changed, actions(res), err)
	}
	installed := listing(t, g.root)
	calls := len(g.sd.Calls)
	res, err = ge.Install(context.Background(), engine.NewRun(true), g.planned(loadPlan(t, version{unit: unitV2})), false)
	if err != nil {
		t.Fatal(err)
	}
	changed := changedSteps(res)
	equal(t, "dry run of a changed unit", changed, []string{
		"unit /etc/systemd/system/demo.service = update",
		"systemd = daemon-reload",
		"service demo.service = restart",
	})
	equal(t, "listing", listing(t, g.root), installed)
	if len(g.sd.Calls) != calls || len(g.j.Entries()) != entries {
		t.Error("a dry run on an installed host acted or journaled")
	}
}

func TestStartFailureRollsBackEverything(t *testing.T) {
	f := newFixture(t)
	// A config file the plan replaces is there already, with its own mode
	// and owner.
	f.write("/etc/demo.conf", "# the admin's own config\nport = 8080\n", 0o600, 1234, 1235)
	before := listing(t, f.root)
	f.sd.FailStarts = 1

	res, err := f.install(loadPlan(t, version{}))
	if err == nil {
		t.Fatal("install succeeded although the service failed")
	}
	var failure *systemd.Failure
	if !errors.As(err, &failure) {
		t.Fatalf("error %v does not wrap a *systemd.Failure", err)
	}
	var se *engine.StepError
	if !errors.As(err, &se) || se.Step != "service demo.service" {
		t.Errorf("error %v is not a StepError of the service", err)
	}
	if errors.As(err, new(*engine.RollbackError)) {
		t.Errorf("the rollback was incomplete: %v", err)
	}
	if failure.Unit != unitName || failure.State.ActiveState != "failed" || failure.State.Result != "exit-code" ||
		failure.State.ExecMainStatus != 1 || failure.State.InvocationID == "" {
		t.Errorf("failure = %+v", failure)
	}
	equal(t, "logs", failure.Logs, fakeLogLines)
	equal(t, "logs read for", f.logsFor, []string{failure.State.InvocationID})
	for _, s := range []string{"demo.service did not become active", "start job failed", "result exit-code", "status 1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if last := res.Steps[len(res.Steps)-1]; last.Name != "service demo.service" || last.Action != "failed" {
		t.Errorf("last step %+v", last)
	}

	// Everything this run did is undone: files, directories, the unit, the
	// user and group; the config is back byte for byte, mode and owner.
	equal(t, "listing after rollback", listing(t, f.root), before)
	if _, ok := f.acc.Users["demo"]; ok {
		t.Error("user demo is left")
	}
	if _, ok := f.acc.Groups["demo"]; ok {
		t.Error("group demo is left")
	}
	// The packages this failed run added go too: nothing could rely on them yet.
	equal(t, "packages", f.pkgs.List(), []string{"python3"})
	if f.sd.Active(unitName) || f.sd.Enabled(unitName) || f.sd.Loaded(unitName) {
		t.Error("the unit is left active, enabled or loaded")
	}
	equal(t, "systemd calls", f.sd.Calls, []string{
		// the reload, left to the start, runs while the service fails
		"enable demo.service", "reset-failed demo.service", "start demo.service", "reload",
		// rollback: clear the failed unit, disable it, one reload once its file is gone
		"reset-failed demo.service", "disable demo.service", "reload",
	})
	// userdel takes the group it made with the user along.
	equal(t, "accounts", f.acc.Calls, []string{"useradd --user-group demo", "userdel demo"})

	es := f.j.Entries()
	if len(es) != len(firstInstall) {
		t.Fatalf("journal has %d entries", len(es))
	}
	for _, e := range es {
		want := journal.OpDone
		if e.Step == "start" {
			want = journal.OpFailed
		}
		if !e.Undone || e.Outcome != want {
			t.Errorf("entry %s %s: outcome %q undone %v", e.Step, e.Key, e.Outcome, e.Undone)
		}
	}
	if len(f.j.Live()) != 0 {
		t.Errorf("live entries after rollback: %d", len(f.j.Live()))
	}
}

func TestProbeFailureStopsTheServiceOnRollback(t *testing.T) {
	f := newFixture(t)
	f.probeErr = errors.New("connection refused")
	before := listing(t, f.root)
	_, err := f.install(loadPlan(t, version{timeout: "1s"}))
	var failure *systemd.Failure
	if !errors.As(err, &failure) {
		t.Fatalf("install error %v does not wrap a *systemd.Failure", err)
	}
	if !strings.Contains(failure.Why, "did not answer") || !strings.Contains(failure.Why, "connection refused") {
		t.Errorf("Why = %q", failure.Why)
	}
	equal(t, "rollback calls", f.sd.Calls[4:], []string{"stop demo.service", "reset-failed demo.service", "disable demo.service", "reload"})
	if f.sd.Active(unitName) {
		t.Error("the service still runs")
	}
	equal(t, "listing after rollback", listing(t, f.root), before)
}

func TestFailedUpdateRestoresAndRestartsThePreviousVersion(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	installed := listing(t, f.root)
	first := f.j.Live()
	calls := len(f.sd.Calls)
	f.sd.FailStarts = 1

	_, err := f.install(loadPlan(t, version{app: appV2, unit: unitV2, conf: "port = 5002\n"}))
	if !errors.As(err, new(*systemd.Failure)) {
		t.Fatalf("install error %v does not wrap a *systemd.Failure", err)
	}
	equal(t, "listing after rollback", listing(t, f.root), installed)
	// The new unit was loaded and restarted; the rollback put the old one
	// back, reloaded once and restarted the service with its old files.
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{
		"reload", "reset-failed demo.service", "restart demo.service",
		"reload", "reset-failed demo.service", "restart demo.service",
	})
	if !f.sd.Active(unitName) || !f.rep.noted("demo.service restarted with its previous files") {
		t.Errorf("the previous version does not run again; notes %q", f.rep.Notes)
	}
	if f.sd.units[unitName].startedWith != fsutil.Sum([]byte(unitV1)) {
		t.Error("the service was restarted with the new unit file")
	}
	live := f.j.Live()
	equal(t, "live entries", len(live), len(first))
	for i := range first {
		if live[i].Seq != first[i].Seq {
			t.Errorf("live entry %d is %d, want the first run's %d", i, live[i].Seq, first[i].Seq)
		}
	}
}

// When the rollback's restart of the previous version fails too (or the
// run is killed before it), the failed run's start entry stays live: the
// next install restarts the service, which may still run the new version.
func TestRollbackRestartNotDoneStaysDue(t *testing.T) {
	f := newFixture(t)
	v1 := loadPlan(t, version{})
	f.mustInstall(v1)
	f.sd.FailStarts = 2 // the upgrade's restart, then the rollback's

	_, err := f.install(loadPlan(t, version{app: appV2}))
	if !errors.As(err, new(*engine.RollbackError)) {
		t.Fatalf("install error %v: want an incomplete rollback", err)
	}
	f.mustOweRestart(appV1, "a rollback whose restart failed")
	// The failed restarts left the unit failed: the next install starts it
	// (for that, Due is not needed; the case of a service still running is
	// TestRollbackKilledBeforeItsRestartOwesOne).
	calls := len(f.sd.Calls)
	res := f.mustInstall(v1)
	if s := stepNamed(t, res, "service demo.service"); !s.Changed {
		t.Errorf("service step %+v: not started", s)
	}
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reset-failed demo.service", "start demo.service"})
	if steps.RestartDue(f.j.Live()) {
		t.Error("a restart is still due once the service started again")
	}
}

// failingMailer is a host that can mail, whose mail fails.
type failingMailer struct{}

func (failingMailer) CanMail() bool { return true }
func (failingMailer) Mail(ctx context.Context, to, subject, body string) error {
	return errors.New("sendmail: exit status 75")
}

// An upgrade (here, of notifyctl itself) whose restart succeeded and whose
// mail then failed is rolled back: the old files go back, and finish would
// restart the service on them. Killed before finish (here: a finish that
// fails at once), the new version still runs on the old files; the next
// install of the old plan restarts it, though every file matches.
func TestRollbackKilledBeforeItsRestartOwesOne(t *testing.T) {
	f := newFixture(t)
	const unit, wrapper = "notifydemo.service", "/opt/notifydemo/notifyctl"
	f.mustInstall(f.defaultPlan())
	f.h.Mailer = failingMailer{}
	e := f.engine()
	e.Undoers[engine.FinishKind] = func(context.Context, *engine.Undo, journal.Entry) error {
		return errors.New("killed before finish")
	}
	v2 := f.defaultPlan()
	v2.SetSelf([]byte("#!notifyctl v2\n"))
	calls := len(f.sd.Calls)
	if _, err := e.Install(context.Background(), engine.NewRun(false), f.planned(v2), false); err == nil || !strings.Contains(err.Error(), "exit status 75") {
		t.Fatalf("install error %v, want the mail's", err)
	}
	equal(t, "systemd calls of the failed upgrade", f.sd.CallsSince(calls), []string{"reset-failed " + unit, "restart " + unit})
	if !f.sd.Active(unit) {
		t.Fatal("the new version is not running")
	}
	if got := f.read(wrapper); got != "#!notifyctl\n" {
		t.Fatalf("the wrapper is not restored: %q", got)
	}
	if !steps.RestartDue(f.j.Live()) {
		t.Fatal("no restart due after a rollback killed before its restart")
	}

	f.h.Mailer = nil
	calls = len(f.sd.Calls)
	res := f.mustInstall(f.defaultPlan())
	if s := stepNamed(t, res, "service "+unit); s.Action != "restart" {
		t.Errorf("service step %+v, want a restart", s)
	}
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reset-failed " + unit, "restart " + unit})
	if steps.RestartDue(f.j.Live()) {
		t.Error("a restart is still due after it")
	}
}

func TestFailedUserAndGroupCreationLeavesNeither(t *testing.T) {
	f := newFixture(t)
	f.acc.AddUserErr = errors.New("useradd: cannot lock /etc/passwd")
	if _, err := f.install(loadPlan(t, version{})); err == nil || !strings.Contains(err.Error(), "cannot lock") {
		t.Fatalf("install error %v", err)
	}
	equal(t, "accounts", f.acc.Calls, []string{"useradd --user-group demo"})
	if _, ok := f.acc.Groups["demo"]; ok {
		t.Error("group demo is left")
	}
}

func TestUninstallKeepsTheGroupThatWasThere(t *testing.T) {
	// The user is the plan's, its group (named like it) the administrator's:
	// userdel must not take the group along.
	f := newFixture(t)
	if err := f.acc.AddGroup(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	f.acc.Calls = nil
	f.mustInstall(loadPlan(t, version{}))
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "accounts", f.acc.Calls, []string{"useradd demo", "userdel demo"})
	if _, ok := f.acc.Groups["demo"]; !ok {
		t.Error("group demo, there before install, was deleted")
	}
	if _, _, ok, _ := f.acc.User("demo"); ok {
		t.Error("user demo is left")
	}
}

// A failed daemon-reload fails the start step, and the run is rolled back.
// Where systemd reads units only on a reload, the reload runs while the user
// and files are made and its failure is found before the start, which never
// happens. Where the reload is left to the start, it fails while the service
// starts, and the rollback stops the service.
func TestFailedReloadFailsTheStartAndRollsBack(t *testing.T) {
	for _, c := range []struct {
		noLoadOnDemand bool
		calls          []string
	}{
		{true, []string{"enable demo.service", "reload", "disable demo.service", "reload"}},
		{false, []string{
			"enable demo.service", "reset-failed demo.service", "start demo.service", "reload",
			"stop demo.service", "reset-failed demo.service", "disable demo.service", "reload",
		}},
	} {
		f := newFixture(t)
		f.sd.NoLoadOnDemand = c.noLoadOnDemand
		f.sd.ReloadErr = errors.New("daemon-reload: Access denied")
		before := listing(t, f.root)
		res, err := f.install(loadPlan(t, version{}))
		if err == nil || !strings.Contains(err.Error(), "service demo.service: daemon-reload: Access denied") {
			t.Fatalf("install error %v", err)
		}
		if last := res.Steps[len(res.Steps)-1]; last.Name != "service demo.service" || last.Action != "failed" {
			t.Errorf("last step %+v", last)
		}
		equal(t, "systemd calls", f.sd.Calls, c.calls)
		equal(t, "listing", listing(t, f.root), before)
		if f.sd.Active(unitName) || f.sd.Enabled(unitName) {
			t.Error("the unit is left active or enabled")
		}
		if _, ok := f.acc.Users["demo"]; ok {
			t.Error("user demo is left")
		}
	}
}

// A run that fails before its start with --keep leaves its changes, and
// the reload it left to the start is still done once something waits for
// systemd (install's end does).
func TestKeptFailureBeforeTheStartStillReloads(t *testing.T) {
	f := newFixture(t)
	f.acc.AddUserErr = errors.New("useradd: cannot lock /etc/passwd")
	if _, err := f.engine().Install(context.Background(), engine.NewRun(false), f.planned(loadPlan(t, version{})), true); err == nil {
		t.Fatal("install did not fail")
	}
	equal(t, "systemd calls before the wait", f.sd.Calls, []string{"enable demo.service"})
	if err := f.h.Reloaded(); err != nil {
		t.Fatal(err)
	}
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reload"})
	if !f.sd.Enabled(unitName) {
		t.Error("the kept unit is not enabled")
	}
	// The next install finds systemd holding everything: no reload.
	f.acc.AddUserErr = nil
	calls := len(f.sd.Calls)
	res := f.mustInstall(loadPlan(t, version{}))
	for _, c := range changedSteps(res) {
		if strings.HasPrefix(c, "systemd ") {
			t.Errorf("the next install reloads again: %v", changedSteps(res))
		}
	}
	equal(t, "systemd calls of the next install", f.sd.CallsSince(calls), []string{"reset-failed demo.service", "start demo.service"})
}

func TestFailedUserCreationRemovesTheGroup(t *testing.T) {
	// A group named otherwise than the user is made first, by itself.
	f := newFixture(t)
	f.acc.AddUserErr = errors.New("useradd: cannot lock /etc/passwd")
	before := listing(t, f.root)
	_, err := f.install(loadPlan(t, version{group: "demo-grp"}))
	if err == nil || !strings.Contains(err.Error(), "cannot lock") {
		t.Fatalf("install error %v", err)
	}
	equal(t, "accounts", f.acc.Calls, []string{"groupadd demo-grp", "useradd demo", "groupdel demo-grp"})
	if _, ok := f.acc.Groups["demo-grp"]; ok {
		t.Error("group demo-grp is left")
	}
	equal(t, "listing", listing(t, f.root), before)
	// The unit was enabled before the user step, its reload left to the
	// start: the rollback disabled it, and its one reload had systemd
	// forget it again.
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "disable demo.service", "reload"})
	if f.sd.Enabled(unitName) {
		t.Error("the unit is left enabled")
	}
}

// prepareUninstall installs the plan twice (the second time with a changed
// app and config) on a host where the group exists already, python3 is
// installed and the config is the admin's; then somebody puts a file in the
// plan's data directory.
func prepareUninstall(t *testing.T) (f *fixture, before []string) {
	f = newFixture(t)
	if err := f.acc.AddGroup(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	f.write("/etc/demo.conf", "# the admin's own config\n", 0o600, 1234, 1235)
	before = listing(t, f.root)
	f.acc.Calls = nil
	f.mustInstall(loadPlan(t, version{}))
	f.mustInstall(loadPlan(t, version{app: appV2, conf: "port = 5002\n"}))
	if n := len(f.j.Live()); n != len(firstInstall)+3 {
		t.Fatalf("%d live entries after two installs", n)
	}
	f.write("/opt/demo/data/extra.txt", "not the plan's\n", 0o644, 0, 0)
	return f, before
}

func TestUninstall(t *testing.T) {
	f, before := prepareUninstall(t)
	calls := len(f.sd.Calls)
	if err := f.uninstall(&engine.Undo{PurgePackages: true}); err != nil {
		t.Fatal(err)
	}
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{
		"stop demo.service", "reset-failed demo.service", "disable demo.service", "reload",
	})
	if f.sd.Active(unitName) || f.sd.Enabled(unitName) || f.sd.Loaded(unitName) {
		t.Error("the unit is left active, enabled or loaded")
	}
	// A directory is kept for the file the plan did not put there, which the
	// service's user may own: the user is kept too. The group that was there
	// before install is kept in any case.
	equal(t, "accounts", f.acc.Calls, []string{"useradd demo"})
	if !f.rep.noted("kept user demo") {
		t.Errorf("no note about the kept user: %q", f.rep.Notes)
	}
	if _, ok := f.acc.Groups["demo"]; !ok {
		t.Error("the group that existed before install was deleted")
	}
	// Only the package that was missing is removed.
	equal(t, "packages", f.pkgs.Calls, []string{"apt install curl", "apt remove curl"})
	equal(t, "packages left", f.pkgs.List(), []string{"python3"})

	// The directory holding a file the plan did not put there is kept, and
	// so is its parent; the rest is as it was before the first install.
	want := append([]string(nil), before...)
	for _, p := range []string{"/opt/demo", "/opt/demo/data", "/opt/demo/data/extra.txt"} {
		for _, l := range listing(t, f.root) {
			if strings.HasPrefix(l, p+" ") {
				want = append(want, l)
			}
		}
	}
	sort.Strings(want)
	equal(t, "listing after uninstall", listing(t, f.root), want)
	if got := f.read("/opt/demo/data/extra.txt"); got != "not the plan's\n" {
		t.Errorf("extra.txt holds %q", got)
	}
	for _, p := range []string{"/opt/demo/app.py", "/opt/demo/run.sh", unitPath} {
		if f.stat(p) != "missing" {
			t.Errorf("%s is left", p)
		}
	}
	if got := f.read("/etc/demo.conf"); got != "# the admin's own config\n" {
		t.Errorf("demo.conf holds %q", got)
	}
	if !f.rep.noted("kept /opt/demo/data: it holds files notifyctl did not put there") || !f.rep.noted("kept /opt/demo:") {
		t.Errorf("no note about the kept directories: %q", f.rep.Notes)
	}
	// The kept user stays in the journal, for a later uninstall --purge.
	if live := f.j.Live(); len(live) != 1 || live[0].Step != "user" {
		t.Errorf("live entries after uninstall: %+v, want the kept user alone", live)
	}
	if err := f.uninstall(&engine.Undo{Purge: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.acc.Users["demo"]; ok || len(f.j.Live()) != 0 {
		t.Errorf("uninstall --purge left the user (%v) or %d live entries", ok, len(f.j.Live()))
	}
}

func TestUninstallKeepsPackagesAndAccountsThatWereThere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.acc.AddGroup(ctx, "demo"); err != nil {
		t.Fatal(err)
	}
	if err := f.acc.AddUser(ctx, "demo", "demo", "/opt/demo", "/bin/sh", "the admin's"); err != nil {
		t.Fatal(err)
	}
	before := listing(t, f.root)
	res := f.mustInstall(loadPlan(t, version{}))
	if s := stepNamed(t, res, "user demo"); s.Changed {
		t.Errorf("user step %+v: the user existed", s)
	}
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "accounts", f.acc.Calls, []string{"groupadd demo", "useradd demo"})
	if u := f.acc.Users["demo"]; u.comment != "the admin's" {
		t.Errorf("user demo = %+v", u)
	}
	equal(t, "packages", f.pkgs.Calls, []string{"apt install curl"})
	equal(t, "packages left", f.pkgs.List(), []string{"curl", "python3"})
	if !f.rep.noted("kept packages curl") {
		t.Errorf("no note about kept packages: %q", f.rep.Notes)
	}
	equal(t, "listing after uninstall", listing(t, f.root), before)
}

// appUndone is what uninstall and rollback undo once the daemon-reload has
// started: the app's files, directories and user, then the packages.
var appUndone = []string{
	"undone file /etc/demo.conf",
	"undone file /opt/demo/run.sh",
	"undone file /opt/demo/app.py",
	"undone directory /opt/demo/data",
	"undone directory /opt/demo",
	"userdel demo",
	"undone user demo",
	"undone packages python3,curl",
}

// Uninstall stops the service, then undoes what systemd reads, and starts the
// daemon-reload before it removes the app's files and user: the reload runs
// while they go, and is waited for at the end (the fake flags any systemd
// call made while it is under way).
func TestUninstallReloadsWhileTheAppIsRemoved(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	logged := f.log.Len()
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "order", f.log.Since(logged), append([]string{
		"stop demo.service",
		"reset-failed demo.service",
		"undone service demo.service",
		"undone systemd",
		"disable demo.service",
		"undone autostart demo.service",
		"undone unit /etc/systemd/system/demo.service",
		"reload",
	}, appUndone...))
	equal(t, "reloads", f.sd.Reloads, []int{3, len(f.sd.Calls) - 1})
	if !f.rep.noted("systemd reloaded") {
		t.Errorf("no note about the reload: %q", f.rep.Notes)
	}
	if f.sd.Loaded(unitName) {
		t.Error("the unit is left loaded")
	}
}

// A rollback goes in the same order, and a reload that fails is reported.
func TestRollbackReloadsWhileTheAppIsRemoved(t *testing.T) {
	f := newFixture(t)
	f.sd.FailStarts = 1
	if _, err := f.install(loadPlan(t, version{})); err == nil {
		t.Fatal("install succeeded although the service failed")
	}
	var undone []string
	for _, l := range f.log.Since(0) {
		if strings.HasPrefix(l, "undone ") || l == "reload" || strings.HasPrefix(l, "userdel") {
			undone = append(undone, l)
		}
	}
	equal(t, "rollback order", undone, append([]string{
		"reload", // the install's own
		"undone service demo.service",
		"undone systemd",
		"undone autostart demo.service",
		"undone unit /etc/systemd/system/demo.service",
		"reload",
	}, appUndone...))

	g := newFixture(t)
	g.mustInstall(loadPlan(t, version{}))
	g.sd.ReloadErr = errors.New("connection reset")
	err := g.uninstall(&engine.Undo{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("uninstall with a failed reload: %v", err)
	}
	if g.rep.noted("systemd reloaded") {
		t.Errorf("a failed reload is noted as done: %q", g.rep.Notes)
	}
}

// A unit file an administrator edited is kept, but it is root's: the
// service's user goes all the same (uninstall undoes the unit before the
// user now).
func TestKeptUnitFilesDoNotKeepTheUser(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	f.write(unitPath, f.read(unitPath)+"# the admin's\n", 0o644, 0, 0)
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	if !f.rep.noted("kept " + unitPath) {
		t.Errorf("no note about the kept unit file: %q", f.rep.Notes)
	}
	if _, ok := f.acc.Users["demo"]; ok {
		t.Errorf("user demo kept for a root-owned unit file: %q", f.rep.Notes)
	}
	// Data or an edited app file, on the other hand, may be the user's.
	g := newFixture(t)
	g.mustInstall(loadPlan(t, version{}))
	g.write("/opt/demo/app.py", "print('the admin's')\n", 0o644, 0, 0)
	if err := g.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.acc.Users["demo"]; !ok {
		t.Error("user demo deleted although an edited app file was kept")
	}
}

func TestUninstallDryRun(t *testing.T) {
	f, _ := prepareUninstall(t)
	installed := listing(t, f.root)
	calls, accCalls, pkgCalls := len(f.sd.Calls), len(f.acc.Calls), len(f.pkgs.Calls)
	live := len(f.j.Live())

	u := &engine.Undo{DryRun: true, PurgePackages: true}
	if err := f.uninstall(u); err != nil {
		t.Fatal(err)
	}
	var preview []string
	for _, s := range u.Preview {
		preview = append(preview, s.Name+" = "+s.Action)
	}
	equal(t, "preview", preview, []string{
		// The service first, then what systemd reads, then the app while
		// systemd reloads.
		"service demo.service = stop",
		"autostart demo.service = disable",
		"unit /etc/systemd/system/demo.service = remove",
		"systemd = daemon-reload",
		"file /etc/demo.conf = restore",
		"file /opt/demo/run.sh = remove",
		"file /opt/demo/app.py = remove",
		"directory /opt/demo/data = remove",
		"directory /opt/demo = remove",
		"user demo = delete",
		"packages python3,curl = remove",
	})
	for _, s := range u.Preview {
		if s.Name == "file /etc/demo.conf" && (!strings.Contains(s.Diff, "-port = 5002") || !strings.Contains(s.Diff, "+# the admin's own config")) {
			t.Errorf("restore diff:\n%s", s.Diff)
		}
		if s.Name == "packages python3,curl" && s.Detail != "curl" {
			t.Errorf("packages to remove: %q", s.Detail)
		}
	}
	equal(t, "listing", listing(t, f.root), installed)
	if len(f.sd.Calls) != calls || len(f.acc.Calls) != accCalls || len(f.pkgs.Calls) != pkgCalls {
		t.Error("a dry-run uninstall acted")
	}
	if n := len(f.j.Live()); n != live {
		t.Errorf("a dry-run uninstall changed the journal: %d live entries, was %d", n, live)
	}
	if !f.sd.Active(unitName) {
		t.Error("a dry-run uninstall stopped the service")
	}
}

// undoRun undoes what run did, as a rollback does.
func (f *fixture) undoRun(r *engine.Run) {
	f.t.Helper()
	if err := f.engine().Rollback(context.Background(), r.ID); err != nil {
		f.t.Fatal(err)
	}
}

// applyJournaled applies c as the engine does: intent, apply, done.
func (f *fixture) applyJournaled(r *engine.Run, s engine.Step, c engine.Change) {
	f.t.Helper()
	if c.Backup != nil {
		f.t.Fatal("applyJournaled does not keep backups")
	}
	seq, err := f.j.Intent(r.ID, s.Kind(), s.Key(), c.Action, c.Before)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := s.Apply(context.Background(), r, c); err != nil {
		f.t.Fatal(err)
	}
	if err := f.j.Done(seq); err != nil {
		f.t.Fatal(err)
	}
}

func TestStepContract(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		step func(h *steps.Host) engine.Step
		pre  func(f *fixture) // what is there before
	}{
		{"new file", func(h *steps.Host) engine.Step {
			return steps.NewFile(h, "/opt/f.txt", []byte("hello\n"), 0o640, "root", "root")
		}, nil},
		{"new empty file", func(h *steps.Host) engine.Step {
			return steps.NewFile(h, "/opt/empty", nil, 0o600, "root", "root")
		}, nil},
		{"existing file", func(h *steps.Host) engine.Step {
			return steps.NewFile(h, "/opt/f.txt", []byte("hello\n"), 0o640, "root", "root")
		}, func(f *fixture) { f.write("/opt/f.txt", "old\x00binary\n", 0o4755, 77, 78) }},
		{"file with another mode", func(h *steps.Host) engine.Step {
			return steps.NewFile(h, "/opt/f.txt", []byte("hello\n"), 0o640, "root", "root")
		}, func(f *fixture) { f.write("/opt/f.txt", "hello\n", 0o666, 0, 0) }},
		{"new unit file", func(h *steps.Host) engine.Step {
			return steps.NewUnitFile(h, unitPath, []byte(unitV1))
		}, nil},
		{"new directory", func(h *steps.Host) engine.Step {
			return &steps.Directory{H: h, Path: "/opt/d", Mode: 0o750, Owner: "root", Group: "root"}
		}, nil},
		{"existing directory", func(h *steps.Host) engine.Step {
			return &steps.Directory{H: h, Path: "/opt/d", Mode: 0o750, Owner: "root", Group: "root"}
		}, func(f *fixture) {
			if err := os.Mkdir(f.path("/opt/d"), 0o700); err != nil {
				f.t.Fatal(err)
			}
			if err := os.Chmod(f.path("/opt/d"), 0o1777); err != nil {
				f.t.Fatal(err)
			}
			if os.Geteuid() == 0 {
				if err := os.Chown(f.path("/opt/d"), 77, 78); err != nil {
					f.t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.pre != nil {
				c.pre(f)
			}
			before := listing(t, f.root)
			s := c.step(f.h)
			r := engine.NewRun(false)

			ch, err := s.Check(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			wantAction := "create"
			if c.pre != nil {
				wantAction = "update"
			}
			if ch.Action != wantAction {
				t.Fatalf("first Check: %q (%s), want %s", ch.Action, ch.Detail, wantAction)
			}
			equal(t, "listing after Check", listing(t, f.root), before)

			if ch.Backup != nil {
				// Let the engine keep the backup and journal the change.
				res, err := f.engine().Install(ctx, r, []engine.Step{s}, false)
				if err != nil || res.Changed != 1 {
					t.Fatalf("install: %v, %d changed", err, res.Changed)
				}
			} else {
				f.applyJournaled(r, s, ch)
			}
			applied := listing(t, f.root)
			if equal := reflect.DeepEqual(applied, before); equal {
				t.Fatal("Apply changed nothing")
			}
			ch2, err := s.Check(ctx, r)
			if err != nil || ch2.Changed() {
				t.Fatalf("Check after Apply: %q (%s), %v; want no change", ch2.Action, ch2.Detail, err)
			}
			// Applying again leaves the same content, mode and owner.
			if err := s.Apply(ctx, r, ch); err != nil {
				t.Fatal(err)
			}
			equal(t, "listing after a second Apply", listing(t, f.root), applied)

			f.undoRun(r)
			equal(t, "listing after undo", listing(t, f.root), before)
			ch3, err := s.Check(ctx, engine.NewRun(false))
			if err != nil || ch3.Action != wantAction {
				t.Errorf("Check after undo: %q, %v; want %s", ch3.Action, err, wantAction)
			}
			if len(f.j.Live()) != 0 {
				t.Errorf("live entries after undo: %d", len(f.j.Live()))
			}
			// Undo is safe to run twice.
			for _, e := range f.j.Entries() {
				if err := steps.Undoers(f.h)[e.Step](ctx, &engine.Undo{Journal: f.j, Report: f.rep}, e); err != nil {
					t.Errorf("second undo of %s: %v", e.Key, err)
				}
			}
			equal(t, "listing after a second undo", listing(t, f.root), before)
		})
	}
}

func TestFileCheckNeedsItsParentAndOwner(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := engine.NewRun(false)
	_, err := steps.NewFile(f.h, "/opt/nodir/f", []byte("x"), 0o644, "root", "root").Check(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "/opt/nodir does not exist") {
		t.Errorf("Check of a file in a missing directory: %v", err)
	}
	_, err = steps.NewFile(f.h, "/opt/f", []byte("x"), 0o644, "nobody", "root").Check(ctx, r)
	if err == nil || !strings.Contains(err.Error(), `owner "nobody" does not exist`) {
		t.Errorf("Check of a file with a missing owner: %v", err)
	}
	_, err = (&steps.Directory{H: f.h, Path: "/opt/d", Mode: 0o755, Owner: "root", Group: "nogroup"}).Check(ctx, r)
	if err == nil || !strings.Contains(err.Error(), `group "nogroup" does not exist`) {
		t.Errorf("Check of a directory with a missing group: %v", err)
	}
	if err := os.Mkdir(f.path("/opt/d"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = steps.NewFile(f.h, "/opt/d", []byte("x"), 0o644, "root", "root").Check(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Check of a file where a directory is: %v", err)
	}
	f.write("/opt/f", "x", 0o644, 0, 0)
	_, err = (&steps.Directory{H: f.h, Path: "/opt/f", Mode: 0o755, Owner: "root", Group: "root"}).Check(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Check of a directory where a file is: %v", err)
	}
}

func TestSymlinksAreNeverFollowed(t *testing.T) {
	ctx := context.Background()
	t.Run("at the destination", func(t *testing.T) {
		f := newFixture(t)
		outside := filepath.Join(filepath.Dir(f.root), "secret")
		if err := os.WriteFile(outside, []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, f.path("/opt/f")); err != nil {
			t.Fatal(err)
		}
		s := steps.NewFile(f.h, "/opt/f", []byte("evil\n"), 0o644, "root", "root")
		r := engine.NewRun(false)
		if _, err := s.Check(ctx, r); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Check: %v, want ErrSymlink", err)
		}
		if err := s.Apply(ctx, r, engine.Change{Action: "update"}); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Apply: %v, want ErrSymlink", err)
		}
		d := &steps.Directory{H: f.h, Path: "/opt/f", Mode: 0o755, Owner: "root", Group: "root"}
		if _, err := d.Check(ctx, r); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Directory Check: %v, want ErrSymlink", err)
		}
		if err := d.Apply(ctx, r, engine.Change{Action: "update"}); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Directory Apply: %v, want ErrSymlink", err)
		}
		if b, _ := os.ReadFile(outside); string(b) != "secret\n" {
			t.Errorf("the symlink's target was written: %q", b)
		}
		if !strings.HasPrefix(f.stat("/opt/f"), "link ") {
			t.Errorf("the symlink was replaced: %s", f.stat("/opt/f"))
		}
		fi, _ := os.Stat(outside)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("the target's mode changed to %v", fi.Mode().Perm())
		}
	})
	t.Run("in a parent directory", func(t *testing.T) {
		f := newFixture(t)
		outside := filepath.Join(filepath.Dir(f.root), "elsewhere")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, f.path("/opt/demo")); err != nil {
			t.Fatal(err)
		}
		r := engine.NewRun(false)
		s := steps.NewFile(f.h, "/opt/demo/app.py", []byte("evil\n"), 0o644, "root", "root")
		if _, err := s.Check(ctx, r); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Check: %v, want ErrSymlink", err)
		}
		if err := s.Apply(ctx, r, engine.Change{Action: "create"}); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Apply: %v, want ErrSymlink", err)
		}
		d := &steps.Directory{H: f.h, Path: "/opt/demo/data", Mode: 0o755, Owner: "root", Group: "root"}
		if _, err := d.Check(ctx, r); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Directory Check: %v, want ErrSymlink", err)
		}
		if err := d.Apply(ctx, r, engine.Change{Action: "create"}); !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("Directory Apply: %v, want ErrSymlink", err)
		}
		// The whole plan fails on it and writes nothing through it.
		before := listing(t, f.root)
		_, err := f.install(loadPlan(t, version{}))
		if !errors.Is(err, fsutil.ErrSymlink) {
			t.Errorf("install: %v, want ErrSymlink", err)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("install wrote through the symlink: %v", entries)
		}
		equal(t, "listing after the failed install", listing(t, f.root), before)
		if _, ok := f.acc.Users["demo"]; ok {
			t.Error("user demo is left after the failed install")
		}
	})
}

func TestEnableRefusesMaskedUnit(t *testing.T) {
	f := newFixture(t)
	m := &maskedSystemd{fakeSystemd: f.sd}
	f.h.Systemd = m
	_, err := (&steps.Enable{H: f.h, Unit: unitName}).Check(context.Background(), engine.NewRun(false))
	if err == nil || !strings.Contains(err.Error(), "masked") {
		t.Errorf("Check of a masked unit: %v", err)
	}
}

// maskedSystemd reports every unit file as masked.
type maskedSystemd struct{ *fakeSystemd }

func (m *maskedSystemd) UnitFileState(ctx context.Context, unit string) (string, error) {
	return "masked", nil
}

func TestDryRunOfANewUserAndGroup(t *testing.T) {
	// The group is named apart from the user: files owned by the user and
	// its group are planned although neither exists yet.
	p := loadPlan(t, version{group: "demo-grp"})
	f := newFixture(t)
	e := steps.NewEngine(f.h, nil, f.rep)
	res, err := e.Install(context.Background(), engine.NewRun(true), f.planned(p), false)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "actions", actions(res), firstInstall)
	if d := stepNamed(t, res, "user demo").Detail; !strings.Contains(d, "group demo-grp") || !strings.Contains(d, "system user demo") {
		t.Errorf("user step detail %q", d)
	}
	if d := stepNamed(t, res, "file /opt/demo/app.py").Detail; d != "0640 demo:demo-grp 12 bytes" {
		t.Errorf("app.py detail %q", d)
	}
	g := newFixture(t)
	g.mustInstall(p)
	if got, want := g.stat("/opt/demo/app.py"), fmt.Sprintf("file 0640 %d:%d", g.acc.Users["demo"].uid, g.acc.Groups["demo-grp"]); got != want {
		t.Errorf("app.py: %s, want %s", got, want)
	}
}

// A systemd that reads units only on a daemon-reload (before 246) has the
// reload run at once, while the user and files are made, and the start wait
// for it.
func TestFirstInstallWithoutLoadOnDemand(t *testing.T) {
	f := newFixture(t)
	f.sd.NoLoadOnDemand = true
	res := f.mustInstall(loadPlan(t, version{}))
	equal(t, "actions", actions(res), firstInstall)
	equal(t, "order", f.log.Since(0), firstInstallOrder(false))
	equal(t, "reloads", f.sd.Reloads, []int{1})
	if b := f.entry("reload", "").Before; string(b) != `{}` {
		t.Errorf("reload entry before = %s", b)
	}
	if !f.sd.Active(unitName) || !f.sd.Enabled(unitName) {
		t.Error("the service is not active and enabled")
	}
}

func TestReloadWhenSystemdHasNotReadTheUnit(t *testing.T) {
	// A run that died after writing the unit file left it on disk, unread
	// by a systemd that reads units only on a reload, and not enabled.
	f := newFixture(t)
	f.sd.NoLoadOnDemand = true
	f.write(unitPath, unitV1, 0o644, 0, 0)
	res := f.mustInstall(loadPlan(t, version{}))
	if ch := changedSteps(res); strings.Contains(strings.Join(ch, ";"), "unit ") {
		t.Errorf("the unit file was rewritten: %v", ch)
	}
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reload", "reset-failed demo.service", "start demo.service"})
	if d := stepNamed(t, res, "systemd").Detail; d != "the unit's enablement changed" {
		t.Errorf("reload detail %q", d)
	}
	// Enabled by hand since, and still unread: the reload is for the unit.
	g := newFixture(t)
	g.sd.NoLoadOnDemand = true
	g.write(unitPath, unitV1, 0o644, 0, 0)
	if _, err := g.sd.Enable(context.Background(), unitName); err != nil {
		t.Fatal(err)
	}
	res = g.mustInstall(loadPlan(t, version{}))
	if d := stepNamed(t, res, "systemd").Detail; d != "systemd has not read the unit file yet" {
		t.Errorf("reload detail %q", d)
	}
}

// The same unit file, left unread and not enabled, on a systemd that reads
// it when asked for: the enable is what needs the reload, and it is left to
// the start.
func TestReloadForTheEnablementAlone(t *testing.T) {
	f := newFixture(t)
	f.write(unitPath, unitV1, 0o644, 0, 0)
	res := f.mustInstall(loadPlan(t, version{}))
	if ch := changedSteps(res); strings.Contains(strings.Join(ch, ";"), "unit ") {
		t.Errorf("the unit file was rewritten: %v", ch)
	}
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reset-failed demo.service", "start demo.service", "reload"})
	if d := stepNamed(t, res, "systemd").Detail; d != "the unit's enablement changed; systemd reloads as the service starts" {
		t.Errorf("reload detail %q", d)
	}
}

func TestUninstallPurgeSkipsPackagesRemovedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.pkgs.Installed = map[string]bool{}
	f.mustInstall(loadPlan(t, version{}))
	equal(t, "installed", f.pkgs.Calls, []string{"apt install python3 curl"})
	delete(f.pkgs.Installed, "curl") // the admin removed it
	if err := f.uninstall(&engine.Undo{PurgePackages: true}); err != nil {
		t.Fatal(err)
	}
	equal(t, "packages", f.pkgs.Calls, []string{"apt install python3 curl", "apt remove python3"})
	equal(t, "packages left", f.pkgs.List(), []string(nil))
}

func TestPreflightRefusesAHostBeforeAnyChange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := loadPlan(t, version{})
	// On a fresh host every step can be applied: later steps count on what
	// earlier ones create (the user, the directories).
	if _, err := engine.Preflight(ctx, f.planned(p)); err != nil {
		t.Fatalf("Preflight on a fresh host: %v", err)
	}
	outside := filepath.Join(filepath.Dir(f.root), "elsewhere")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.path("/opt/demo"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, f.path("/opt/demo/data")); err != nil {
		t.Fatal(err)
	}
	before := listing(t, f.root)
	_, err := engine.Preflight(ctx, f.planned(p))
	var se *engine.StepError
	if !errors.As(err, &se) || se.Step != "directory /opt/demo/data" || !errors.Is(err, fsutil.ErrSymlink) {
		t.Errorf("Preflight with a symlink in the way: %v", err)
	}
	equal(t, "listing", listing(t, f.root), before)
	if len(f.sd.Calls)+len(f.acc.Calls)+len(f.pkgs.Calls)+len(f.j.Entries()) != 0 || f.log.Len() != 0 {
		t.Error("Preflight acted, journaled or reported")
	}
}

func TestExistingUserWithANewGroup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.acc.AddGroup(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	if err := f.acc.AddUser(ctx, "demo", "users", "/home/demo", "/bin/sh", "the admin's"); err != nil {
		t.Fatal(err)
	}
	f.acc.Calls = nil
	res := f.mustInstall(loadPlan(t, version{group: "demo-grp"}))
	if s := stepNamed(t, res, "user demo"); s.Action != "create" || s.Detail != "group demo-grp" {
		t.Errorf("user step %+v", s)
	}
	equal(t, "accounts", f.acc.Calls, []string{"groupadd demo-grp"})
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "accounts", f.acc.Calls, []string{"groupadd demo-grp", "groupdel demo-grp"})
	if u, ok := f.acc.Users["demo"]; !ok || u.comment != "the admin's" {
		t.Errorf("the admin's user was not kept: %+v", u)
	}
}

// The hardening drop-in is written next to the unit, before the one reload;
// uninstall removes it and its directory.
func TestHardeningDropIn(t *testing.T) {
	f := newFixture(t)
	p := f.defaultPlan()
	f.mustInstall(p)
	dropIn := "/etc/systemd/system/notifydemo.service.d/50-notifyctl-hardening.conf"
	if got := f.read(dropIn); got != string(p.DropIn) || !strings.Contains(got, "ProtectSystem=strict") {
		t.Errorf("drop-in holds %q", got)
	}
	if got, want := f.stat(dropIn), "file 0644 "+f.owner("root"); got != want {
		t.Errorf("drop-in: %s, want %s", got, want)
	}
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(f.path("/etc/systemd/system/notifydemo.service.d")); !os.IsNotExist(err) {
		t.Errorf("the drop-in directory is left after uninstall: %v", err)
	}
}

// A unit file the plan writes over a package's unit that systemd has loaded
// (and that is not running): systemd holds the package's file, and calls it
// current, since that file did not change. The reload comes first, or the
// service would start from the package's unit.
func TestUnitOverAPackagesUnitReloadsFirst(t *testing.T) {
	f := newFixture(t)
	if err := os.MkdirAll(f.path("/usr/lib/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.write("/usr/lib/systemd/system/demo.service", "[Service]\nExecStart=/usr/bin/demo\n", 0o644, 0, 0)
	if st, _ := f.sd.Peek(context.Background(), unitName); st.FragmentPath != "/usr/lib/systemd/system/demo.service" {
		t.Fatalf("the package's unit is not loaded: %+v", st)
	}
	res := f.mustInstall(loadPlan(t, version{}))
	if b := f.entry("reload", "").Before; string(b) != `{}` {
		t.Errorf("reload entry before = %s", b)
	}
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reload", "reset-failed demo.service", "start demo.service"})
	if d := stepNamed(t, res, "systemd").Detail; d != "a unit file changed" {
		t.Errorf("reload detail %q", d)
	}
}

// The readiness timeout does not count a reload the start waits for: a host
// with many units may take longer to reload than the service to start.
func TestReadinessTimeoutDoesNotCountTheReload(t *testing.T) {
	f := newFixture(t)
	f.sd.ReloadTakes = 400 * time.Millisecond
	planned := f.planned(loadPlan(t, version{}))
	for _, s := range planned {
		if start, ok := s.(*steps.Start); ok {
			start.Timeout = 200 * time.Millisecond // below what a plan may set
		}
	}
	if _, err := f.engine().Install(context.Background(), engine.NewRun(false), planned, false); err != nil {
		t.Fatal(err)
	}
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reset-failed demo.service", "start demo.service", "reload"})
	if !f.sd.Active(unitName) {
		t.Error("the service is not active")
	}
}

// A start job that waits (for another unit) leaves the unit inactive: the
// reload left to the start goes ahead after a bounded number of looks.
func TestReloadGoesAheadOfAStartJobThatWaits(t *testing.T) {
	f := newFixture(t)
	f.sd.JobsWait = true
	f.mustInstall(loadPlan(t, version{}))
	equal(t, "systemd calls", f.sd.Calls, []string{"enable demo.service", "reset-failed demo.service", "start demo.service", "reload"})
	if !f.sd.Active(unitName) {
		t.Error("the service is not active")
	}
}
