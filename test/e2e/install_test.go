//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// result is what `notifyctl ... --json` prints.
type result struct {
	Plan    string `json:"plan"`
	OK      bool   `json:"ok"`
	Changed int    `json:"changed"`
	Steps   []struct {
		Name    string `json:"name"`
		Action  string `json:"action"`
		Changed bool   `json:"changed"`
	} `json:"steps"`
	Error string `json:"error"`
}

// notifyctlJSON runs notifyctl with --json and decodes its stdout, which must
// be exactly one JSON object.
func (h *Host) notifyctlJSON(wantCode int, args ...string) result {
	h.t.Helper()
	stdout, stderr, code := h.Notifyctl(append(args, "--json")...)
	if code != wantCode {
		h.t.Fatalf("notifyctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	var r result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		h.t.Fatalf("notifyctl %s --json: stdout is not one JSON object: %v\n%s", strings.Join(args, " "), err, stdout)
	}
	return r
}

// changedSteps lists the names of the steps that changed the host.
func (r result) changedSteps() []string {
	var out []string
	for _, s := range r.Steps {
		if s.Changed {
			out = append(out, s.Action+" "+s.Name)
		}
	}
	return out
}

// copyPlan copies the shipped notifydemo plan into the host at dir and
// returns the host path, so that a test can edit it.
func (h *Host) copyPlan(dir string) string {
	h.t.Helper()
	return h.copyPlanNamed("notifydemo", dir)
}

// copyPlanNamed copies a shipped plan into the host at dir.
func (h *Host) copyPlanNamed(name, dir string) string {
	h.t.Helper()
	root, err := repoRoot()
	if err != nil {
		h.t.Fatal(err)
	}
	h.copyDir(filepath.Join(root, "plans", name), dir)
	return dir
}

// copyDir copies the files of src into the host at dir; scripts (*.sh) are
// executable.
func (h *Host) copyDir(src, dir string) {
	h.t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			h.t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(e.Name(), ".sh") {
			mode = 0o755
		}
		h.WriteFile(filepath.Join(dir, e.Name()), data, mode)
	}
}

// editPlanFile rewrites a file of a plan copied into the host.
func (h *Host) editPlanFile(file string, edit func(string) string) {
	h.t.Helper()
	data, err := os.ReadFile(filepath.Join(h.Root(), file))
	if err != nil {
		h.t.Fatal(err)
	}
	h.WriteFile(file, []byte(edit(string(data))), 0o644)
}

func assertSame(t *testing.T, what string, before, after Snapshot) {
	t.Helper()
	if d := before.Diff(after); len(d) > 0 {
		t.Fatalf("%s changed the host:\n%s", what, strings.Join(d, "\n"))
	}
}

