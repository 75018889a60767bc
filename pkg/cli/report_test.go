package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyctl/notifyctl/pkg/engine"
)

// pty is a pseudo-terminal: the reporter writes to tty as to a terminal's
// stderr, and the test reads what the terminal got.
type pty struct {
	tty  *os.File
	out  chan []byte
	ptmx *os.File
}

func openPTY(t *testing.T, cols uint16) *pty {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatalf("set pty size: %v", err)
	}
	p := &pty{tty: tty, ptmx: ptmx, out: make(chan []byte, 1)}
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed
		p.out <- b
	}()
	t.Cleanup(func() { tty.Close(); ptmx.Close() })
	return p
}

// output closes the terminal side and returns all it received, with the
// terminal's "\r\n" for "\n" turned back.
func (p *pty) output(t *testing.T) string {
	t.Helper()
	p.tty.Close()
	select {
	case b := <-p.out:
		return strings.ReplaceAll(string(b), "\r\n", "\n")
	case <-time.After(5 * time.Second):
		t.Fatal("reading the pty did not end")
		return ""
	}
}

// testReporter is a reporter for one command line with the given flags.
func testReporter(t *testing.T, stdout, stderr io.Writer, quiet, verbose bool) *reporter {
	t.Helper()
	o := &options{stdout: stdout, stderr: stderr}
	con := consoleOf(o)
	con.quiet, con.verbose = quiet, verbose
	t.Cleanup(func() { consoles.Delete(o) })
	return newReporter(o)
}

// colourEnv is a terminal environment that asks for colour.
func colourEnv(t *testing.T) {
	t.Setenv("TERM", "xterm-256color")
	t.Setenv("CI", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("CLICOLOR", "")
	t.Setenv("CLICOLOR_FORCE", "")
}

// install reports what an install of two steps does: a file updated, then
// a service started after a wait.
func install(r *reporter) {
	r.Note("install demo")
	r.Step("file /opt/demo/app.py", engine.Change{Action: "update", Diff: "--- a\n+++ b\n-old\n+new\n"}, true, nil)
	r.Step("unit /etc/systemd/system/demo.service", engine.Change{}, false, nil)
	r.Waiting("service demo.service", 300*time.Millisecond, "")
	r.Waiting("service demo.service", 1500*time.Millisecond, "demo: loading data")
	r.Waiting("service demo.service", 1800*time.Millisecond, "demo: loading data")
	r.Step("service demo.service", engine.Change{Action: "start", Detail: "wait for ActiveState=active"}, true, nil)
	r.Waiting("service demo.service", 1900*time.Millisecond, "late") // after the step: ignored
	r.log.Warn("a warning")
}

func TestColourOnTerminalUnlessNoColor(t *testing.T) {
	colourEnv(t)
	p := openPTY(t, 100)
	install(testReporter(t, io.Discard, p.tty, false, false))
	if out := p.output(t); !strings.Contains(out, "\x1b[") {
		t.Fatalf("no colour on a terminal with TERM=xterm-256color:\n%q", out)
	}

	t.Setenv("NO_COLOR", "1")
	p = openPTY(t, 100)
	install(testReporter(t, io.Discard, p.tty, false, false))
	out := p.output(t)
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("escape sequences on a terminal with NO_COLOR set:\n%q", out)
	}
	if !strings.Contains(out, "INFO started  service demo.service") {
		t.Errorf("the step lines are missing:\n%q", out)
	}
}

func TestLiveLineOnTerminal(t *testing.T) {
	colourEnv(t)
	t.Setenv("NO_COLOR", "1")
	p := openPTY(t, 100)
	install(testReporter(t, io.Discard, p.tty, false, false))
	out := p.output(t)

	for _, want := range []string{
		"\r     waiting  service demo.service  0.3s",
		"\r     waiting  service demo.service  1.5s  demo: loading data",
		"\r     waiting  service demo.service  1.8s  demo: loading data",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the live line lacks %q:\n%q", want, out)
		}
	}
	// The live line is erased, with spaces, before the step's own line.
	line := "     waiting  service demo.service  1.8s  demo: loading data"
	erase := "\r" + strings.Repeat(" ", len(line)) + "\r"
	if !strings.Contains(out, line+erase+"INFO started  service demo.service") {
		t.Errorf("the live line is not erased before the next message:\n%q", out)
	}
	if strings.Contains(out, "late") {
		t.Errorf("a Waiting after the step's own line was shown:\n%q", out)
	}
	// A shorter line replacing a longer one is padded over it.
	if !strings.Contains(out, "  0.3s\r     waiting") {
		t.Errorf("the first live line is not replaced in place:\n%q", out)
	}
	// Nothing is left of it: every line printed is a message.
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l = strings.TrimSpace(l[strings.LastIndexByte(l, '\r')+1:]); !strings.HasPrefix(l, "INFO ") && !strings.HasPrefix(l, "WARN ") {
			t.Errorf("line left on the terminal: %q", l)
		}
	}
}

