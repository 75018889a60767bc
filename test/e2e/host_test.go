//go:build e2e

// Package e2e holds the end-to-end tests of notifyctl. They run the real binary
// as root against a real systemd: every test boots its own throwaway Debian host
// (systemd-nspawn on an overlayfs above a cached base, see scripts/testhost.sh)
// and throws it away afterwards.
//
// Run them as root with:
//
//	go test -tags e2e -count=1 -v ./test/e2e
//
// A missing prerequisite (not root, no systemd-nspawn, ...) fails the tests: they
// are never skipped.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunTimeout bounds every command run inside a host. A command that hangs is
// reported as failed (exit code -1) instead of hanging the test binary, so the
// test's cleanup still kills the host and unmounts it.
var RunTimeout = 3 * time.Minute

// hostEnv is the environment of the commands run inside a host: a plain root
// login environment rather than whatever the test process inherited.
var hostEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
}

// hostSlots bounds how many hosts this test process runs at once (4), whatever
// -parallel says: every host holds inotify instances, and the machine's limit
// (fs.inotify.max_user_instances, 128 by default) is shared by everything that
// runs as root. NewHost blocks until a slot is free, so a test must not need
// more than 4 hosts at once.
var hostSlots = make(chan struct{}, 4)

// upMu serialises `testhost.sh up`: the script may mount a tmpfs on
// /run/systemd/nspawn the first time, which must not happen twice concurrently.
// Booting takes well under a second, so parallel tests barely wait.
var upMu sync.Mutex

// Host is one throwaway systemd host. Its methods report failures through the
// test that created it, so use a Host only from that test (not from subtests
// that outlive it).
type Host struct {
	Dir    string // the host's directory: root (merged view), upper, work, lower, leader, console.log
	Leader int    // PID, outside, of the host's PID 1
	t      testing.TB
}

// NewHost boots a host with the notifyctl binary under test (see binPath) bound
// read-only at /usr/local/bin/notifyctl, and registers its teardown.
func NewHost(t testing.TB) *Host {
	t.Helper()
	return NewHostWithBin(t, binPath(t))
}

// NewHostWithBin boots a host with bin bound read-only at
// /usr/local/bin/notifyctl; bin "" binds nothing. The host is killed and
// removed when the test ends; if the test failed, the tail of the host's journal
// is logged first.
func NewHostWithBin(t testing.TB, bin string) *Host {
	t.Helper()
	checkPrerequisites(t)
	script := testhostScript(t)
	if bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatalf("e2e: binary %q: %v", bin, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			t.Fatalf("e2e: binary %q is not an executable file (err: %v)", abs, err)
		}
		bin = abs
	}

	hostSlots <- struct{}{}
	t.Cleanup(func() { <-hostSlots }) // runs last: cleanups run in reverse order
	for attempt := 1; ; attempt++ {
		// t.TempDir() names are long and the script derives the machine name
		// from the directory's base name, so use a short directory of our own.
		// `down` removes it.
		dir, err := os.MkdirTemp(os.TempDir(), "e2e-")
		if err != nil {
			t.Fatalf("e2e: %v", err)
		}
		h := &Host{Dir: dir, t: t}
		err = h.up(script, bin)
		if errors.Is(err, errWrongLeader) && attempt < 3 {
			t.Logf("e2e: %v; booting another host", err)
			h.teardown(script)
			continue
		}
		t.Cleanup(func() {
			if t.Failed() && h.Leader != 0 {
				h.logJournal()
			}
			h.teardown(script)
		})
		if err != nil {
			t.Fatalf("e2e: booting a host in %s: %v\nlast console lines:\n%s", dir, err, h.consoleTail(30))
		}
		return h
	}
}

// errWrongLeader is returned by Host.up when testhost.sh took a transient
// process of systemd-nspawn for the host's PID 1.
//
// The script takes the first child of systemd-nspawn as the leader. That child
// is at first nspawn's "outer child", which sets up the mounts, starts the
// host's PID 1 and exits; the host's PID 1 becomes nspawn's child only then.
// When the script looks too early (on a busy machine) it records the outer
// child and then waits 30 s for `nsenter -t <dead PID>` to work, in vain.
var errWrongLeader = errors.New("testhost.sh took a transient process of systemd-nspawn for the host's PID 1")