// The whole cycle of the example: preview, install, rerun, preview of
// uninstall, uninstall; the host ends exactly as it began.
func TestInstallRerunUninstall(t *testing.T) {
	h := NewHost(t)
	pristine := h.Snapshot()

	stdout, stderr, code := h.Notifyctl("plan")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"+++ /opt/notifydemo/app.py", "+++ /etc/systemd/system/notifydemo.service", "+Type=notify"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "would create user notifydemo") || !strings.Contains(stderr, "would start service notifydemo.service") {
		t.Errorf("plan does not say it would create the user and start the service:\n%s", stderr)
	}
	assertSame(t, "notifyctl plan", pristine, h.Snapshot())
	h.notifyctlJSON(0, "install", "--dry-run")
	assertSame(t, "notifyctl install --dry-run", pristine, h.Snapshot())

	first := h.notifyctlJSON(0, "install")
	if !first.OK || first.Plan != "notifydemo" || first.Changed != len(first.changedSteps()) || first.Changed < 8 {
		t.Fatalf("first install: %+v", first)
	}
	for unit, want := range map[string]string{"ActiveState": "active", "SubState": "running", "Type": "notify",
		"UnitFileState": "enabled", "StatusText": "notifydemo ready on :5001", "User": "notifydemo"} {
		if got := h.Prop("notifydemo.service", unit); got != want {
			t.Errorf("%s = %q, want %q", unit, got, want)
		}
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/health"); got != "OK\n" {
		t.Errorf("/health answered %q", got)
	}
	invocation := h.Prop("notifydemo.service", "InvocationID")
	pid := h.Prop("notifydemo.service", "MainPID")
	installed := h.Snapshot()

	again := h.notifyctlJSON(0, "install")
	if !again.OK || again.Changed != 0 || len(again.changedSteps()) != 0 || len(again.Steps) != len(first.Steps) {
		t.Fatalf("second install changed something: %+v", again)
	}
	if got := h.Prop("notifydemo.service", "InvocationID"); got != invocation {
		t.Errorf("second install restarted the service: InvocationID %s -> %s", invocation, got)
	}
	if got := h.Prop("notifydemo.service", "MainPID"); got != pid {
		t.Errorf("second install changed MainPID %s -> %s", pid, got)
	}
	assertSame(t, "a second install", installed, h.Snapshot())

	preview := h.notifyctlJSON(0, "uninstall", "--dry-run")
	if preview.Changed == 0 {
		t.Errorf("uninstall --dry-run previews nothing: %+v", preview)
	}
	assertSame(t, "notifyctl uninstall --dry-run", installed, h.Snapshot())
	if got := h.Prop("notifydemo.service", "ActiveState"); got != "active" {
		t.Errorf("uninstall --dry-run stopped the service: %s", got)
	}

	gone := h.notifyctlJSON(0, "uninstall")
	if !gone.OK || gone.Changed == 0 {
		t.Fatalf("uninstall: %+v", gone)
	}
	assertSame(t, "install then uninstall", pristine, h.Snapshot())
	if got := h.Prop("notifydemo.service", "LoadState"); got != "not-found" {
		t.Errorf("after uninstall systemd still knows the unit: LoadState=%s", got)
	}
	if _, _, code := h.Run("getent", "passwd", "notifydemo"); code == 0 {
		t.Errorf("user notifydemo still exists")
	}

	_, stderr, code = h.Notifyctl("uninstall")
	if code != 0 || !strings.Contains(stderr, "not installed") {
		t.Errorf("uninstall of what is not installed: exit %d, %s", code, stderr)
	}

	// An install killed right after creating the journals' root left it
	// empty: uninstall removes it.
	h.MustRun("install", "-d", "-m", "0700", "/var/lib/notifyctl")
	h.notifyctlJSON(0, "uninstall")
	assertSame(t, "an empty journal root, then uninstall", pristine, h.Snapshot())
}

// A first install on a systemd that reads a new unit when asked for it
// (246 to 254; Debian 12 has 252) leaves its one daemon-reload to the start:
// systemd runs the start job, then reloads while the service gets ready.
// Afterwards systemd holds the unit's links as well (multi-user.target wants
// it), no unit needs a reload, and a rerun changes nothing.
func TestFirstInstallReloadsWhileTheServiceStarts(t *testing.T) {
	if v := systemdVersion(t); v < 246 || v >= 255 {
		t.Fatalf("the test host has systemd %d: this test is for 246 to 254, where the reload is left to the start", v)
	}
	h := NewHost(t)
	before := h.propInt("", "UnitsLoadTimestampMonotonic")
	h.notifyctlJSON(0, "install")
	var reload string
	for _, l := range strings.Split(h.MustRun("cat", "/var/lib/notifyctl/notifydemo/journal"), "\n") {
		if strings.Contains(l, `"step":"reload"`) && strings.Contains(l, `"op":"intent"`) {
			reload = l
		}
	}
	if !strings.Contains(reload, `"before":{"with_start":true}`) {
		t.Errorf("the reload was not left to the start: %s", reload)
	}
	started := h.propInt("notifydemo.service", "InactiveExitTimestampMonotonic")
	reloaded := h.propInt("", "UnitsLoadTimestampMonotonic")
	if reloaded == before || started == 0 || reloaded < started {
		t.Errorf("systemd reloaded at %d µs, the service started at %d µs (the reload before install: %d µs)", reloaded, started, before)
	}
	if wants := strings.Fields(h.Prop("multi-user.target", "Wants")); !slices.Contains(wants, "notifydemo.service") {
		t.Errorf("multi-user.target does not want notifydemo.service: systemd did not reload after the enable: %q", wants)
	}
	for _, u := range []string{"notifydemo.service", "multi-user.target"} {
		if got := h.Prop(u, "NeedDaemonReload"); got != "no" {
			t.Errorf("%s: NeedDaemonReload=%s", u, got)
		}
	}
	if got := h.Prop("notifydemo.service", "ActiveState"); got != "active" {
		t.Errorf("ActiveState=%s", got)
	}
	if r := h.notifyctlJSON(0, "install"); len(r.changedSteps()) != 0 {
		t.Errorf("the rerun changed %q", r.changedSteps())
	}
}

