//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// failpointBuild is notifyctl built with -tags failpoints, once per test process.
var failpointBuild struct {
	once sync.Once
	path string
	err  error
}

func failpointBin(t *testing.T) string {
	t.Helper()
	failpointBuild.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			failpointBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "e2e-failpoints-")
		if err != nil {
			failpointBuild.err = err
			return
		}
		out := filepath.Join(dir, "notifyctl")
		cmd := exec.Command("go", "build", "-tags", "failpoints", "-o", out, "./cmd/notifyctl")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			failpointBuild.err = fmt.Errorf("go build -tags failpoints: %v\n%s", err, b)
			return
		}
		failpointBuild.path = out
	})
	if failpointBuild.err != nil {
		t.Fatal(failpointBuild.err)
	}
	return failpointBuild.path
}

// hits lists the failpoints a command passes, in order ("NAME:N").
func (h *Host) hits(args ...string) []string {
	h.t.Helper()
	h.MustRun("rm", "-f", "/tmp/notifyctl-trace")
	stdout, stderr, code := h.Run(append([]string{"env", "NOTIFYCTL_FAILPOINT_TRACE=/tmp/notifyctl-trace", "notifyctl"}, args...)...)
	if code != 0 {
		h.t.Fatalf("notifyctl %v with a trace: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return strings.Fields(h.MustRun("cat", "/tmp/notifyctl-trace"))
}

// crashAt runs notifyctl and expects it to die at the failpoint hit.
func (h *Host) crashAt(hit string, args ...string) {
	h.t.Helper()
	_, stderr, code := h.Run(append([]string{"env", "NOTIFYCTL_FAILPOINT=" + hit, "notifyctl"}, args...)...)
	if code == 0 || !strings.Contains(stderr, "failpoint "+hit+": crashing") {
		h.t.Fatalf("notifyctl %v did not crash at %s: exit %d\n%s", args, hit, code, stderr)
	}
}

// uninstallToPristine runs uninstall after what happened, and checks that
// the host is as it was before install: files, users and systemd's view.
func (h *Host) uninstallToPristine(pristine Snapshot, after string) {
	h.t.Helper()
	if _, stderr, code := h.Notifyctl("uninstall"); code != 0 {
		h.t.Fatalf("uninstall after %s: exit %d\n%s", after, code, stderr)
	}
	if d := pristine.Diff(h.Snapshot()); len(d) > 0 {
		h.t.Fatalf("%s, then uninstall, left:\n%s", after, strings.Join(d, "\n"))
	}
	if got := h.Prop("notifydemo.service", "LoadState"); got != "not-found" {
		h.t.Fatalf("%s, then uninstall: systemd still has the unit (%s)", after, got)
	}
}

// Killed at every failpoint of install, a later uninstall leaves the host as
// it was, and a later install converges to the fully installed state.
func TestCrashAtEveryInstallFailpoint(t *testing.T) {
	h := NewHostWithBin(t, failpointBin(t))
	pristine := h.Snapshot()
	hits := h.hits("install")
	h.notifyctlJSON(0, "uninstall")
	assertSame(t, "install then uninstall", pristine, h.Snapshot())
	names := map[string]bool{}
	for _, hit := range hits {
		names[strings.Split(hit, ":")[0]] = true
	}
	for _, want := range []string{"engine.after-intent", "engine.after-apply", "journal.mid-record", "fsutil.before-rename", "systemd.job-queued"} {
		if !names[want] {
			t.Fatalf("install never passes failpoint %s (hits: %v)", want, hits)
		}
	}
	t.Logf("%d failpoints in install", len(hits))
	for i, hit := range hits {
		h.crashAt(hit, "install")
		if i%2 == 0 {
			// Converge first: a later install finishes the job.
			r := h.notifyctlJSON(0, "install")
			if !r.OK || h.Prop("notifydemo.service", "ActiveState") != "active" {
				t.Fatalf("install after a crash at %s did not converge: %+v", hit, r)
			}
			if again := h.notifyctlJSON(0, "install"); again.Changed != 0 {
				t.Fatalf("after a crash at %s and a converging install, a rerun changed %v", hit, again.changedSteps())
			}
		}
		h.uninstallToPristine(pristine, "a crash of install at "+hit)
	}
}

// Killed at every failpoint of uninstall, the next uninstall finishes it.
func TestCrashAtEveryUninstallFailpoint(t *testing.T) {
	h := NewHostWithBin(t, failpointBin(t))
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install")
	hits := h.hits("uninstall")
	assertSame(t, "install then uninstall", pristine, h.Snapshot())
	t.Logf("%d failpoints in uninstall", len(hits))
	for _, hit := range hits {
		h.notifyctlJSON(0, "install")
		h.crashAt(hit, "uninstall")
		h.uninstallToPristine(pristine, "a crash of uninstall at "+hit)
	}
}

// SIGKILL at random moments of install (while useradd runs, while systemd
// starts the unit, ...), then uninstall: the host is as it was.
func TestRandomKillsDuringInstall(t *testing.T) {
	h := NewHost(t)
	pristine := h.Snapshot()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for i := 0; i < 12; i++ {
		delay := time.Duration(rng.IntN(350)) * time.Millisecond
		h.Run("bash", "-c", fmt.Sprintf("notifyctl install >/dev/null 2>&1 & sleep %.3f; kill -KILL $! 2>/dev/null; wait", delay.Seconds()))
		if i%3 == 0 {
			if r := h.notifyctlJSON(0, "install"); !r.OK {
				t.Fatalf("install after a kill at %v did not converge", delay)
			}
		}
		h.uninstallToPristine(pristine, fmt.Sprintf("a kill of install at %v", delay))
	}
}

// A file install created and the admin edited afterwards is kept, and so is
// the admin's own file in an owned directory; --purge removes the edited one.
func TestAdminChangesSurviveUninstall(t *testing.T) {
	h := NewHost(t)
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install")
	h.MustRun("sh", "-c", "echo '# tuned by the admin' >> /opt/notifydemo/app.py; echo data > /opt/notifydemo/data.db")
	_, stderr, code := h.Notifyctl("uninstall")
	if code != 0 {
		t.Fatalf("uninstall: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"kept /opt/notifydemo/app.py: changed since notifyctl wrote it", "kept /opt/notifydemo: it holds files"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("uninstall does not say %q:\n%s", want, stderr)
		}
	}
	if got := h.MustRun("ls", "/opt/notifydemo"); got != "app.py\ndata.db\n" {
		t.Errorf("/opt/notifydemo holds %q, want the edited app.py and data.db only", got)
	}
	if !strings.Contains(h.MustRun("cat", "/opt/notifydemo/app.py"), "# tuned by the admin") {
		t.Errorf("the admin's edit is lost")
	}

	// Uninstall --purge later removes what was kept as notifyctl's: the
	// edited app.py and the user; the admin's own data.db stays, and so does
	// the directory holding it.
	h.notifyctlJSON(0, "uninstall", "--purge")
	if got := h.MustRun("ls", "/opt/notifydemo"); got != "data.db\n" {
		t.Errorf("after uninstall --purge, /opt/notifydemo holds %q, want data.db alone", got)
	}
	h.MustRun("rm", "-r", "/opt/notifydemo")
	assertSame(t, "install, edits, uninstall, uninstall --purge", pristine, h.Snapshot())
}

// A second run waits for the first, saying for whom, or gives up after
// --lock-timeout.
func TestOneRunAtATime(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "import time\ntime.sleep(4)\napp = Flask(__name__)", 1)
	})
	h.MustRun("bash", "-c", "notifyctl install "+dir+" >/root/first.log 2>&1 &")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if held, _, _ := h.Run("cat", "/run/notifyctl.lock"); strings.Contains(held, "notifyctl install notifydemo") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first install never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, stderr, code := h.Notifyctl("install", dir, "--lock-timeout", "500ms")
	if code != 1 || !strings.Contains(stderr, "another notifyctl run holds the lock") || !strings.Contains(stderr, "notifyctl install notifydemo") {
		t.Errorf("a second install with --lock-timeout 500ms: exit %d\n%s", code, stderr)
	}
	r := h.notifyctlJSON(0, "install", dir)
	if r.Changed != 0 {
		t.Errorf("the waiting install changed %v after the first finished", r.changedSteps())
	}
	if first := h.MustRun("cat", "/root/first.log"); !strings.Contains(first, "installed and ready") {
		t.Errorf("the first install did not finish:\n%s", first)
	}
}

