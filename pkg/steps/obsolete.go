package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// Obsolete removes a file, directory or drop-in of the plan's unit that an
// earlier install of the plan created and the plan no longer has (a file
// dropped from files:, the hardening drop-in once the profile is "none"), so
// that install converges on the plan rather than only adding to the host.
// What an administrator changed since is kept, as uninstall keeps it; a
// rollback restores what was removed (its content is kept in the journal).
type Obsolete struct {
	H    *Host
	kind string // "file", "unit" or "directory"
	Path string
	// Wrote is the sha256 of what notifyctl last wrote there (files).
	Wrote string
}

// Kind implements engine.Step.
func (o *Obsolete) Kind() string { return o.kind }

// Key implements engine.Step.
func (o *Obsolete) Key() string { return o.Path }

// Check implements engine.Step.
func (o *Obsolete) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	p := o.H.path(o.Path)
	info, err := fsutil.Stat(p)
	if err != nil || !info.Exists || info.IsSymlink {
		// Gone already, or replaced by a link that is not notifyctl's.
		return engine.Change{}, err
	}
	before := pathBefore{Exists: true, Mode: info.Mode, UID: info.UID, GID: info.GID, Wrote: o.Wrote}
	if o.kind == "directory" {
		if !info.IsDir {
			return engine.Change{}, nil
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return engine.Change{}, err
		}
		for _, e := range entries {
			if !r.Removes(path.Join(o.Path, e.Name())) {
				// Not empty once this run is done: it holds what
				// notifyctl did not put there.
				return engine.Change{}, nil
			}
		}
		return engine.Change{Action: "remove", Detail: "no longer in the plan", Before: before}, nil
	}
	if !info.IsRegular {
		return engine.Change{}, nil
	}
	sum, err := fsutil.SumFile(p)
	if err != nil {
		return engine.Change{}, err
	}
	if sum != o.Wrote {
		// Changed since notifyctl wrote it: the administrator's now.
		return engine.Change{Detail: "kept: changed since notifyctl wrote it (uninstall --purge removes it)"}, nil
	}
	if info.Size > maxRead {
		// Its content could not be kept for a rollback.
		return engine.Change{Detail: fmt.Sprintf("left: larger than %d MiB (uninstall removes it)", maxRead>>20)}, nil
	}
	current, err := fsutil.ReadFile(p, maxRead)
	if err != nil {
		return engine.Change{}, err
	}
	return engine.Change{
		Action: "remove",
		Detail: "no longer in the plan",
		Diff:   unified(o.Path, current, nil),
		Before: before,
		Backup: current,
	}, nil
}

// Apply implements engine.Step.
func (o *Obsolete) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	p := o.H.path(o.Path)
	if o.kind != "directory" {
		return fsutil.Remove(p)
	}
	if _, err := fsutil.RemoveDir(p); err != nil && !errors.Is(err, fsutil.ErrNotEmpty) {
		return err
	}
	return nil
}

// ObsoleteSteps returns the steps that remove what earlier installs of the
// plan created and planned no longer has, in the reverse of the order they
// were created in (a file before its directory), given the plan journal's
// live entries. Unit drop-ins (of unitPath) come first in the result, apart
// from the rest, since they must go before systemd reloads. left names what
// no longer is in the plan but only uninstall undoes: a renamed unit or
// user, a file or directory that existed before install. live must have
// passed the journal's validation (Validate, and an unbroken hash chain).
func ObsoleteSteps(h *Host, planned []engine.Step, live []journal.Entry, unitPath string) (dropIns, rest []engine.Step, left []string) {
	type resource struct {
		first, latest journal.Entry
	}
	want := map[string]bool{}
	for _, s := range planned {
		want[engine.ResourceID(s.Kind(), s.Key())] = true
	}
	var order []string
	res := map[string]*resource{}
	for _, e := range live {
		id := engine.ResourceID(e.Step, e.Key)
		if r, ok := res[id]; ok {
			r.latest = e
			continue
		}
		res[id] = &resource{first: e, latest: e}
		order = append(order, id)
	}
	for i := len(order) - 1; i >= 0; i-- {
		r := res[order[i]]
		e := r.first
		if want[order[i]] {
			continue
		}
		switch e.Step {
		case "packages", "data", "reload", "check", "mail":
			// Kept on uninstall too (packages, data), or nothing to undo.
			continue
		}
		name := engine.DisplayName(e.Step, e.Key)
		var first, latest pathBefore
		_, err1 := engine.DecodeBefore(e, &first)
		_, err2 := engine.DecodeBefore(r.latest, &latest)
		ok := err1 == nil && err2 == nil && !first.Exists
		switch {
		case ok && (e.Step == "file" || e.Step == "directory"):
			rest = append(rest, &Obsolete{H: h, kind: e.Step, Path: e.Key, Wrote: latest.Wrote})
		case ok && e.Step == "unit" && path.Dir(e.Key) == unitPath+".d":
			dropIns = append(dropIns, &Obsolete{H: h, kind: e.Step, Path: e.Key, Wrote: latest.Wrote})
		default:
			left = append(left, name)
		}
	}
	return dropIns, rest, left
}