// A unit enabled into default.target, which systemd holds under another name
// (graphical.target here), and into a target that does not exist: systemd's
// memory is compared by the name it holds, and a target it has no unit for
// holds nothing. A rerun finds the links read and changes nothing, status
// matches, and uninstall leaves the host as it was.
func TestEnabledIntoAnAliasTarget(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/notifydemo.service", func(s string) string {
		return strings.Replace(s, "WantedBy=multi-user.target", "WantedBy=default.target no-such.target", 1)
	})
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install", dir)
	id := h.Prop("default.target", "Id")
	if id == "default.target" {
		t.Fatalf("default.target is no alias on this host: the test proves nothing")
	}
	if got := strings.Fields(h.Prop("notifydemo.service", "WantedBy")); !slices.Contains(got, id) {
		t.Errorf("notifydemo.service WantedBy=%q, want %s", got, id)
	}
	if r := h.notifyctlJSON(0, "install", dir); len(r.changedSteps()) != 0 {
		t.Errorf("the rerun changed %q", r.changedSteps())
	}
	if stdout, _, code := h.Notifyctl("status", dir); code != 0 {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	h.notifyctlJSON(0, "uninstall", dir)
	assertSame(t, "install into default.target, then uninstall", pristine, h.Snapshot())
}

// An app that exits 1 before it is ready: install fails, says why with the
// app's own error line, and leaves the host as it was.
func TestFailingAppRollsBack(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/broken")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)",
			"import sys\nsys.exit(\"notifydemo: cannot open /var/lib/notifydemo/db: permission denied\")", 1)
	})
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir)
	if code != 1 {
		t.Fatalf("install of a failing app: exit %d, want 1\n%s", code, stderr)
	}
	for _, want := range []string{
		"notifydemo: cannot open /var/lib/notifydemo/db: permission denied", // the app's own line
		"result exit-code", "status 1", "rolling back",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("install output lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "journalctl -xe") {
		t.Errorf("install sends the user to journalctl instead of showing the cause")
	}
	assertSame(t, "a failed install", pristine, h.Snapshot())
	if got := h.Prop("notifydemo.service", "LoadState"); got != "not-found" {
		t.Errorf("after rollback systemd still knows the unit: LoadState=%s", got)
	}
}

// A broken upgrade of an installed plan rolls back to the previous version,
// which runs and answers again.
func TestFailedUpgradeRestoresPrevious(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.notifyctlJSON(0, "install", dir)
	good, err := os.ReadFile(filepath.Join(h.Root(), "/opt/notifydemo/app.py"))
	if err != nil {
		t.Fatal(err)
	}
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "raise SystemExit('notifydemo: broken release')", 1)
	})
	r := h.notifyctlJSON(1, "install", dir)
	if r.OK || !strings.Contains(r.Error, "did not become active") {
		t.Fatalf("broken upgrade: %+v", r)
	}
	now, err := os.ReadFile(filepath.Join(h.Root(), "/opt/notifydemo/app.py"))
	if err != nil {
		t.Fatal(err)
	}
	if string(now) != string(good) {
		t.Errorf("app.py was not restored after the failed upgrade")
	}
	if got := h.Prop("notifydemo.service", "ActiveState"); got != "active" {
		t.Errorf("previous version not running again: ActiveState=%s", got)
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/health"); got != "OK\n" {
		t.Errorf("/health answered %q after the rollback", got)
	}
	// What the failed run did is undone in the journal too: uninstall still
	// leaves nothing behind.
	h.notifyctlJSON(0, "uninstall", dir)
	if _, err := os.Stat(filepath.Join(h.Root(), "/opt/notifydemo")); !os.IsNotExist(err) {
		t.Errorf("/opt/notifydemo left after uninstall: %v", err)
	}
}

