//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// voteClient drives the vote-secret API from inside the host.
const voteClient = `
import json, sys, urllib.request
base = "http://127.0.0.1:8001"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, (json.loads(r.read() or b"null"))
    except urllib.error.HTTPError as e:
        return e.code, None
status, poll = call("POST", "/api/polls", {"question": "Lunch?", "options": ["pizza", "sushi"], "ballots": 2})
first = call("POST", "/api/polls/%s/votes" % poll["id"], {"option": 1, "ballot": poll["ballots"][0]})[0]
again = call("POST", "/api/polls/%s/votes" % poll["id"], {"option": 1, "ballot": poll["ballots"][0]})[0]
forged = call("POST", "/api/polls/%s/votes" % poll["id"], {"option": 0, "ballot": "forged"})[0]
second = call("POST", "/api/polls/%s/votes" % poll["id"], {"option": 0, "ballot": poll["ballots"][1]})[0]
print(json.dumps({"created": status, "first": first, "again": again, "forged": forged, "second": second,
                  "tally": call("GET", "/api/polls/" + poll["id"])[1]}))
`

// The second seed's service, done right: Type=notify, ready once the API
// answers, a real ballot through the API, logs in one place, a reload that
// keeps the main process, data kept on uninstall unless --purge.
func TestVoteSecret(t *testing.T) {
	h := NewHost(t)
	pristine := h.Snapshot()
	r := h.notifyctlJSON(0, "install", "vote-secret")
	if !r.OK {
		t.Fatalf("install: %+v", r)
	}
	unit := "vote-secret.service"
	for prop, want := range map[string]string{"ActiveState": "active", "Type": "notify", "NotifyAccess": "main",
		"User": "vote-secret", "StatusText": "vote-secret ready on 127.0.0.1:8001"} {
		if got := h.Prop(unit, prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:8001/api/health"); got != `{"status":"ok"}` {
		t.Errorf("/api/health answered %q", got)
	}
	var ballot struct {
		Created, First, Again, Forged, Second int
		Tally                                 struct {
			Tally map[string]int
			Votes int
		}
	}
	if err := json.Unmarshal([]byte(h.MustRun("python3", "-c", voteClient)), &ballot); err != nil {
		t.Fatal(err)
	}
	if ballot.Created != 201 || ballot.First != 204 || ballot.Again != 403 || ballot.Forged != 403 || ballot.Second != 204 ||
		ballot.Tally.Votes != 2 || ballot.Tally.Tally["pizza"] != 1 || ballot.Tally.Tally["sushi"] != 1 {
		t.Errorf("the ballot went wrong: %+v", ballot)
	}
	if access := h.MustRun("cat", "/var/log/vote-secret/access.log"); !strings.Contains(access, "POST /api/polls") {
		t.Errorf("the access log lacks the API calls:\n%s", access)
	}
	if errlog := h.MustRun("cat", "/var/log/vote-secret/error.log"); !strings.Contains(errlog, "Booting worker") {
		t.Errorf("the error log lacks gunicorn's own lines:\n%s", errlog)
	}
	if got := h.MustRun("stat", "-c", "%U", "/var/lib/vote-secret/ballots.db"); got != "vote-secret\n" {
		t.Errorf("the ballots belong to %q", got)
	}

	// A reload replaces gunicorn's workers; the main process stays.
	pid, invocation := h.Prop(unit, "MainPID"), h.Prop(unit, "InvocationID")
	arbiter := h.mainChild(unit)
	workers := strings.Fields(h.MustRun("pgrep", "-P", arbiter))
	if len(workers) == 0 {
		t.Fatalf("gunicorn's arbiter %s has no workers", arbiter)
	}
	h.MustRun("systemctl", "reload", unit)
	if h.Prop(unit, "MainPID") != pid || h.Prop(unit, "InvocationID") != invocation || h.Prop(unit, "ActiveState") != "active" {
		t.Errorf("reload changed the service: MainPID %s -> %s, ActiveState %s", pid, h.Prop(unit, "MainPID"), h.Prop(unit, "ActiveState"))
	}
	if got := h.MustRun("curl", "-fsS", "--retry", "20", "--retry-delay", "0", "--retry-connrefused", "http://127.0.0.1:8001/api/health"); got != `{"status":"ok"}` {
		t.Errorf("/api/health after reload answered %q", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		now := strings.Fields(h.MustRun("pgrep", "-P", arbiter))
		if len(now) == len(workers) && !slices.ContainsFunc(now, func(w string) bool { return slices.Contains(workers, w) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reload did not replace the workers: %v, then %v", workers, now)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Uninstall keeps the data and says where it is, and the user that owns
	// it (its uid must not go to the next system user).
	_, stderr, code := h.Notifyctl("uninstall", "vote-secret")
	if code != 0 || !strings.Contains(stderr, "kept /var/lib/vote-secret") || !strings.Contains(stderr, "kept /var/log/vote-secret") ||
		!strings.Contains(stderr, "kept user vote-secret") {
		t.Fatalf("uninstall: exit %d\n%s", code, stderr)
	}
	var left []string
	for _, d := range pristine.Diff(h.Snapshot()) {
		p := strings.TrimSuffix(strings.Fields(d)[1], ":")
		if !strings.HasPrefix(p, "/var/lib/vote-secret") && !strings.HasPrefix(p, "/var/log/vote-secret") && !strings.HasPrefix(p, "/var/lib/notifyctl") &&
			!slices.Contains([]string{"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"}, p) {
			left = append(left, d)
		}
	}
	if len(left) > 0 {
		t.Errorf("uninstall left more than the data:\n%s", strings.Join(left, "\n"))
	}
	if !strings.Contains(h.MustRun("ls", "/var/lib/vote-secret"), "ballots.db") {
		t.Errorf("the ballots are gone")
	}

	// Reinstalled over its own kept data and user, which it still owns, then
	// purged: nothing is left.
	h.notifyctlJSON(0, "install", "vote-secret")
	if got := h.MustRun("python3", "-c", voteClient); !strings.Contains(got, `"created": 201`) {
		t.Errorf("the reinstalled service does not take votes: %s", got)
	}
	h.notifyctlJSON(0, "uninstall", "--purge", "vote-secret")
	assertSame(t, "install, uninstall, install, uninstall --purge", pristine, h.Snapshot())
}

// A broken gunicorn config stops the install before the service starts, with
// gunicorn's own message, and leaves the host as it was.
func TestVoteSecretBrokenConfigStopsBeforeStart(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlanNamed("vote-secret", "/root/vote")
	h.editPlanFile(dir+"/gunicorn.conf.py", func(s string) string {
		return strings.Replace(s, "timeout = {{ .timeout }}", "timeout = sixty", 1)
	})
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir)
	if code != 1 || !strings.Contains(stderr, "gunicorn --check-config failed") || !strings.Contains(stderr, "name 'sixty' is not defined") {
		t.Fatalf("install with a broken gunicorn config: exit %d\n%s", code, stderr)
	}
	if strings.Contains(stderr, "started  service") {
		t.Errorf("the service was started before the config was checked:\n%s", stderr)
	}
	assertSame(t, "a failed install", pristine, h.Snapshot())
}
