package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/log"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// reporter prints one line per step on stderr (colour on a terminal, plain
// text otherwise), diffs of a preview on stdout unless --json.
type reporter struct {
	log    *log.Logger
	o      *options
	undone []engine.StepResult
}

func newReporter(o *options) *reporter {
	l := log.NewWithOptions(o.stderr, log.Options{})
	return &reporter{log: l, o: o}
}

// past turns an action into what was done.
var past = map[string]string{
	"create": "created", "update": "updated", "install": "installed", "enable": "enabled",
	"daemon-reload": "reloaded", "start": "started", "restart": "restarted",
	"remove": "removed", "restore": "restored", "delete": "deleted", "stop": "stopped",
	"disable": "disabled",
}

// Step implements engine.Reporter.
func (r *reporter) Step(name string, c engine.Change, applied bool, err error) {
	kv := []any{}
	if c.Detail != "" {
		kv = append(kv, "detail", c.Detail)
	}
	switch {
	case err != nil:
		r.log.Error("failed   "+name, "err", firstLine(err))
	case !c.Changed():
		r.log.Info("ok       "+name, kv...)
	case applied:
		r.log.Info(fmt.Sprintf("%-8s %s", past[c.Action], name), kv...)
	default:
		r.log.Info(fmt.Sprintf("would %s %s", c.Action, name), kv...)
		if c.Diff != "" && !r.o.json {
			io.WriteString(r.o.stdout, c.Diff)
			if !strings.HasSuffix(c.Diff, "\n") {
				io.WriteString(r.o.stdout, "\n")
			}
		}
	}
}

// Undo implements engine.Reporter.
func (r *reporter) Undo(name string, err error) {
	if err != nil {
		r.log.Error("undo failed "+name, "err", err)
		return
	}
	r.log.Info("undone   " + name)
	r.undone = append(r.undone, engine.StepResult{Name: name, Action: "undo", Changed: true})
}

// Note implements engine.Reporter.
func (r *reporter) Note(format string, args ...any) {
	r.log.Info(fmt.Sprintf(format, args...))
}

// failure shows why a run failed, beyond the failed step's own line: for a
// service, systemd's view and its log; a rollback that did not complete.
func (r *reporter) failure(err error) {
	var f *systemd.Failure
	if errors.As(err, &f) {
		r.log.Error(f.Error())
		for _, d := range f.Details() {
			fmt.Fprintln(r.o.stderr, "    "+d)
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