// A changed app file is rewritten alone and the service restarted once, with
// no daemon-reload; a changed unit adds exactly one daemon-reload.
func TestChangedPlanRewritesOnlyWhatChanged(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.notifyctlJSON(0, "install", dir)
	invocation := h.Prop("notifydemo.service", "InvocationID")

	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "Hello from Type=notify demo!", "Hello again", 1)
	})
	r := h.notifyctlJSON(0, "install", dir)
	want := []string{"update file /opt/notifydemo/app.py", "restart service notifydemo.service"}
	if got := r.changedSteps(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("after an app change, changed steps = %q, want %q", got, want)
	}
	if h.Prop("notifydemo.service", "InvocationID") == invocation {
		t.Errorf("the service was not restarted")
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/"); got != "Hello again\n" {
		t.Errorf("the running app is not the new one: %q", got)
	}

	h.editPlanFile(dir+"/notifydemo.service", func(s string) string {
		return strings.Replace(s, "RestartSec=2", "RestartSec=3", 1)
	})
	r = h.notifyctlJSON(0, "install", dir)
	want = []string{"update unit /etc/systemd/system/notifydemo.service", "daemon-reload systemd", "restart service notifydemo.service"}
	if got := r.changedSteps(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("after a unit change, changed steps = %q, want %q", got, want)
	}
	if got := h.Prop("notifydemo.service", "RestartUSec"); got != "3s" {
		t.Errorf("systemd did not pick up the new unit: RestartUSec=%s", got)
	}
	if got := h.Prop("notifydemo.service", "NeedDaemonReload"); got != "no" {
		t.Errorf("NeedDaemonReload=%s after install", got)
	}
}

// What was there before install survives uninstall: a directory with the
// admin's own file in it, a group of the same name as the plan's user.
func TestUninstallKeepsWhatWasThere(t *testing.T) {
	h := NewHost(t)
	h.MustRun("groupadd", "--system", "notifydemo")
	h.MustRun("install", "-d", "-m", "0750", "/opt/notifydemo")
	h.WriteFile("/opt/notifydemo/notes.txt", []byte("the admin's notes\n"), 0o600)
	pristine := h.Snapshot()

	first := h.notifyctlJSON(0, "install")
	if !first.OK {
		t.Fatalf("install: %+v", first)
	}
	if got := h.MustRun("stat", "-c", "%a %U:%G", "/opt/notifydemo"); got != "755 root:root\n" {
		t.Errorf("/opt/notifydemo is %q after install", got)
	}
	h.notifyctlJSON(0, "uninstall")
	assertSame(t, "install then uninstall over existing things", pristine, h.Snapshot())
	if got := h.MustRun("cat", "/opt/notifydemo/notes.txt"); got != "the admin's notes\n" {
		t.Errorf("notes.txt = %q", got)
	}
	if _, _, code := h.Run("getent", "group", "notifydemo"); code != 0 {
		t.Errorf("the group that existed before install was deleted")
	}
}

