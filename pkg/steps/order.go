package steps

import (
	"context"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// UndoOrder is the order in which a rollback or an uninstall undoes a
// plan's entries, given latest first: the service is stopped, then what
// systemd reads (the enablement, the unit file and its drop-in) is undone,
// and only then the app's files, directories, data and user.
//
// Install writes the unit first, so that systemd reloads while the app's
// files are written; undoing strictly in reverse would leave the unit files
// to the end and the daemon-reload after everything else. In this order the
// reload starts once the last unit file is undone (see reloadEarly) and
// runs while the app's files are removed. Nothing of the app depends on the
// unit once the service is stopped, and within each group the reverse
// journal order is kept.
func UndoOrder(latestFirst []journal.Entry) []journal.Entry {
	out := make([]journal.Entry, 0, len(latestFirst))
	for _, group := range []func(journal.Entry) bool{
		func(e journal.Entry) bool { return e.Step == "start" },
		readBySystemd,
		appSide,
	} {
		for _, e := range latestFirst {
			if group(e) {
				out = append(out, e)
			}
		}
	}
	return out
}

// readBySystemd says whether an entry is part of what systemd loads: the
// unit file, its drop-in and drop-in directory, its enablement, the reload.
func readBySystemd(e journal.Entry) bool {
	switch e.Step {
	case "unit", "enable", "reload":
		return true
	case "directory":
		return dropInDir(e.Key)
	}
	return false
}

// appSide says whether an entry is undone after the unit files: neither the
// service's start nor anything systemd reads.
func appSide(e journal.Entry) bool { return e.Step != "start" && !readBySystemd(e) }

// reloadEarly wraps an undo function. UndoOrder puts what systemd does not
// read after every unit file: when the first of it is undone, the unit
// files are what they will be, and the daemon-reload they ask for starts
// then, in the background, while the app's files and user are removed. No
// undo of that group calls systemd over notifyctl's connection (a package's
// maintainer scripts may, on their own, and systemd has them wait for the
// reload). finish waits for the reload (and reloads again if an undo after
// it asked to).
func reloadEarly(h *Host, f engine.UndoFunc) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		if appSide(e) && u.NeedReload && h.reloading == nil {
			if u.DryRun {
				u.Would("systemd", engine.Change{Action: "daemon-reload"})
			} else {
				h.startReload(ctx)
			}
			u.NeedReload = false
		}
		return f(ctx, u, e)
	}
}

// NewEngine is the engine for a plan's steps on h: their undo functions, in
// UndoOrder, journaled in j (nil for a preview) and reported to rep.
func NewEngine(h *Host, j *journal.Journal, rep engine.Reporter) *engine.Engine {
	return &engine.Engine{Journal: j, Undoers: Undoers(h), Order: UndoOrder, Report: rep}
}
