//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// propInt reads a numeric unit property.
func (h *Host) propInt(unit, prop string) int64 {
	h.t.Helper()
	v, err := strconv.ParseInt(h.Prop(unit, prop), 10, 64)
	if err != nil {
		h.t.Fatalf("%s %s: %v", unit, prop, err)
	}
	return v
}

// startToActive is how long systemd took from starting the main process to
// calling the unit active, for its last start.
func (h *Host) startToActive(unit string) time.Duration {
	h.t.Helper()
	return time.Duration(h.propInt(unit, "ActiveEnterTimestampMonotonic")-h.propInt(unit, "ExecMainStartTimestampMonotonic")) * time.Microsecond
}

// mainChild is the PID of the main process's child: the app under notifyctl run.
func (h *Host) mainChild(unit string) string {
	h.t.Helper()
	main := h.Prop(unit, "MainPID")
	out := strings.Fields(h.MustRun("pgrep", "-P", main))
	if len(out) != 1 {
		h.t.Fatalf("main process %s has children %q, want the app alone", main, out)
	}
	return out[0]
}

// READY comes from the main process itself (NotifyAccess=main), once the app
// answers; the app does not inherit NOTIFY_SOCKET; a restart is as fast.
func TestReadyFromMainProcess(t *testing.T) {
	h := NewHost(t)
	h.notifyctlJSON(0, "install")
	unit := "notifydemo.service"
	for prop, want := range map[string]string{"NotifyAccess": "main", "Type": "notify", "ActiveState": "active",
		"StatusText": "notifydemo ready on :5001", "WatchdogUSec": "10s"} {
		if got := h.Prop(unit, prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	if got := h.MustRun("readlink", "/proc/"+h.Prop(unit, "MainPID")+"/exe"); got != "/opt/notifydemo/notifyctl\n" {
		t.Errorf("the main process runs %q, want the wrapper the plan installed", got)
	}
	env := h.MustRun("cat", "/proc/"+h.mainChild(unit)+"/environ")
	if strings.Contains(env, "NOTIFY_SOCKET=") || strings.Contains(env, "WATCHDOG_USEC=") {
		t.Errorf("the app inherited the notification environment: %q", env)
	}
	if !strings.Contains(env, "PORT=5001") {
		t.Errorf("the app lacks its own environment: %q", env)
	}
	for i := 0; i < 3; i++ {
		h.MustRun("systemctl", "restart", unit)
		if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/health"); got != "OK\n" {
			t.Fatalf("/health answered %q right after restart returned", got)
		}
		t.Logf("restart %d: start to active %v", i+1, h.startToActive(unit))
	}
	// A stop is clean: the app ends on the forwarded SIGTERM, and so does the
	// wrapper, which systemd does not count as a failure.
	h.MustRun("systemctl", "stop", unit)
	if got := h.Prop(unit, "ActiveState") + " " + h.Prop(unit, "Result"); got != "inactive success" {
		t.Errorf("after systemctl stop: %s, want inactive success", got)
	}
}

// A frozen app stops the watchdog pings: systemd restarts the service and it
// answers again.
func TestWatchdogRestartsFrozenApp(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/notifydemo.service", func(s string) string {
		s = strings.Replace(s, "WatchdogSec=10s", "WatchdogSec=2s", 1)
		return strings.Replace(s, "RestartSec=2", "RestartSec=100ms", 1)
	})
	h.notifyctlJSON(0, "install", dir)
	unit := "notifydemo.service"
	before := h.Prop(unit, "InvocationID")
	// The wrapper itself keeps running: only the app freezes.
	h.MustRun("kill", "-STOP", h.mainChild(unit))
	deadline := time.Now().Add(30 * time.Second)
	for h.Prop(unit, "InvocationID") == before || h.Prop(unit, "ActiveState") != "active" {
		if time.Now().After(deadline) {
			t.Fatalf("no restart 30 s after the app froze: ActiveState=%s NRestarts=%s Result=%s",
				h.Prop(unit, "ActiveState"), h.Prop(unit, "NRestarts"), h.Prop(unit, "Result"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := h.propInt(unit, "NRestarts"); n < 1 {
		t.Errorf("NRestarts = %d", n)
	}
	logs := h.MustRun("journalctl", "-u", unit, "--no-pager", "-o", "cat")
	if !strings.Contains(logs, "Watchdog timeout") {
		t.Errorf("systemd did not log a watchdog timeout:\n%s", logs)
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/health"); got != "OK\n" {
		t.Errorf("/health answered %q after the watchdog restart", got)
	}
}

// An app that exits before it is ready fails the install at once, not after
// the readiness timeout.
func TestAppExitingBeforeReadyFailsFast(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "import sys\nsys.exit('notifydemo: port 5001 is not allowed here')", 1)
	})
	started := time.Now()
	_, stderr, code := h.Notifyctl("install", dir)
	took := time.Since(started)
	if code != 1 || !strings.Contains(stderr, "notifydemo: port 5001 is not allowed here") {
		t.Fatalf("install: exit %d\n%s", code, stderr)
	}
	// The plan waits up to 30 s: failing within a third of it means the exit
	// was noticed, not the timeout.
	if took > 10*time.Second {
		t.Errorf("install took %v to fail: it waited for a timeout", took)
	}
	t.Logf("install failed after %v", took)
}