// A write that fails midway (the disk is full) rolls the run back and says
// what failed.
func TestDiskFullRollsBack(t *testing.T) {
	h := NewHost(t)
	h.MustRun("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", "/opt")
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install")
	if code != 1 || !strings.Contains(stderr, "no space left on device") || !strings.Contains(stderr, "rolling back") {
		t.Fatalf("install on a full disk: exit %d\n%s", code, stderr)
	}
	if got := h.MustRun("ls", "-A", "/opt"); got != "" {
		t.Errorf("/opt holds %q after the rollback", got)
	}
	assertSame(t, "a failed install", pristine, h.Snapshot())
}

// A service that never becomes ready fails after --timeout, rolled back, with
// the unit's last log lines.
func TestNeverReadyTimesOut(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "import time, sys\nprint('notifydemo: waiting for the database', file=sys.stderr, flush=True)\ntime.sleep(3600)", 1)
	})
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir, "--timeout", "3s")
	if code != 1 || !strings.Contains(stderr, "not active after 3s") || !strings.Contains(stderr, "notifydemo: waiting for the database") {
		t.Fatalf("install of a service that never answers: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a timed-out install", pristine, h.Snapshot())
}

// A journal changed by hand is refused; --force undoes what is safe (what
// was recorded before the change, and names a plan may own) and lists the
// rest, keeping the journal as the record of it.
func TestTamperedJournalRefused(t *testing.T) {
	h := NewHost(t)
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install")
	file := filepath.Join(h.Root(), "/var/lib/notifyctl/notifydemo/journal")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A forged last record: "install created /etc/shadow", to be removed.
	forged := `{"seq":999,"op":"intent","run":"x","time":"2026-01-01T00:00:00Z","step":"file","key":"/etc/shadow","action":"create","before":{"exists":false},"sum":"0000000000000000"}` + "\n"
	if err := os.WriteFile(file, append(data, forged...), 0o600); err != nil {
		t.Fatal(err)
	}
	before := h.Snapshot()
	_, stderr, code := h.Notifyctl("uninstall")
	if code != 2 || !strings.Contains(stderr, "fails validation") || !strings.Contains(stderr, "/etc/shadow") || !strings.Contains(stderr, "changed by hand") {
		t.Fatalf("uninstall with a tampered journal: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a refused uninstall", before, h.Snapshot())
	_, stderr, code = h.Notifyctl("uninstall", "--force")
	if code != 0 || !strings.Contains(stderr, "left file /etc/shadow") || !strings.Contains(stderr, "kept the journal") {
		t.Fatalf("uninstall --force: exit %d\n%s", code, stderr)
	}
	// Everything install did is undone (the password files included, where
	// the user was removed again); what differs from before install is the
	// journal, kept with the refused entry. /etc/shadow is as it was.
	var left []string
	for _, d := range pristine.Diff(h.Snapshot()) {
		if p := strings.Fields(d)[1]; !strings.HasPrefix(p, "/var/lib/notifyctl") {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("after --force, the host differs from before install in %q", left)
	}
	if h.Prop("notifydemo.service", "LoadState") != "not-found" {
		t.Errorf("the unit is still there after --force")
	}
}

// Killed at every failpoint of an install that removes what the plan no
// longer has (here the hardening drop-in, the profile now "none"), a later
// install converges and a later uninstall leaves the host as it was.
func TestCrashAtEveryFailpointOfARemovingInstall(t *testing.T) {
	h := NewHostWithBin(t, failpointBin(t))
	strict := h.copyPlan("/root/strict")
	none := h.unhardenedPlan("/root/none")
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install", strict)
	hits := h.hits("install", none)
	h.notifyctlJSON(0, "uninstall")
	assertSame(t, "install, a removing install, then uninstall", pristine, h.Snapshot())
	t.Logf("%d failpoints in the removing install", len(hits))
	for i, hit := range hits {
		h.notifyctlJSON(0, "install", strict)
		h.crashAt(hit, "install", none)
		if i%2 == 0 {
			if r := h.notifyctlJSON(0, "install", none); !r.OK || h.Prop("notifydemo.service", "ActiveState") != "active" {
				t.Fatalf("install after a crash at %s did not converge: %+v", hit, r)
			}
			if _, _, code := h.Run("test", "-e", "/etc/systemd/system/notifydemo.service.d"); code == 0 {
				t.Fatalf("after a crash at %s and a converging install, the drop-in directory is left", hit)
			}
			if again := h.notifyctlJSON(0, "install", none); again.Changed != 0 {
				t.Fatalf("after a crash at %s and a converging install, a rerun changed %v", hit, again.changedSteps())
			}
		}
		h.uninstallToPristine(pristine, "a crash of a removing install at "+hit)
	}
}

// A group named otherwise than the user is made by itself, before the user:
// killed between the two, install leaves a group that uninstall removes.
func TestCrashBetweenGroupAndUser(t *testing.T) {
	h := NewHostWithBin(t, failpointBin(t))
	dir := h.copyPlan("/root/grp")
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		s = strings.Replace(s, "  group: notifydemo\n", "  group: notifydemo-grp\n", 1)
		return strings.Replace(s, "Group=notifydemo", "Group=notifydemo-grp", 1)
	})
	h.editPlanFile(dir+"/notifydemo.service", func(s string) string {
		return strings.Replace(s, "Group=notifydemo\n", "Group=notifydemo-grp\n", 1)
	})
	pristine := h.Snapshot()
	h.crashAt("user.after-group:1", "install", dir)
	if _, _, code := h.Run("getent", "group", "notifydemo-grp"); code != 0 {
		t.Fatal("killed after the group was made, there is no group notifydemo-grp")
	}
	h.uninstallToPristine(pristine, "a crash between groupadd and useradd")
	if _, _, code := h.Run("getent", "group", "notifydemo-grp"); code == 0 {
		t.Error("group notifydemo-grp is left after uninstall")
	}
}

