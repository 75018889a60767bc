package steps_test

import (
	"os"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/pkg/steps"
)

// withoutConf is the test plan without its /etc/demo.conf.
func withoutConf(y string) string {
	return strings.Replace(y, "  - source: demo.conf\n    dest: /etc/demo.conf\n    mode: \"0644\"\n", "", 1)
}

// withoutData is the test plan without its /opt/demo/data directory.
func withoutData(y string) string {
	return strings.Replace(y, "  - path: /opt/demo/data\n    mode: \"0700\"\n    owner: demo\n", "", 1)
}

func changed(res engine.Result) []string {
	var out []string
	for _, s := range res.Steps {
		if s.Changed {
			out = append(out, s.Name+" = "+s.Action)
		}
	}
	return out
}

func TestDroppedFileIsRemoved(t *testing.T) {
	f := newFixture(t)
	before := listing(t, f.root)
	f.mustInstall(loadPlan(t, version{}))

	res := f.mustInstall(loadPlan(t, version{edit: withoutConf}))
	// Gone, and the service restarted: it runs what the plan now says.
	equal(t, "changed", changed(res), []string{"file /etc/demo.conf = remove", "service demo.service = restart"})
	if d := stepNamed(t, res, "file /etc/demo.conf").Diff; !strings.Contains(d, "-"+strings.TrimSuffix(confV1, "\n")) {
		t.Errorf("removal diff:\n%s", d)
	}
	if _, err := os.Lstat(f.path("/etc/demo.conf")); !os.IsNotExist(err) {
		t.Errorf("/etc/demo.conf is left: %v", err)
	}
	// No longer the plan's: nothing live in the journal names it.
	for _, e := range f.j.Live() {
		if e.Key == "/etc/demo.conf" {
			t.Errorf("journal entry %d (%s %s) still live", e.Seq, e.Step, e.Key)
		}
	}
	// Once gone, it is gone: a rerun changes nothing.
	f.mustChangeNothing(loadPlan(t, version{edit: withoutConf}), "rerun")
	f.mustUninstallTo(before)
}

func TestFailedInstallPutsTheDroppedFileBack(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	installed := listing(t, f.root)

	f.sd.FailStarts = 1
	if _, err := f.install(loadPlan(t, version{edit: withoutConf})); err == nil {
		t.Fatal("install succeeded with a failing start")
	}
	// The rollback wrote it back, with its content, mode and owner.
	equal(t, "listing after the rollback", listing(t, f.root), installed)
	f.mustHold("/etc/demo.conf", confV1)
}

func TestFailedInstallPutsTheDroppedDirectoryBack(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	installed := listing(t, f.root)

	f.sd.FailStarts = 1
	res, err := f.install(loadPlan(t, version{edit: withoutData}))
	if err == nil {
		t.Fatal("install succeeded with a failing start")
	}
	if s := stepNamed(t, res, "directory /opt/demo/data"); s.Action != "remove" {
		t.Errorf("directory step %+v", s)
	}
	// Made again by the rollback, with its mode and owner.
	equal(t, "listing after the rollback", listing(t, f.root), installed)
}

func TestDroppedFileThatWasThereBeforeIsLeftToUninstall(t *testing.T) {
	f := newFixture(t)
	f.write("/etc/demo.conf", "# the admin's own config\n", 0o600, 0, 0)
	before := listing(t, f.root)
	f.mustInstall(loadPlan(t, version{}))

	// Install replaced it; the plan no longer has it. Install does not
	// decide what to put back: it names it, and uninstall restores it.
	p := loadPlan(t, version{edit: withoutConf})
	_, left := steps.ForPlan(f.h, p, f.j.Live())
	equal(t, "left", left, []string{"file /etc/demo.conf"})
	f.mustChangeNothing(p, "install")
	f.mustHold("/etc/demo.conf", confV1)
	f.mustUninstallTo(before)
}

// mustChangeNothing installs p and checks that nothing changed.
func (f *fixture) mustChangeNothing(p *plan.Plan, what string) {
	f.t.Helper()
	if res := f.mustInstall(p); res.Changed != 0 {
		f.t.Errorf("%s changed %v", what, changed(res))
	}
}

// mustUninstallTo uninstalls, packages too, and checks that the files are
// as listed before.
func (f *fixture) mustUninstallTo(before []string) {
	f.t.Helper()
	if err := f.uninstall(&engine.Undo{PurgePackages: true}); err != nil {
		f.t.Fatal(err)
	}
	equal(f.t, "listing after uninstall", listing(f.t, f.root), before)
}

// mustHold checks that the file at p holds want.
func (f *fixture) mustHold(p, want string) {
	f.t.Helper()
	if got := f.read(p); got != want {
		f.t.Errorf("%s holds %q, want %q", p, got, want)
	}
}

func TestDroppedFileChangedByTheAdminIsKept(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	f.write("/etc/demo.conf", "# the admin's now\n", 0o644, 0, 0)

	// Kept, and nothing else to do: the plan is up to date.
	f.mustChangeNothing(loadPlan(t, version{edit: withoutConf}), "install")
	f.mustHold("/etc/demo.conf", "# the admin's now\n")
	// And uninstall keeps it too, as the administrator's.
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	f.mustHold("/etc/demo.conf", "# the admin's now\n")
}

func TestDroppedDirectoryIsRemovedOnlyWhenEmpty(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	f.write("/opt/demo/data/extra.txt", "not the plan's\n", 0o644, 0, 0)

	f.mustChangeNothing(loadPlan(t, version{edit: withoutData}), "install with a directory holding another's file")
	f.mustHold("/opt/demo/data/extra.txt", "not the plan's\n")

	if err := os.Remove(f.path("/opt/demo/data/extra.txt")); err != nil {
		t.Fatal(err)
	}
	res := f.mustInstall(loadPlan(t, version{edit: withoutData}))
	equal(t, "changed", changed(res), []string{"directory /opt/demo/data = remove", "service demo.service = restart"})
	if _, err := os.Lstat(f.path("/opt/demo/data")); !os.IsNotExist(err) {
		t.Errorf("/opt/demo/data is left: %v", err)
	}
}

func TestProfileNoneRemovesTheDropIn(t *testing.T) {
	f := newFixture(t)
	before := listing(t, f.root)
	p := f.defaultPlan()
	f.mustInstall(p)
	dir := "/etc/systemd/system/notifydemo.service.d"

	// The plan, now with hardening profile none: no drop-in.
	p.DropIn = nil
	calls := len(f.sd.Calls)
	res := f.mustInstall(p)
	equal(t, "changed", changed(res), []string{
		"unit " + dir + "/50-notifyctl-hardening.conf = remove",
		"systemd = daemon-reload",
		"directory " + dir + " = remove",
		"service notifydemo.service = restart",
	})
	// One reload before the restart: the service runs without the sandbox.
	equal(t, "systemd calls", f.sd.CallsSince(calls), []string{"reload", "reset-failed notifydemo.service", "restart notifydemo.service"})
	if _, err := os.Lstat(f.path(dir)); !os.IsNotExist(err) {
		t.Errorf("%s is left: %v", dir, err)
	}
	f.mustChangeNothing(p, "rerun")
	f.mustUninstallTo(before)
}

func TestRenamedUserIsLeftToUninstall(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	p := loadPlan(t, version{edit: func(y string) string {
		y = strings.Replace(y, "user:\n  name: demo\n", "user:\n  name: demo2\n", 1)
		return strings.ReplaceAll(y, "owner: demo\n", "owner: demo2\n")
	}})
	_, left := steps.ForPlan(f.h, p, f.j.Live())
	equal(t, "left", left, []string{"user demo"})
}