// With a local mail system, the confirmation mail reaches root once, when the
// service was started; a rerun that changes nothing sends nothing.
func TestConfirmationMailOnce(t *testing.T) {
	h := NewHost(t)
	h.MustRun("sh", "-c", `echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections &&
		echo "postfix postfix/mailname string localhost" | debconf-set-selections &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download postfix`)
	h.notifyctlJSON(0, "install")
	mails := func() int {
		data, err := os.ReadFile(filepath.Join(h.Root(), "/var/mail/root"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return strings.Count(string(data), "Subject: notifydemo ready")
	}
	deadline := time.Now().Add(20 * time.Second)
	for mails() == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := mails(); n != 1 {
		t.Fatalf("%d mails after install, want 1", n)
	}
	data, _ := os.ReadFile(filepath.Join(h.Root(), "/var/mail/root"))
	if !strings.Contains(string(data), "notifydemo ready on :5001") {
		t.Errorf("the mail lacks its body:\n%s", data)
	}
	r := h.notifyctlJSON(0, "install")
	h.MustRun("postqueue", "-f")
	if r.Changed != 0 || mails() != 1 {
		t.Errorf("a no-op rerun: changed %d, %d mails", r.Changed, mails())
	}
}

// Without a sendmail the mail step says it skipped, and install succeeds.
func TestConfirmationMailSkippedWithoutSendmail(t *testing.T) {
	h := NewHost(t)
	_, stderr, code := h.Notifyctl("install")
	if code != 0 || !strings.Contains(stderr, "skipped: no /usr/sbin/sendmail") {
		t.Fatalf("install without sendmail: exit %d\n%s", code, stderr)
	}
}

// The preview warns about the seed's readiness set-up, and not about ours.
func TestPlanWarnsAboutFragileReadiness(t *testing.T) {
	h := NewHost(t)
	h.copyTestdata("seedwrapper", "/root/seed")
	_, stderr, code := h.Notifyctl("plan", "/root/seed")
	if code != 0 || !strings.Contains(stderr, "WARN") || !strings.Contains(stderr, "runs systemd-notify as a child") {
		t.Errorf("plan of the seed's set-up: exit %d, no warning about its systemd-notify child:\n%s", code, stderr)
	}
	_, stderr, _ = h.Notifyctl("plan")
	if strings.Contains(stderr, "WARN") {
		t.Errorf("plan of notifydemo warns:\n%s", stderr)
	}
}

// On a terminal, install shows a live line while it waits for the service,
// and erases it before the step's own line; NO_COLOR means no escapes.
func TestLiveLineWhileWaiting(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "import time\ntime.sleep(2)\napp = Flask(__name__)", 1)
	})
	out := h.MustRun("env", "TERM=xterm-256color", "NO_COLOR=1", "script", "-qec", "notifyctl install "+dir, "/dev/null")
	if !strings.Contains(out, "\r     waiting  service notifydemo.service") {
		t.Errorf("no live line while install waited:\n%q", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences despite NO_COLOR:\n%q", out)
	}
	if !strings.Contains(out, "started  service notifydemo.service") {
		t.Errorf("install did not finish:\n%q", out)
	}
	// Without a terminal, nothing animated.
	h.notifyctlJSON(0, "uninstall", dir)
	_, stderr, _ := h.Notifyctl("install", dir)
	if !strings.Contains(stderr, "started  service") {
		t.Fatalf("the second install did not start the service:\n%s", stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("a live line on a pipe:\n%q", stderr)
	}
}