// Bad input changes nothing and exits 2 with one line naming file and field.
func TestBadInputExits2(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/bad")
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		return strings.Replace(s, "readiness:", "readyness:", 1)
	})
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir)
	if code != 2 {
		t.Fatalf("install of a plan with an unknown field: exit %d, want 2\n%s", code, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "/root/bad/plan.yaml") || !strings.Contains(lines[0], "readyness") {
		t.Errorf("error is not one line naming the file and the field:\n%s", stderr)
	}
	_, stderr, code = h.Run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "notifyctl", "install")
	if code != 2 || !strings.Contains(stderr, "root") {
		t.Errorf("install as nobody: exit %d, want 2 with a word about root\n%s", code, stderr)
	}
	_, stderr, code = h.Run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "notifyctl", "uninstall")
	if code != 2 || !strings.Contains(stderr, "root") {
		t.Errorf("uninstall as nobody: exit %d, want 2 with a word about root\n%s", code, stderr)
	}
	// The host in the way: a file where the plan's directory goes.
	h.MustRun("touch", "/opt/notifydemo")
	_, stderr, code = h.Notifyctl("install")
	if code != 2 || !strings.Contains(stderr, "/opt/notifydemo exists and is not a directory") || !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("install with a file in the way: exit %d, want 2\n%s", code, stderr)
	}
	h.MustRun("rm", "/opt/notifydemo")
	_, _, code = h.Notifyctl("install", "--no-such-flag")
	if code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	assertSame(t, "bad input", pristine, h.Snapshot())
}

// A symlink planted where the plan writes is refused before anything changes,
// and nothing is written through it.
func TestSymlinkInTheWayRefused(t *testing.T) {
	h := NewHost(t)
	h.MustRun("ln", "-s", "/etc", "/opt/notifydemo")
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install")
	if code != 2 {
		t.Fatalf("install with /opt/notifydemo -> /etc: exit %d, want 2\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "symlink") || !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("the error does not name the symlink or say nothing changed:\n%s", stderr)
	}
	if _, err := os.Lstat(filepath.Join(h.Root(), "/etc/app.py")); !os.IsNotExist(err) {
		t.Errorf("something was written through the symlink: %v", err)
	}
	assertSame(t, "a refused install", pristine, h.Snapshot())
}

// localPackage builds a tiny Debian package inside the host and serves it from
// a local, trusted apt repository, the host having no network.
func (h *Host) localPackage(name string) {
	h.t.Helper()
	h.WriteFile("/root/pkg/DEBIAN/control", []byte("Package: "+name+"\nVersion: 1.0\nArchitecture: all\n"+
		"Maintainer: notifyctl tests <root@localhost>\nDescription: a package for notifyctl's tests\n"), 0o644)
	h.WriteFile("/root/pkg/usr/share/doc/"+name+"/README", []byte("test package\n"), 0o644)
	h.MustRun("mkdir", "-p", "/srv/repo")
	h.MustRun("dpkg-deb", "--root-owner-group", "--build", "/root/pkg", "/srv/repo/"+name+"_1.0_all.deb")
	h.MustRun("sh", "-c", `cd /srv/repo && f=`+name+`_1.0_all.deb && { dpkg-deb -f $f; echo "Filename: ./$f"; echo "Size: $(stat -c %s $f)"; echo "SHA256: $(sha256sum $f | cut -d' ' -f1)"; echo; } > Packages`)
	// Only the local repository: the host cannot reach any other.
	h.WriteFile("/etc/apt/sources.list", []byte("deb [trusted=yes] file:/srv/repo ./\n"), 0o644)
	h.MustRun("rm", "-f", "/etc/apt/sources.list.d/debian.sources")
}

// Missing packages are installed; uninstall keeps them unless
// --purge-packages, which removes only those install added.
func TestPackagesInstalledAndPurgedOnlyIfAdded(t *testing.T) {
	h := NewHost(t)
	h.localPackage("notifyctl-e2e-pkg")
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		return strings.Replace(s, "packages: [python3, python3-flask, curl]", "packages: [python3, python3-flask, curl, notifyctl-e2e-pkg]", 1)
	})
	installed := func(pkg string) bool {
		out, _, _ := h.Run("dpkg-query", "-W", "-f", "${db:Status-Status}", pkg)
		return out == "installed"
	}

	r := h.notifyctlJSON(0, "install", dir)
	if got := r.changedSteps(); len(got) == 0 || got[0] != "install packages python3,python3-flask,curl,notifyctl-e2e-pkg" {
		t.Fatalf("first changed step = %q, want the package install", got)
	}
	if !installed("notifyctl-e2e-pkg") {
		t.Fatalf("notifyctl-e2e-pkg not installed")
	}
	_, stderr, code := h.Notifyctl("uninstall", dir)
	if code != 0 || !installed("notifyctl-e2e-pkg") || !strings.Contains(stderr, "kept packages notifyctl-e2e-pkg") {
		t.Fatalf("uninstall without --purge-packages: exit %d, installed %v\n%s", code, installed("notifyctl-e2e-pkg"), stderr)
	}

	h.MustRun("apt-get", "remove", "-y", "-q", "notifyctl-e2e-pkg")
	h.notifyctlJSON(0, "install", dir)
	h.notifyctlJSON(0, "uninstall", "--purge-packages", dir)
	if installed("notifyctl-e2e-pkg") {
		t.Errorf("--purge-packages left the package install added")
	}
	for _, p := range []string{"python3", "python3-flask", "curl"} {
		if !installed(p) {
			t.Errorf("--purge-packages removed %s, which was there before install", p)
		}
	}
}