func TestLiveLineFitsTheTerminal(t *testing.T) {
	colourEnv(t)
	p := openPTY(t, 40)
	r := testReporter(t, io.Discard, p.tty, false, false)
	r.Waiting("service demo.service", 2*time.Second, "a status text much longer than the terminal is wide\nwith a newline")
	out := p.output(t)
	line := strings.TrimPrefix(out, "\r")
	if n := len([]rune(line)); n != 39 || !strings.HasSuffix(line, "…") || strings.ContainsAny(line, "\n\r") {
		t.Errorf("live line on a 40-column terminal is %d columns: %q", n, line)
	}
}

func TestNothingAnimatedWithoutTerminal(t *testing.T) {
	colourEnv(t)
	var stderr bytes.Buffer
	install(testReporter(t, io.Discard, &stderr, false, false))
	out := stderr.String()
	if strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "waiting") {
		t.Errorf("live line or colour without a terminal:\n%q", out)
	}

	// A pipe is an *os.File, but no terminal either.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(pr); done <- b }()
	install(testReporter(t, io.Discard, pw, false, false))
	pw.Close()
	if out := string(<-done); strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "waiting") {
		t.Errorf("live line or colour on a pipe:\n%q", out)
	}
}

func TestQuietShowsOnlyWarningsAndErrors(t *testing.T) {
	colourEnv(t)
	t.Setenv("NO_COLOR", "1")
	p := openPTY(t, 100)
	r := testReporter(t, io.Discard, p.tty, true, false)
	install(r)
	r.Step("service demo.service", engine.Change{Action: "start"}, false, errors.New("did not become active\nmore"))
	out := p.output(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "WARN a warning") ||
		!strings.HasPrefix(lines[1], "ERRO failed   service demo.service err=\"did not become active\"") {
		t.Errorf("-q output is not the warning and the error alone:\n%q", out)
	}
}

func TestDefaultIsOneLinePerStep(t *testing.T) {
	var stderr, stdout bytes.Buffer
	install(testReporter(t, &stdout, &stderr, false, false))
	want := `INFO install demo
INFO updated  file /opt/demo/app.py
INFO ok       unit /etc/systemd/system/demo.service
INFO started  service demo.service detail="wait for ActiveState=active"
WARN a warning
`
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", &stderr, want)
	}
	if stdout.Len() != 0 {
		t.Errorf("install wrote to stdout: %q", &stdout)
	}
}

func TestVerboseShowsTimesDiffsAndStatus(t *testing.T) {
	var stderr, stdout bytes.Buffer
	install(testReporter(t, &stdout, &stderr, false, true))
	out := stderr.String()
	for _, want := range []string{
		"INFO updated  file /opt/demo/app.py took=",
		"--- a\n+++ b\n-old\n+new\n", // the diff install applied
		"DEBU waiting  service demo.service elapsed=300ms status=\"\"",
		"DEBU waiting  service demo.service elapsed=1.5s status=\"demo: loading data\"",
		"INFO started  service demo.service took=",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("-v output lacks %q:\n%s", want, out)
		}
	}
	// A status is logged when it changes, not on every call.
	if n := strings.Count(out, "loading data"); n != 1 {
		t.Errorf("the same status was logged %d times:\n%s", n, out)
	}
	if strings.Contains(out, "late") {
		t.Errorf("a Waiting after the step's own line was logged:\n%s", out)
	}
	if stdout.Len() != 0 {
		t.Errorf("install -v wrote to stdout: %q", &stdout)
	}
}

func TestPreviewDiffsOnStdout(t *testing.T) {
	var stderr, stdout bytes.Buffer
	r := testReporter(t, &stdout, &stderr, true, false)
	r.Step("file /opt/demo/app.py", engine.Change{Action: "update", Diff: "+new"}, false, nil)
	if stdout.String() != "+new\n" || stderr.Len() != 0 {
		t.Errorf("plan -q: stdout %q, stderr %q; want the diff alone, on stdout", &stdout, &stderr)
	}
}

func TestPastTenseOfEveryAction(t *testing.T) {
	var stderr bytes.Buffer
	r := testReporter(t, io.Discard, &stderr, false, false)
	r.Step("mail root", engine.Change{Action: "send"}, true, nil)
	if got := stderr.String(); got != "INFO sent     mail root\n" {
		t.Errorf("sent mail is reported as %q", got)
	}
}
