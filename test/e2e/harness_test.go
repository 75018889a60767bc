//go:build e2e

package e2e

// Tests of the harness itself (Host, Snapshot). They boot hosts without the
// notifyctl binary, so they do not depend on it.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestHostBootsSystemd(t *testing.T) {
	t.Parallel()
	h := NewHostWithBin(t, "")

	if got := strings.TrimSpace(h.MustRun("cat", "/proc/1/comm")); got != "systemd" {
		t.Errorf("PID 1 inside the host is %q, want systemd", got)
	}
	// is-system-running exits non-zero when degraded: only its output matters.
	state, stderr, _ := h.Run("systemctl", "is-system-running")
	if state = strings.TrimSpace(state); state != "running" && state != "degraded" {
		t.Errorf("systemctl is-system-running = %q (stderr %q), want running or degraded", state, stderr)
	}
	// The leader, seen from outside, is the host's PID 1.
	if comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(h.Leader), "comm")); err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		t.Errorf("leader %d is %q (err %v), want systemd", h.Leader, comm, err)
	}
	// Nothing is bound when no binary is given.
	if _, _, code := h.Run("test", "-e", "/usr/local/bin/notifyctl"); code == 0 {
		t.Errorf("/usr/local/bin/notifyctl exists in a host booted without a binary")
	}
}