// A file dropped from the plan is removed by the next install, which then
// changes nothing more; one the administrator changed is kept.
func TestDroppedFileIsRemoved(t *testing.T) {
	h := NewHost(t)
	extra := "  - source: extra.conf\n    dest: /opt/notifydemo/extra.conf\n    mode: \"0644\"\n  - source: notes.txt\n    dest: /opt/notifydemo/notes.txt\n    mode: \"0644\"\nunit:\n"
	with := h.copyPlan("/root/with")
	h.WriteFile(with+"/extra.conf", []byte("extra = 1\n"), 0o644)
	h.WriteFile(with+"/notes.txt", []byte("notes\n"), 0o644)
	h.editPlanFile(with+"/plan.yaml", func(s string) string { return strings.Replace(s, "unit:\n", extra, 1) })
	without := h.copyPlan("/root/without")
	pristine := h.Snapshot()

	h.notifyctlJSON(0, "install", with)
	h.WriteFile("/opt/notifydemo/notes.txt", []byte("the admin's notes\n"), 0o644)
	// status of the plan without them: drifted, by what install would remove.
	if stdout, _, code := h.Notifyctl("status", without); code != 3 || !strings.Contains(stdout, "/opt/notifydemo/extra.conf") || strings.Contains(stdout, "notes.txt") {
		t.Errorf("status: exit %d, want 3 naming extra.conf only\n%s", code, stdout)
	}
	out := h.notifyctlJSON(0, "install", without)
	if got, want := strings.Join(out.changedSteps(), ";"), "remove file /opt/notifydemo/extra.conf;restart service notifydemo.service"; got != want {
		t.Errorf("changed %q, want %q", got, want)
	}
	if _, _, code := h.Run("test", "-e", "/opt/notifydemo/extra.conf"); code == 0 {
		t.Error("extra.conf is left")
	}
	if got := h.MustRun("cat", "/opt/notifydemo/notes.txt"); got != "the admin's notes\n" {
		t.Errorf("notes.txt holds %q", got)
	}
	if out := h.notifyctlJSON(0, "install", without); out.Changed != 0 {
		t.Errorf("a rerun changed %v", out.changedSteps())
	}
	// uninstall --purge removes the kept file too: the host is as it was.
	h.notifyctlJSON(0, "uninstall", "--purge", without)
	assertSame(t, "after uninstall --purge", pristine, h.Snapshot())
}

// A run killed after it made the plan's journal directory, before the
// journal, does not stand in the way of the next install or preview; a
// preview by a user who may not read the journals still works.
func TestJournalDirectoryWithoutJournal(t *testing.T) {
	h := NewHost(t)
	h.MustRun("install", "-d", "-m", "0700", "/var/lib/notifyctl/notifydemo")
	if _, stderr, code := h.Notifyctl("plan"); code != 0 {
		t.Fatalf("plan with an empty journal directory: exit %d\n%s", code, stderr)
	}
	h.notifyctlJSON(0, "install")
	_, stderr, code := h.Run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "notifyctl", "plan")
	if code != 0 || !strings.Contains(stderr, "nothing would change") {
		t.Errorf("plan as nobody after install: exit %d\n%s", code, stderr)
	}
}