// An upgrade killed after it wrote the new app.py but before the restart
// leaves the old app running while the files are the new ones. The next
// install finds every file as the plan has it, and restarts the service all
// the same, from the journal: the new app answers, and the run after that
// changes nothing. status names the restart that is due meanwhile.
func TestKilledUpgradeStillRestarts(t *testing.T) {
	h := NewHostWithBin(t, failpointBin(t))
	dir := h.copyPlan("/root/plan")
	h.notifyctlJSON(0, "install", dir)
	pid := h.Prop("notifydemo.service", "MainPID")

	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "Hello from Type=notify demo!", "Hello from the upgrade", 1)
	})
	h.crashAt("start.before-job:1", "install", dir)
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/"); got != "Hello from Type=notify demo!\n" {
		t.Fatalf("after the killed upgrade, the app answers %q: it was restarted after all", got)
	}
	if got := h.Prop("notifydemo.service", "MainPID"); got != pid {
		t.Fatalf("MainPID %s -> %s: the killed upgrade restarted the service", pid, got)
	}
	stdout, _, code := h.Notifyctl("status", dir)
	if code != 3 || !strings.Contains(stdout, "ended before restarting it") {
		t.Errorf("status with a restart due: exit %d, want 3 naming the restart\n%s", code, stdout)
	}

	r := h.notifyctlJSON(0, "install", dir)
	want := []string{"restart service notifydemo.service"}
	if got := r.changedSteps(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("install after the killed upgrade: changed steps %q, want %q", got, want)
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/"); got != "Hello from the upgrade\n" {
		t.Errorf("after the install that followed, the app answers %q", got)
	}
	if got := h.Prop("notifydemo.service", "MainPID"); got == pid {
		t.Errorf("MainPID still %s: not restarted", pid)
	}
	if r := h.notifyctlJSON(0, "install", dir); len(r.changedSteps()) != 0 {
		t.Errorf("the install after that changed %q", r.changedSteps())
	}
	if _, _, code := h.Notifyctl("status", dir); code != 0 {
		t.Errorf("status once restarted: exit %d", code)
	}
}