func TestHostBindsBinaryAndRuns(t *testing.T) {
	t.Parallel()
	fake := filepath.Join(t.TempDir(), "notifyctl")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"fake $*\"\necho oops >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := NewHostWithBin(t, fake)

	stdout, stderr, code := h.Notifyctl("install", "x")
	if stdout != "fake install x\n" || stderr != "oops\n" || code != 3 {
		t.Errorf("Notifyctl(install x) = %q, %q, %d; want %q, %q, 3", stdout, stderr, code, "fake install x\n", "oops\n")
	}
	if _, _, code := h.Run("sh", "-c", "echo > /usr/local/bin/notifyctl"); code == 0 {
		t.Errorf("the bound binary is writable inside the host")
	}
	if _, _, code := h.Run("/nonexistent"); code == 0 {
		t.Errorf("Run of a missing command exited 0")
	}
	// WriteFile and Prop: a unit written from outside is seen by the host's systemd.
	h.WriteFile("/etc/systemd/system/harness.service", []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
	h.MustRun("systemctl", "daemon-reload")
	if got := h.Prop("harness.service", "LoadState"); got != "loaded" {
		t.Errorf("LoadState of harness.service = %q, want loaded", got)
	}
	if got := h.Prop("harness.service", "ExecMainStatus"); got != "0" {
		t.Errorf("ExecMainStatus of harness.service = %q, want 0", got)
	}
}

func TestSnapshotSeesChanges(t *testing.T) {
	t.Parallel()
	h := NewHostWithBin(t, "")
	first := h.Snapshot()

	h.MustRun("useradd", "--system", "testu")
	h.MustRun("sh", "-c", "mkdir -p /opt/foo && echo hello > /opt/foo/bar")
	unit := "[Unit]\nDescription=foo\n[Service]\nExecStart=/bin/sleep infinity\n"
	h.WriteFile("/etc/systemd/system/foo.service", []byte(unit), 0o644)
	h.MustRun("systemctl", "daemon-reload")
	if got := h.Prop("foo.service", "LoadState"); got != "loaded" {
		t.Errorf("LoadState of foo.service = %q, want loaded", got)
	}
	second := h.Snapshot()

	diff := first.Diff(second)
	t.Logf("diff after the changes:\n%s", strings.Join(diff, "\n"))
	for _, want := range []string{
		"~ /etc/passwd: content differs",
		"~ /etc/group: content differs",
		"~ /etc/shadow: content differs",
		"~ /etc/gshadow: content differs",
		"+ /opt/foo (dir 0755 0:0)",
		"+ /opt/foo/bar (file 0644 0:0 sha256:5891b5b522d5..)", // sha256("hello\n")
		"+ /etc/systemd/system/foo.service (file 0644 0:0 sha256:",
	} {
		if !hasLine(diff, want) {
			t.Errorf("diff has no line starting with %q", want)
		}
	}
	for _, line := range diff {
		if p := diffPath(line); ignored(p) {
			t.Errorf("diff reports ignored path %s: %q", p, line)
		}
	}
	if d := second.Diff(first); len(d) != len(diff) || !hasLine(d, "- /opt/foo/bar (file 0644 0:0 sha256:") {
		t.Errorf("reverse diff is not the mirror of the diff:\n%s", strings.Join(d, "\n"))
	}

	h.MustRun("userdel", "testu")
	if _, _, code := h.Run("getent", "group", "testu"); code == 0 {
		h.MustRun("groupdel", "testu")
	}
	h.MustRun("rm", "-rf", "/opt/foo", "/etc/systemd/system/foo.service")
	h.MustRun("systemctl", "daemon-reload")
	third := h.Snapshot()

	if diff := first.Diff(third); len(diff) != 0 {
		t.Errorf("after undoing the changes, the host still differs:\n%s", strings.Join(diff, "\n"))
	}
	if len(first.Diff(first)) != 0 {
		t.Errorf("a snapshot differs from itself")
	}
}

func TestSnapshotSeesModeChange(t *testing.T) {
	t.Parallel()
	h := NewHostWithBin(t, "")
	const file = "/etc/hostname"
	fi, err := os.Stat(filepath.Join(h.Root(), file))
	if err != nil {
		t.Fatal(err)
	}
	mode := fi.Mode().Perm()
	if mode == 0o600 {
		t.Fatalf("%s already has mode 0600 in the base; pick another file for this test", file)
	}
	before := h.Snapshot()

	h.MustRun("chmod", "0600", file)
	want := []string{fmt.Sprintf("~ %s: mode %04o -> 0600", file, mode)}
	if diff := before.Diff(h.Snapshot()); !slices.Equal(diff, want) {
		t.Errorf("diff after chmod 0600 = %q, want %q", diff, want)
	}

	h.MustRun("chown", "1:2", file)
	want = []string{fmt.Sprintf("~ %s: mode %04o -> 0600, owner 0:0 -> 1:2", file, mode)}
	if diff := before.Diff(h.Snapshot()); !slices.Equal(diff, want) {
		t.Errorf("diff after chown 1:2 = %q, want %q", diff, want)
	}

	h.MustRun("chown", "0:0", file)
	h.MustRun("chmod", fmt.Sprintf("%04o", mode), file)
	if diff := before.Diff(h.Snapshot()); len(diff) != 0 {
		t.Errorf("diff after restoring the mode = %q, want none", diff)
	}
}

func TestSnapshotSeesDeletion(t *testing.T) {
	t.Parallel()
	h := NewHostWithBin(t, "")
	before := h.Snapshot()

	// A deleted base file leaves a whiteout in the upper layer.
	motd, err := os.ReadFile(filepath.Join(h.Root(), "etc/motd"))
	if err != nil {
		t.Fatal(err)
	}
	h.MustRun("rm", "/etc/motd")
	if diff := before.Diff(h.Snapshot()); len(diff) != 1 || !hasLine(diff, "- /etc/motd (file 0644 0:0 sha256:") {
		t.Errorf("diff after rm /etc/motd = %q, want one line for /etc/motd", diff)
	}
	h.WriteFile("/etc/motd", motd, 0o644)
	if diff := before.Diff(h.Snapshot()); len(diff) != 0 {
		t.Errorf("diff after restoring /etc/motd = %q, want none", diff)
	}

	// A base directory removed and made again is opaque in the upper layer:
	// the base's files below it are gone although the upper layer has no entry
	// for them.
	const dir = "/etc/default"
	entries, err := os.ReadDir(filepath.Join(h.Root(), dir))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			t.Fatalf("%s/%s is not a regular file; pick another directory for this test", dir, e.Name())
		}
		if contents[e.Name()], err = os.ReadFile(filepath.Join(h.Root(), dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if len(contents) == 0 {
		t.Fatalf("%s is empty in the base; pick another directory for this test", dir)
	}
	h.MustRun("sh", "-c", "rm -rf "+dir+" && mkdir -m 0755 "+dir)
	diff := before.Diff(h.Snapshot())
	if len(diff) != len(contents) {
		t.Errorf("diff after re-making %s has %d lines, want %d (one per file):\n%s", dir, len(diff), len(contents), strings.Join(diff, "\n"))
	}
	for name := range contents {
		if !hasLine(diff, "- "+dir+"/"+name+" (file ") {
			t.Errorf("diff after re-making %s does not report %s as removed", dir, name)
		}
	}
	for name, data := range contents {
		h.WriteFile(dir+"/"+name, data, 0o644)
	}
	if diff := before.Diff(h.Snapshot()); len(diff) != 0 {
		t.Errorf("diff after restoring %s = %q, want none", dir, diff)
	}
}

// hasLine reports whether a line of diff starts with prefix.
func hasLine(diff []string, prefix string) bool {
	for _, line := range diff {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// diffPath is the path a line of Snapshot.Diff is about.
func diffPath(line string) string {
	p := line[min(2, len(line)):]
	if i := strings.IndexAny(p, " :"); i >= 0 {
		p = p[:i]
	}
	return p
}