// up runs `testhost.sh up` for h and sets h.Leader. It watches the leader PID
// the script records and, if that is not the host's PID 1 (see
// errWrongLeader), stops the script at once and returns errWrongLeader.
func (h *Host) up(script, bin string) error {
	args := []string{"up", h.Dir}
	if bin != "" {
		args = append(args, bin)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// In a process group of its own, to stop the script with its children
	// (systemd-nspawn runs in a session of its own and is left to teardown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	upMu.Lock()
	defer upMu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("testhost.sh up: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			pid, ok := h.recordedLeader()
			if !ok {
				return fmt.Errorf("testhost.sh up succeeded but %s/leader holds no PID", h.Dir)
			}
			h.Leader = pid
			return nil
		case <-tick.C:
			if pid, ok := h.recordedLeader(); ok && h.wrongLeader(pid) {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				return fmt.Errorf("%w (PID %d)", errWrongLeader, pid)
			}
		}
	}
}

// recordedLeader is the PID that testhost.sh recorded in DIR/leader, if any yet.
func (h *Host) recordedLeader() (int, bool) {
	data, err := os.ReadFile(filepath.Join(h.Dir, "leader"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

// nspawnPID is the PID of the host's systemd-nspawn, if known.
func (h *Host) nspawnPID() (int, bool) {
	data, err := os.ReadFile(filepath.Join(h.Dir, "nspawn.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

// wrongLeader reports whether pid, while systemd-nspawn runs, is not the
// host's PID 1: it is gone, or it is not in a PID namespace of its own.
func (h *Host) wrongLeader(pid int) bool {
	nspawn, ok := h.nspawnPID()
	if !ok {
		return false
	}
	nspawnNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", nspawn))
	if err != nil {
		return false // nspawn is gone: the host died, the script will say so
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return err != nil || ns == nspawnNS
}

// teardown kills the host and removes its directory (`testhost.sh down`),
// reporting failures through h.t.
//
// `testhost.sh down` alone is not enough: it kills systemd-nspawn, but the
// host's systemd, in its own PID namespace, survives its parent and keeps
// running, orphaned, with its services, its mount of the overlay and its
// inotify instances. Leaked hosts soon exhaust fs.inotify.max_user_instances
// (128 by default; a host uses about 7) and new hosts then fail to boot with
// "Failed to allocate manager object: Too many open files". So teardown first
// kills the host's PID 1, which kills every process of the host.
func (h *Host) teardown(script string) {
	h.t.Helper()
	candidates := []int{h.Leader}
	if pid, ok := h.recordedLeader(); ok {
		candidates = append(candidates, pid)
	}
	if nspawn, ok := h.nspawnPID(); ok {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
		for _, f := range strings.Fields(string(children)) {
			if pid, err := strconv.Atoi(f); err == nil {
				candidates = append(candidates, pid)
			}
		}
	}
	for _, pid := range candidates {
		if pid > 0 && h.isHostProcess(pid) {
			h.kill(pid)
		}
	}
	if out, err := exec.Command(script, "down", h.Dir).CombinedOutput(); err != nil {
		h.t.Errorf("e2e: testhost.sh down %s: %v\n%s", h.Dir, err, out)
	}
}

// isHostProcess reports whether pid runs inside this host: its root is this
// host's overlay. (Checking the PID, not trusting it, guards against reuse.)
func (h *Host) isHostProcess(pid int) bool {
	mountinfo, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return false
	}
	upper := "upperdir=" + filepath.Join(h.Dir, "upper")
	for _, line := range strings.Split(string(mountinfo), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == "/" {
			return strings.Contains(line, upper+",") || strings.HasSuffix(line, upper)
		}
	}
	return false
}

// kill kills pid with SIGKILL and waits, a bounded time, until it is gone.
func (h *Host) kill(pid int) {
	h.t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		if !errors.Is(err, syscall.ESRCH) {
			h.t.Errorf("e2e: killing host process %d: %v", pid, err)
		}
		return
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		// Gone, or a zombie: "PID (COMM) Z ...".
		if err != nil || strings.Contains(string(stat), ") Z ") {
			return
		}
	}
	h.t.Errorf("e2e: host process %d is still alive 10s after SIGKILL", pid)
}

// logJournal logs the last lines of the host's journal, or of its console if
// the journal cannot be read.
func (h *Host) logJournal() {
	h.t.Helper()
	out, errOut, code := h.Run("journalctl", "--no-pager", "-n", "30")
	if code == 0 {
		h.t.Logf("e2e: last journal lines of host %s:\n%s", h.Dir, out)
		return
	}
	h.t.Logf("e2e: journalctl failed (exit %d: %s); last console lines of host %s:\n%s",
		code, strings.TrimSpace(errOut), h.Dir, h.consoleTail(30))
}

// consoleTail is the last n lines of the host's console (what systemd-nspawn
// printed).
func (h *Host) consoleTail(n int) string {
	console, err := os.ReadFile(filepath.Join(h.Dir, "console.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(console), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Run runs a command inside the host (all of its namespaces: its own systemd,
// D-Bus, /etc, network) as root with a plain environment (see hostEnv). It never
// fails the test: a command that cannot be started, or that exceeds RunTimeout,
// has exit code -1 and the reason appended to stderr.
func (h *Host) Run(args ...string) (stdout, stderr string, exitCode int) {
	h.t.Helper()
	if len(args) == 0 {
		return "", "e2e: Run: no command", -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), RunTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, testhostScript(h.t), append([]string{"exec", h.Dir}, args...)...)
	cmd.Env = hostEnv
	// If the command is killed, whatever it started inside the host may keep
	// the output pipes open; do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	var outBuf, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	err := cmd.Run()
	stdout, stderr = outBuf.String(), errBuf.String()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return stdout, stderr + fmt.Sprintf("\ne2e: %q timed out after %v", args, RunTimeout), -1
	case errors.As(err, &exitErr):
		return stdout, stderr, exitErr.ExitCode()
	case err != nil:
		return stdout, stderr + fmt.Sprintf("\ne2e: running %q: %v", args, err), -1
	}
	return stdout, stderr, 0
}

// MustRun is Run, failing the test (with the command's output) unless the
// command exits 0. It returns stdout.
func (h *Host) MustRun(args ...string) string {
	h.t.Helper()
	stdout, stderr, code := h.Run(args...)
	if code != 0 {
		h.t.Fatalf("e2e: %q exited %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
	}
	return stdout
}

// Notifyctl runs the notifyctl binary bound into the host.
func (h *Host) Notifyctl(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	return h.Run(append([]string{"notifyctl"}, args...)...)
}

// Root is the host's root filesystem (the overlay's merged view) as seen from
// outside. Mounts made inside the host (/run, /tmp, /proc, /sys, /dev) are not
// visible there.
func (h *Host) Root() string { return filepath.Join(h.Dir, "root") }

// hostMounts are the file systems mounted over the root inside a host: writing
// below them from outside (through Root) would not be seen inside.
var hostMounts = []string{"/run", "/tmp", "/proc", "/sys", "/dev"}

// WriteFile writes data to the absolute path p of the host's filesystem (through
// Root), creating missing parent directories (mode 0755), and sets the file's
// mode to exactly mode. A new file is owned by root. Symbolic links are resolved
// inside the host's root; absolute symbolic links on the way are refused rather
// than followed out of it. Paths below the host's own mounts (see hostMounts)
// are refused since the host would not see them; write those with Run.
func (h *Host) WriteFile(p string, data []byte, mode os.FileMode) {
	h.t.Helper()
	if !path.IsAbs(p) || path.Clean(p) == "/" {
		h.t.Fatalf("e2e: WriteFile: %q is not an absolute file path", p)
	}
	p = path.Clean(p)
	for _, m := range hostMounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			h.t.Fatalf("e2e: WriteFile: %s is below %s, a mount of its own inside the host; use Run", p, m)
		}
	}
	root, err := os.OpenRoot(h.Root())
	if err != nil {
		h.t.Fatalf("e2e: WriteFile: %v", err)
	}
	defer root.Close()
	rel := strings.TrimPrefix(p, "/")
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		h.t.Fatalf("e2e: WriteFile %s: %v", p, err)
	}
	if err := root.WriteFile(rel, data, mode); err != nil {
		h.t.Fatalf("e2e: WriteFile %s: %v", p, err)
	}
	// The umask applied when creating, and an existing file keeps its mode.
	if err := root.Chmod(rel, mode); err != nil {
		h.t.Fatalf("e2e: WriteFile %s: %v", p, err)
	}
}

// Prop is the value of the property prop of unit (of systemd itself when
// unit is ""), as reported by `systemctl show -p PROP --value [UNIT]`
// inside the host, trimmed.
func (h *Host) Prop(unit, prop string) string {
	h.t.Helper()
	args := []string{"systemctl", "show", "-p", prop, "--value"}
	if unit != "" {
		args = append(args, unit)
	}
	return strings.TrimSpace(h.MustRun(args...))
}

// systemdVersion is the major version of systemd on the test hosts, read
// from their base's package database.
func systemdVersion(t testing.TB) int {
	t.Helper()
	base, err := exec.Command(testhostScript(t), "base").Output()
	if err != nil {
		t.Fatalf("e2e: testhost.sh base: %v", err)
	}
	admin := filepath.Join(strings.TrimSpace(string(base)), "var/lib/dpkg")
	out, err := exec.Command("dpkg-query", "--admindir="+admin, "-W", "-f=${Version}", "systemd").Output()
	if err != nil {
		t.Fatalf("e2e: the systemd version of the test base: %v", err)
	}
	digits := strings.TrimSpace(string(out))
	if i := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		digits = digits[:i]
	}
	v, err := strconv.Atoi(digits)
	if err != nil {
		t.Fatalf("e2e: systemd version %q: %v", out, err)
	}
	return v
}

// checkPrerequisites fails the test, with what is missing, unless this machine
// can boot test hosts. It never skips: a skipped e2e test is a failure too.
func checkPrerequisites(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("e2e: the end-to-end tests boot systemd hosts with systemd-nspawn and must run as root (euid is %d)", os.Geteuid())
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "mountpoint"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("e2e: %s not found (%v); install the prerequisites with `scripts/testhost.sh deps`", tool, err)
		}
	}
}

// repoRoot is the repository root: the nearest directory, from the test's
// working directory up, that holds go.mod.
var repoRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = parent
	}
})