// A first install killed with the unit's links on disk and not read by
// systemd: right after the enable, before the reload step; or just before
// the start job, the reload left to that start. systemd has read the unit
// (when asked for it) but holds no link to it, and nothing on disk is left
// to change for the unit. status names the reload; the next install does
// it, and starts the service.
func TestKilledWithUnreadLinksStillReloads(t *testing.T) {
	crashes := []string{"engine.after-apply:4"} // unit, drop-in directory, drop-in, enable
	if v := systemdVersion(t); v >= 246 && v < 255 {
		crashes = append(crashes, "start.before-job:1")
	}
	for _, crash := range crashes {
		t.Run(crash, func(t *testing.T) {
			h := NewHostWithBin(t, failpointBin(t))
			h.crashAt(crash, "install")
			if got := h.Prop("notifydemo.service", "UnitFileState"); got != "enabled" {
				t.Fatalf("after the killed install the unit is %s, not enabled: the crash point is not after the enable", got)
			}
			if wants := strings.Fields(h.Prop("multi-user.target", "Wants")); slices.Contains(wants, "notifydemo.service") {
				t.Fatalf("multi-user.target wants notifydemo.service after the killed install: systemd reloaded after all")
			}
			stdout, _, code := h.Notifyctl("status")
			if code != 3 || !strings.Contains(stdout, "systemd has not read the unit's links yet") {
				t.Errorf("status with links unread: exit %d, want 3 naming the reload\n%s", code, stdout)
			}
			r := h.notifyctlJSON(0, "install")
			if got := r.changedSteps(); len(got) == 0 || got[0] != "daemon-reload systemd" || got[len(got)-1] != "start service notifydemo.service" {
				t.Errorf("install after the killed one: changed steps %q, want the reload first and the start last", got)
			}
			if wants := strings.Fields(h.Prop("multi-user.target", "Wants")); !slices.Contains(wants, "notifydemo.service") {
				t.Errorf("multi-user.target does not want notifydemo.service after the install: %q", wants)
			}
			if got := h.Prop("notifydemo.service", "ActiveState"); got != "active" {
				t.Errorf("ActiveState=%s", got)
			}
			if _, _, code := h.Notifyctl("status"); code != 0 {
				t.Errorf("status once reloaded: exit %d", code)
			}
			if r := h.notifyctlJSON(0, "install"); len(r.changedSteps()) != 0 {
				t.Errorf("the install after that changed %q", r.changedSteps())
			}
		})
	}
}

