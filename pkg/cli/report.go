package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/log"
	"github.com/muesli/termenv"
	"golang.org/x/sys/unix"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// Waiter is implemented by the reporter for a step that waits, such as the
// start step waiting for readiness: while it waits, the step calls Waiting
// every few hundred milliseconds with how long it has waited so far and the
// unit's StatusText. On a terminal the reporter shows one live line, replaced
// in place and erased before the next message; with -v it also logs each new
// status text; otherwise it shows nothing. Calls for a step that has already
// been reported are ignored.
type Waiter interface {
	Waiting(name string, elapsed time.Duration, status string)
}

var _ engine.Reporter = (*reporter)(nil)
var _ Waiter = (*reporter)(nil)

// console is where a command's messages go (stderr), how many of them (-q,
// -v), whether in colour, and the live line shown while a step waits on a
// terminal. Every message goes through it, so the live line is erased before
// anything else is written.
type console struct {
	quiet, verbose bool // set by the root command's flags

	once    sync.Once
	w       io.Writer // stderr
	tty     bool      // stderr is a terminal: the live line is shown
	width   int       // the terminal's width, in columns
	profile termenv.Profile

	mu   sync.Mutex
	live int // columns taken by the live line now on screen; 0 when none
}

// consoles holds the console of each command line, by the options its
// commands share.
var consoles sync.Map // *options → *console

// consoleOf is the console of the command line o belongs to.
func consoleOf(o *options) *console {
	c, _ := consoles.LoadOrStore(o, &console{})
	return c.(*console)
}

// open looks at stderr once: a terminal or not, and which colours it takes.
// NO_COLOR (and CLICOLOR=0, TERM=dumb) turn colour off, CLICOLOR_FORCE on.
// The terminal is never queried (no escape sequences are sent to ask for its
// colours), and without colour nothing but text, "\r" and "\n" is written.
func (c *console) open(stderr io.Writer) *console {
	c.once.Do(func() {
		c.w = stderr
		c.profile = termenv.Ascii
		f, ok := stderr.(*os.File)
		if !ok {
			return
		}
		c.profile = termenv.NewOutput(f).EnvColorProfile()
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			c.tty = true
			c.width = 80
			if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
				c.width = int(ws.Col)
			}
		}
	})
	return c
}

// Write implements io.Writer: the live line, if any, is erased first.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.erase()
	return c.w.Write(p)
}

// erase removes the live line, with spaces rather than an escape sequence.
// Callers hold c.mu.
func (c *console) erase() {
	if c.live > 0 {
		io.WriteString(c.w, "\r"+strings.Repeat(" ", c.live)+"\r")
		c.live = 0
	}
}

// show replaces the live line with line, cut to the terminal's width. It does
// nothing unless stderr is a terminal.
func (c *console) show(line string) {
	if !c.tty {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	line = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' ' // a newline or escape (C0 or C1) in a status text must not break the line
		}
		return r
	}, line)
	if n := c.width - 1; n >= 2 && utf8.RuneCountInString(line) > n {
		line = string([]rune(line)[:n-1]) + "…"
	}
	cols := utf8.RuneCountInString(line)
	pad := ""
	if c.live > cols {
		pad = strings.Repeat(" ", c.live-cols)
	}
	io.WriteString(c.w, "\r"+line+pad)
	c.live = cols
}

// reporter prints one line per step on stderr (colour on a terminal, plain
// text otherwise), diffs of a preview on stdout unless --json. With -q only
// warnings and errors are shown; with -v also how long each step took, the
// diffs of what install changed, and the status texts of a service starting.
type reporter struct {
	log    *log.Logger
	o      *options
	con    *console
	undone []engine.StepResult

	mu       sync.Mutex
	last     time.Time          // when the previous step was reported
	reported map[string]bool    // steps reported: a late Waiting is ignored
	status   map[string]*string // the last status text of a waiting step
}

