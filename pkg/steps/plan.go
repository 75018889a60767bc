package steps

import (
	"path"
	"time"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/plan"
)

// ForPlan returns a plan's steps in the order they run: packages, unit file
// and drop-in, enable, one daemon-reload (left to run in the background, or
// to the start: see Reload), group and user, directories, data, files,
// checks, start, then what to do once ready. live, the plan journal's live
// entries (nil when it is not installed), adds the steps that remove what an
// earlier install made and the plan no longer has: drop-ins before the
// reload, files and directories after the plan's own files; left names what
// only uninstall undoes (see ObsoleteSteps). live must have passed the
// journal's validation.
func ForPlan(h *Host, p *plan.Plan, live []journal.Entry) (planned []engine.Step, left []string) {
	s := forPlan(h, p)
	if len(live) == 0 {
		return s, nil
	}
	for _, st := range s {
		if start, ok := st.(*Start); ok {
			start.Due = RestartDue(live)
		}
	}
	dropIns, rest, left := ObsoleteSteps(h, s, live, p.Unit.Path())
	for _, st := range s {
		switch st.Kind() {
		case "enable", "reload":
			planned = append(planned, dropIns...)
			dropIns = nil
		case "check", "start":
			planned = append(planned, rest...)
			rest = nil
		}
		planned = append(planned, st)
	}
	return planned, left
}

func forPlan(h *Host, p *plan.Plan) []engine.Step {
	var s []engine.Step
	if len(p.Packages) > 0 {
		s = append(s, &Packages{H: h, Names: p.Packages})
	}
	// The unit comes first, so that systemd reads it (when asked for it, or
	// by a daemon-reload in the background) while the user and the app's
	// files are made.
	s = append(s, NewUnitFile(h, p.Unit.Path(), p.UnitContent))
	if len(p.DropIn) > 0 {
		s = append(s,
			&Directory{H: h, Path: path.Dir(p.DropInPath()), Mode: 0o755, Owner: "root", Group: "root"},
			NewUnitFile(h, p.DropInPath(), p.DropIn))
	}
	if p.Unit.Enabled() {
		s = append(s, &Enable{H: h, Unit: p.Unit.Name})
	}
	reload := &Reload{H: h, Unit: p.Unit.Name, Path: p.Unit.Path()}
	if p.Unit.Enabled() {
		reload.Links = p.InstallTargets()
	}
	s = append(s, reload)
	if u := p.User; u != nil {
		s = append(s, &User{H: h, Plan: p.Name, Name: u.Name, Group: u.Group, Home: u.Home, Shell: u.Shell})
	}
	for _, d := range p.Directories {
		s = append(s, &Directory{H: h, Path: d.Path, Mode: uint32(d.Mode), Owner: d.Owner, Group: d.Group})
	}
	for _, d := range p.Data {
		s = append(s, &Data{H: h, Path: d})
	}
	for _, f := range p.Files {
		s = append(s, NewFile(h, f.Dest, f.Content, uint32(f.Mode), f.Owner, f.Group))
	}
	for _, c := range p.Checks {
		s = append(s, &Check{H: h, Name: c.Name, Run: c.Run, User: c.User, Dir: c.Dir})
	}
	s = append(s,
		&Start{H: h, Unit: p.Unit.Name, Timeout: time.Duration(p.Readiness.Timeout), HTTP: p.Readiness.HTTP},
	)
	if m := p.OnReady.Mail; m != nil {
		s = append(s, &Mail{H: h, To: m.To, Subject: m.Subject, Body: m.Body})
	}
	return s
}