// testhostScript is the path of scripts/testhost.sh.
func testhostScript(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("e2e: cannot find the repository root: %v", err)
	}
	script := filepath.Join(root, "scripts", "testhost.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return script
}

// built is the notifyctl binary built by binPath, once per test process.
var built struct {
	once sync.Once
	dir  string // temporary directory holding it, removed by TestMain
	path string
	err  error
}

// binPath is the notifyctl binary under test: $NOTIFYCTL_BIN if set (a relative
// path is taken from the repository root), else ./cmd/notifyctl built once per
// test process with CGO_ENABLED=0 (a static binary runs in any host).
func binPath(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("e2e: cannot find the repository root: %v", err)
	}
	if bin := os.Getenv("NOTIFYCTL_BIN"); bin != "" {
		if !filepath.IsAbs(bin) {
			bin = filepath.Join(root, bin)
		}
		return bin
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-notifyctl-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		out := filepath.Join(dir, "notifyctl")
		cmd := exec.Command("go", "build", "-o", out, "./cmd/notifyctl")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if output, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/notifyctl: %v\n%s", err, output)
			return
		}
		built.path = out
	})
	if built.err != nil {
		t.Fatalf("e2e: building notifyctl: %v", built.err)
	}
	return built.path
}

// TestMain removes the binary built by binPath once all tests have run. No
// other file of this package may define TestMain.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
