//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// status: the live state, and drift found by install's own checks; exit 0
// matching, 3 drifted, 4 not installed.
func TestStatusReportsDrift(t *testing.T) {
	h := NewHost(t)
	if stdout, _, code := h.Notifyctl("status"); code != 4 || !strings.Contains(stdout, "not installed") {
		t.Fatalf("status before install: exit %d, %q", code, stdout)
	}
	h.notifyctlJSON(0, "install")
	stdout, _, code := h.Notifyctl("status")
	if code != 0 || !strings.Contains(stdout, "active/running") || !strings.Contains(stdout, "notifydemo ready on :5001") || !strings.Contains(stdout, "drift:     none") {
		t.Fatalf("status after install: exit %d\n%s", code, stdout)
	}
	h.MustRun("sh", "-c", "echo '# hotfix' >> /opt/notifydemo/app.py; chmod 0700 /opt/notifydemo")
	stdout, _, code = h.Notifyctl("status", "--json")
	var s struct {
		Installed bool   `json:"installed"`
		Active    string `json:"active_state"`
		MainPID   int    `json:"main_pid"`
		Drift     []struct{ Name, Action, Detail string }
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, stdout)
	}
	var names []string
	for _, d := range s.Drift {
		names = append(names, d.Action+" "+d.Name)
	}
	if code != 3 || !s.Installed || s.Active != "active" || s.MainPID == 0 ||
		strings.Join(names, "; ") != "update directory /opt/notifydemo; update file /opt/notifydemo/app.py" {
		t.Fatalf("status after edits: exit %d, %+v", code, s)
	}
	h.notifyctlJSON(0, "install")
	if _, _, code := h.Notifyctl("status"); code != 0 {
		t.Errorf("status after install repaired the drift: exit %d", code)
	}

	// Uninstalled with an edited file kept: not installed, and what was kept
	// is named; after --purge, nothing is.
	h.MustRun("sh", "-c", "echo '# hotfix' >> /opt/notifydemo/app.py")
	h.notifyctlJSON(0, "uninstall")
	stdout, _, code = h.Notifyctl("status")
	if code != 4 || !strings.Contains(stdout, "not installed") || !strings.Contains(stdout, "left after an uninstall:") || !strings.Contains(stdout, "file /opt/notifydemo/app.py") {
		t.Errorf("status after an uninstall that kept a file: exit %d\n%s", code, stdout)
	}
	h.notifyctlJSON(0, "uninstall", "--purge")
	stdout, _, code = h.Notifyctl("status")
	if code != 4 || strings.Contains(stdout, "kept") {
		t.Errorf("status after uninstall --purge: exit %d\n%s", code, stdout)
	}
}