func newReporter(o *options) *reporter {
	con := consoleOf(o).open(o.stderr)
	l := log.NewWithOptions(con, log.Options{})
	l.SetColorProfile(con.profile)
	switch {
	case con.quiet:
		l.SetLevel(log.WarnLevel)
	case con.verbose:
		l.SetLevel(log.DebugLevel)
	}
	return &reporter{log: l, o: o, con: con, last: time.Now(),
		reported: map[string]bool{}, status: map[string]*string{}}
}

// past turns an action into what was done.
var past = map[string]string{
	"create": "created", "update": "updated", "install": "installed", "enable": "enabled",
	"daemon-reload": "reloaded", "start": "started", "restart": "restarted",
	"remove": "removed", "restore": "restored", "delete": "deleted", "stop": "stopped",
	"disable": "disabled", "claim": "claimed", "run": "ran", "send": "sent",
}

// took is the time since the previous step was reported, as -v shows it.
func (r *reporter) took(name string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	d := now.Sub(r.last)
	r.last = now
	r.reported[name] = true
	if !r.con.verbose {
		return nil
	}
	return []any{"took", d.Round(time.Millisecond)}
}

// Step implements engine.Reporter.
func (r *reporter) Step(name string, c engine.Change, applied bool, err error) {
	kv := r.took(name)
	if c.Detail != "" {
		kv = append(kv, "detail", c.Detail)
	}
	switch {
	case err != nil:
		r.log.Error("failed   "+name, append(kv, "err", firstLine(err))...)
	case !c.Changed():
		r.log.Info("ok       "+name, kv...)
	case applied:
		r.log.Info(fmt.Sprintf("%-8s %s", past[c.Action], name), kv...)
		if c.Diff != "" && r.con.verbose {
			writeDiff(r.con, c.Diff)
		}
	default:
		r.log.Info(fmt.Sprintf("would %s %s", c.Action, name), kv...)
		if c.Diff != "" && !r.o.json {
			writeDiff(r.o.stdout, c.Diff)
		}
	}
}

func writeDiff(w io.Writer, diff string) {
	if !strings.HasSuffix(diff, "\n") {
		diff += "\n"
	}
	io.WriteString(w, diff)
}

// Undo implements engine.Reporter.
func (r *reporter) Undo(name string, err error) {
	kv := r.took("undo " + name)
	if err != nil {
		r.log.Error("undo failed "+name, append(kv, "err", err)...)
		return
	}
	r.log.Info("undone   "+name, kv...)
	r.undone = append(r.undone, engine.StepResult{Name: name, Action: "undo", Changed: true})
}

// Note implements engine.Reporter.
func (r *reporter) Note(format string, args ...any) {
	r.log.Info(fmt.Sprintf(format, args...))
}

// Waiting implements Waiter.
func (r *reporter) Waiting(name string, elapsed time.Duration, status string) {
	r.mu.Lock()
	if r.reported[name] {
		r.mu.Unlock()
		return
	}
	prev := r.status[name]
	changed := prev == nil || *prev != status
	r.status[name] = &status
	r.mu.Unlock()

	if changed && r.con.verbose {
		r.log.Debug("waiting  "+name, "elapsed", elapsed.Round(100*time.Millisecond), "status", status)
	}
	if r.con.quiet {
		return
	}
	line := fmt.Sprintf("     waiting  %s  %.1fs", name, elapsed.Seconds())
	if status != "" {
		line += "  " + status
	}
	r.con.show(line)
}

// failure shows why a run failed, beyond the failed step's own line: for a
// service, systemd's view and its log; a rollback that did not complete.
func (r *reporter) failure(err error) {
	var f *systemd.Failure
	if errors.As(err, &f) {
		r.log.Error(f.Error())
		for _, d := range f.Details() {
			fmt.Fprintln(r.con, "    "+d)
		}
	}
	var rb *engine.RollbackError
	if errors.As(err, &rb) {
		r.log.Error(rb.Error())
	}
	var se *engine.StepError
	if !errors.As(err, &se) {
		r.log.Error(err.Error())
	}
}

func (r *reporter) json(v any) {
	enc := json.NewEncoder(r.o.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
