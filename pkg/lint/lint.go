// Package lint warns about plans whose readiness cannot work reliably, before
// anything is installed.
package lint

import (
	"fmt"
	"path"
	"strings"

	"github.com/notifyctl/notifyctl/pkg/plan"
)

// Unit is the part of a unit file readiness depends on.
type Unit struct {
	Type         string
	NotifyAccess string
	ExecStart    []string // the first ExecStart= command line, split on blanks
}

// ParseUnit reads the [Service] section's Type=, NotifyAccess= and the first
// ExecStart= (see plan.UnitSettings).
func ParseUnit(content []byte) Unit {
	var u Unit
	for _, s := range plan.UnitSettings(content) {
		if s.Section != "Service" {
			continue
		}
		switch s.Key {
		case "Type":
			u.Type = s.Value
		case "NotifyAccess":
			u.NotifyAccess = s.Value
		case "ExecStart":
			if u.ExecStart == nil && s.Value != "" {
				u.ExecStart = strings.Fields(strings.TrimLeft(s.Value, "-@:+!"))
			}
		}
	}
	return u
}

// notifiers are programs known to send READY=1 themselves.
var notifiers = map[string]bool{"gunicorn": true, "gunicorn3": true}

// interpreters run the plan's own scripts.
var interpreters = map[string]bool{"python": true, "sh": true, "bash": true, "dash": true, "perl": true, "node": true, "ruby": true}

// notifyMarks are what a script or app that notifies by itself contains.
var notifyMarks = []string{"systemd-notify", "sd_notify", "NOTIFY_SOCKET", "sdnotify", "systemd.daemon"}

// Readiness returns warnings about how the plan's service tells systemd it is
// ready. Files the plan installs are read from the plan itself.
func Readiness(p *plan.Plan) []string {
	u := ParseUnit(p.UnitContent)
	if u.Type != "notify" && u.Type != "notify-reload" || len(u.ExecStart) == 0 {
		return nil
	}
	access := u.NotifyAccess
	if access == "" {
		access = "main"
	}
	files := map[string][]byte{}
	for _, f := range p.Files {
		files[f.Dest] = f.Content
	}
	prog := u.ExecStart[0]
	if path.Base(prog) == "notifyctl" || isSelf(p, prog) {
		return nil // notifyctl run notifies from the main process
	}
	if notifiers[path.Base(prog)] {
		return nil
	}
	var warns []string
	script, inPlan := files[prog]
	if inPlan && isShell(script) {
		if callsNotify(script) {
			if !execsNotify(script) {
				warns = append(warns, fmt.Sprintf("%s: ExecStart=%s is a shell script that runs systemd-notify as a child: "+
					"systemd drops a notification whose sender has already exited, so READY=1 can be lost "+
					"(use `notifyctl run` as ExecStart)", p.Unit.Name, prog))
			}
			if access == "main" {
				warns = append(warns, fmt.Sprintf("%s: NotifyAccess=%s, but READY=1 comes from a child of the main process "+
					"(systemd-notify in %s): systemd ignores it and the start will time out", p.Unit.Name, access, prog))
			}
			return warns
		}
	}
	for _, content := range files {
		for _, m := range notifyMarks {
			if strings.Contains(string(content), m) {
				return warns
			}
		}
	}
	// A program of the plan, or an interpreter running one, is known not to
	// notify; a binary from elsewhere may do so by itself.
	if inPlan || interpreters[strings.TrimRight(path.Base(prog), "0123456789.")] {
		warns = append(warns, fmt.Sprintf("%s: Type=notify, but nothing in the plan sends READY=1: the start will time out "+
			"(run the app under `notifyctl run`, or use Type=exec)", p.Unit.Name))
	}
	return warns
}

func isSelf(p *plan.Plan, prog string) bool {
	for _, f := range p.Files {
		if f.Dest == prog && f.Source == plan.SelfSource {
			return true
		}
	}
	return false
}

func isShell(b []byte) bool {
	first, _, _ := strings.Cut(string(b), "\n")
	if !strings.HasPrefix(first, "#!") {
		return false
	}
	for _, sh := range []string{"/sh", "/bash", "/dash", "env sh", "env bash"} {
		if strings.Contains(first, sh) {
			return true
		}
	}
	return false
}

func callsNotify(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); !strings.HasPrefix(l, "#") && strings.Contains(l, "systemd-notify") {
			return true
		}
	}
	return false
}

// execsNotify says whether every systemd-notify call replaces the shell
// (exec systemd-notify ...), so that the notification comes from the main PID.
func execsNotify(b []byte) bool {
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") || !strings.Contains(l, "systemd-notify") {
			continue
		}
		if !strings.HasPrefix(l, "exec ") {
			return false
		}
	}
	return true
}