// killedRollbackRestarts upgrades notifydemo's app.py, lets spoil make the
// upgrade fail while the new version runs, and kills the rollback after it
// put the old files back, before it restarted the service on them: the new
// version keeps answering. Once mend has undone spoil, reinstalling the
// old plan restarts the service all the same, and the install after that
// changes nothing.
func killedRollbackRestarts(t *testing.T, spoil func(h *Host, dir string), mend func(h *Host)) {
	h := NewHostWithBin(t, failpointBin(t))
	dir := h.copyPlan("/root/plan")
	h.notifyctlJSON(0, "install", dir)

	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "Hello from Type=notify demo!", "Hello from the upgrade", 1)
	})
	spoil(h, dir)
	h.crashAt("engine.before-finish:1", "install", dir)
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/"); got != "Hello from the upgrade\n" {
		t.Fatalf("after the killed rollback the app answers %q, want the new version still running", got)
	}
	mend(h)

	h.copyPlan(dir) // the plan as it was
	r := h.notifyctlJSON(0, "install", dir)
	if got := strings.Join(r.changedSteps(), "; "); got != "restart service notifydemo.service" {
		t.Errorf("install after the killed rollback: changed steps %q, want the restart alone", got)
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/"); got != "Hello from Type=notify demo!\n" {
		t.Errorf("after the install that followed, the app answers %q", got)
	}
	if r := h.notifyctlJSON(0, "install", dir); len(r.changedSteps()) != 0 {
		t.Errorf("the install after that changed %q", r.changedSteps())
	}
}

// The new version runs but fails the plan's readiness check: ready for
// systemd (the wrapper probes /health), not for the plan.
func TestKilledRollbackStillRestarts(t *testing.T) {
	killedRollbackRestarts(t, func(h *Host, dir string) {
		h.editPlanFile(dir+"/plan.yaml", func(s string) string {
			s = strings.Replace(s, "http: http://127.0.0.1:5001/health", "http: http://127.0.0.1:5001/nowhere", 1)
			return strings.Replace(s, "timeout: 30s", "timeout: 2s", 1)
		})
	}, func(*Host) {})
}

// The new version passed every check; only the mail after it failed.
func TestKilledRollbackAfterMailStillRestarts(t *testing.T) {
	killedRollbackRestarts(t, func(h *Host, dir string) {
		h.WriteFile("/usr/sbin/sendmail", []byte("#!/bin/sh\necho 'mail queue full' >&2\nexit 75\n"), 0o755)
	}, func(h *Host) { h.MustRun("rm", "/usr/sbin/sendmail") })
}
