//go:build e2e

package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// listed is one element of `notifyctl list --json`.
type listed struct {
	Name        string     `json:"name"`
	Unit        string     `json:"unit"`
	ActiveState string     `json:"active_state"`
	SubState    string     `json:"sub_state"`
	Installed   *time.Time `json:"installed"`
}

func (h *Host) listJSON() []listed {
	h.t.Helper()
	stdout, stderr, code := h.Notifyctl("list", "--json")
	var l []listed
	if err := json.Unmarshal([]byte(stdout), &l); code != 0 || err != nil || l == nil {
		h.t.Fatalf("list --json: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
	return l
}

// list: nothing, then the installed plan with its unit's live state, then
// nothing again after uninstall.
func TestListInstalledPlans(t *testing.T) {
	h := NewHost(t)
	stdout, stderr, code := h.Notifyctl("list")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "no plan is installed") {
		t.Fatalf("list with nothing installed: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if l := h.listJSON(); len(l) != 0 {
		t.Fatalf("list --json with nothing installed: %+v", l)
	}

	before := time.Now().Add(-time.Second)
	h.notifyctlJSON(0, "install")
	after := time.Now()
	stdout, stderr, code = h.Notifyctl("list")
	line := regexp.MustCompile(`^notifydemo +notifydemo\.service +active/running +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$`)
	if code != 0 || !line.MatchString(stdout) || stderr != "" {
		t.Fatalf("list after install: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	l := h.listJSON()
	if len(l) != 1 || l[0].Name != "notifydemo" || l[0].Unit != "notifydemo.service" ||
		l[0].ActiveState != "active" || l[0].SubState != "running" ||
		l[0].Installed == nil || l[0].Installed.Before(before) || l[0].Installed.After(after) {
		t.Fatalf("list --json after install: %+v (installed between %s and %s)", l, before, after)
	}
	installed := *l[0].Installed

	// The state is systemd's, now; the installation time stays the first one.
	h.MustRun("systemctl", "stop", "notifydemo.service")
	h.notifyctlJSON(0, "install") // starts it again, changing nothing else
	h.MustRun("systemctl", "stop", "notifydemo.service")
	if l := h.listJSON(); len(l) != 1 || l[0].ActiveState != "inactive" || l[0].SubState != "dead" || !l[0].Installed.Equal(installed) {
		t.Errorf("list --json after a stop: %+v, want inactive/dead installed at %s", l, installed)
	}

	h.notifyctlJSON(0, "uninstall")
	if stdout, _, code := h.Notifyctl("list"); code != 0 || stdout != "" {
		t.Errorf("list after uninstall: exit %d, %q", code, stdout)
	}
	if l := h.listJSON(); len(l) != 0 {
		t.Errorf("list --json after uninstall: %+v", l)
	}
	if _, stderr, code := h.Notifyctl("list", "notifydemo"); code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("list with an argument: exit %d, %q; want 2 and one line", code, stderr)
	}
}

// bashComplete runs the bash completion of notifyctl for the words typed so
// far (the last one being completed) and returns what it offers.
func (h *Host) bashComplete(words ...string) []string {
	h.t.Helper()
	script := `source <(notifyctl completion bash) || exit 1
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
__start_notifyctl notifyctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
	out := h.MustRun(append([]string{"bash", "-c", script, "bash"}, words...)...)
	return strings.Fields(out)
}

// The bash completion loads, and completes commands and plan names.
func TestBashCompletion(t *testing.T) {
	h := NewHost(t)
	if got := strings.TrimSpace(h.MustRun("bash", "-c", "source <(notifyctl completion bash); complete -p notifyctl")); got != "complete -o default -F __start_notifyctl notifyctl" {
		t.Fatalf("complete -p notifyctl = %q", got)
	}
	if got := h.bashComplete("notifyctl", "un"); strings.Join(got, " ") != "uninstall" {
		t.Errorf("notifyctl un<TAB> offers %q", got)
	}
	if got := h.bashComplete("notifyctl", "install", "notify"); strings.Join(got, " ") != "notifydemo" {
		t.Errorf("notifyctl install notify<TAB> offers %q", got)
	}
	if got := h.bashComplete("notifyctl", "uninstall", ""); len(got) != 0 {
		t.Errorf("notifyctl uninstall <TAB> offers %q with nothing installed", got)
	}
	h.notifyctlJSON(0, "install")
	if got := h.bashComplete("notifyctl", "uninstall", ""); strings.Join(got, " ") != "notifydemo" {
		t.Errorf("notifyctl uninstall <TAB> offers %q once notifydemo is installed", got)
	}
}

// -q: nothing but warnings and errors; without it, a line per step.
func TestQuiet(t *testing.T) {
	h := NewHost(t)
	stdout, stderr, code := h.Notifyctl("install", "-q")
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("install -q: exit %d, stdout %q, stderr %q; want nothing", code, stdout, stderr)
	}
	if got := h.Prop("notifydemo.service", "ActiveState"); got != "active" {
		t.Fatalf("after install -q: ActiveState=%s", got)
	}
	_, stderr, _ = h.Notifyctl("install")
	if !strings.Contains(stderr, "INFO ok       service notifydemo.service") {
		t.Errorf("install without -q does not report its steps:\n%s", stderr)
	}
	if stdout, stderr, code := h.Notifyctl("-q", "uninstall"); code != 0 || stdout != "" || stderr != "" {
		t.Errorf("uninstall -q: exit %d, stdout %q, stderr %q; want nothing", code, stdout, stderr)
	}

	// A failure is still shown in full.
	dir := h.copyPlan("/root/broken")
	h.editPlanFile(dir+"/app.py", func(s string) string {
		return strings.Replace(s, "app = Flask(__name__)", "raise SystemExit('notifydemo: broken on purpose')", 1)
	})
	_, stderr, code = h.Notifyctl("install", "-q", dir)
	if code != 1 || !strings.Contains(stderr, "ERRO failed   service notifydemo.service") ||
		!strings.Contains(stderr, "notifydemo: broken on purpose") || strings.Contains(stderr, "INFO") {
		t.Errorf("failed install -q: exit %d\n%s", code, stderr)
	}
}

// -v: how long each step took and the diffs install applied, on stderr.
func TestVerbose(t *testing.T) {
	h := NewHost(t)
	stdout, stderr, code := h.Notifyctl("install", "-v", "--json")
	var r result
	if err := json.Unmarshal([]byte(stdout), &r); code != 0 || err != nil || !r.OK {
		t.Fatalf("install -v --json: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	for _, want := range []string{
		"+++ /opt/notifydemo/app.py",
		"+Type=notify",
		"INFO started  service notifydemo.service took=",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("install -v lacks %q:\n%s", want, stderr)
		}
	}
}

// Colour on a terminal, none at all with NO_COLOR: checked on a real
// pseudo-terminal (script(1)), not a pipe.
func TestNoColorOnATerminal(t *testing.T) {
	h := NewHost(t)
	onTTY := func(env ...string) string {
		t.Helper()
		cmd := append([]string{"env", "TERM=xterm-256color"}, env...)
		cmd = append(cmd, "script", "-qec", "notifyctl install", "/dev/null")
		return h.MustRun(cmd...)
	}
	out := onTTY()
	if !strings.Contains(out, "\x1b[") || !strings.Contains(out, "started") {
		t.Fatalf("no colour on a terminal:\n%q", out)
	}
	h.notifyctlJSON(0, "uninstall")
	out = onTTY("NO_COLOR=1")
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("escape sequences on a terminal with NO_COLOR=1:\n%q", out)
	}
	if !strings.Contains(out, "INFO started  service notifydemo.service") {
		t.Errorf("install on a terminal with NO_COLOR=1 did not report its steps:\n%q", out)
	}
}
