package steps_test

import (
	"context"
	"os"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// The group changed between two installs: uninstall removes both groups it
// created, not only the first.
func TestUninstallRemovesEveryGroupItCreated(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	f.mustInstall(loadPlan(t, version{group: "demo2"}))
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"demo", "demo2"} {
		if _, ok := f.acc.Groups[g]; ok {
			t.Errorf("group %s left behind", g)
		}
	}
}

// An undo that fails once (userdel while the user still runs something):
// the next uninstall finishes the job without replaying what was undone.
func TestUninstallThatFailedHalfwayCanBeRunAgain(t *testing.T) {
	f := newFixture(t)
	f.mustInstall(loadPlan(t, version{}))
	f.mustInstall(loadPlan(t, version{app: appV2}))
	e := f.engine()
	orig := e.Undoers["user"]
	fail := true
	e.Undoers["user"] = func(ctx context.Context, u *engine.Undo, en journal.Entry) error {
		if fail {
			fail = false
			return os.ErrPermission
		}
		return orig(ctx, u, en)
	}
	if err := e.Uninstall(context.Background(), &engine.Undo{}); err == nil {
		t.Fatal("the first uninstall did not report the failed undo")
	}
	live := f.j.Live()
	if len(live) != 1 || live[0].Step != "user" {
		t.Fatalf("after a failed undo of the user, live entries are %+v, want the user's alone", live)
	}
	if err := e.Uninstall(context.Background(), &engine.Undo{}); err != nil {
		t.Fatalf("the second uninstall: %v", err)
	}
	if _, err := os.Stat(f.path("/opt/demo/app.py")); !os.IsNotExist(err) {
		t.Errorf("app.py came back: %v", err)
	}
	if n := len(f.j.Live()); n != 0 {
		t.Errorf("%d live entries after the second uninstall", n)
	}
}

// The first install changed only the mode of an existing file, a later one
// its content: uninstall restores the content from before install too.
func TestUninstallRestoresContentAfterAModeOnlyFirstChange(t *testing.T) {
	f := newFixture(t)
	f.write("/etc/demo.conf", confV1, 0o600, 0, 0)
	f.mustInstall(loadPlan(t, version{}))
	f.mustInstall(loadPlan(t, version{conf: "port = 6000\n"}))
	if err := f.uninstall(&engine.Undo{}); err != nil {
		t.Fatal(err)
	}
	if got := f.read("/etc/demo.conf"); got != confV1 {
		t.Errorf("/etc/demo.conf after uninstall = %q, want the admin's %q", got, confV1)
	}
	if got := f.stat("/etc/demo.conf"); got != "file 0600 0:0" {
		t.Errorf("/etc/demo.conf after uninstall: %s", got)
	}
}
