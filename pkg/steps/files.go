package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// maxRead bounds what notifyctl reads of a file it compares or keeps.
const maxRead = 64 << 20

// pathBefore is what existed at a path before a file or directory step.
type pathBefore struct {
	Exists bool   `json:"exists"`
	Mode   uint32 `json:"mode,omitempty"`
	UID    int    `json:"uid,omitempty"`
	GID    int    `json:"gid,omitempty"`
	// Wrote is the sha256 of the content a file step wrote.
	Wrote string `json:"wrote,omitempty"`
}

// File installs one file: an app file, or the unit file (kind "unit").
type File struct {
	H       *Host
	kind    string
	Dest    string
	Content []byte
	Mode    uint32
	Owner   string
	Group   string

	sumOnce sync.Once
	sum     string // of Content, once computed
}

// contentSum is the sha256 of the content, computed once: the preview and
// the install both need it, and the notifyctl binary takes a while to hash.
// A call while HashAhead's is under way waits for it.
func (f *File) contentSum() string {
	f.sumOnce.Do(func() { f.sum = fsutil.Sum(f.Content) })
	return f.sum
}

// hashAheadSize is the content size from which HashAhead hashes a file in
// the background: below it, hashing takes microseconds.
const hashAheadSize = 1 << 20

// HashAhead starts hashing, in the background, the content of every large
// file the checks found to change. The hash goes into the journal with the
// file step's intent; for the 11 MB notifyctl binary it took several
// milliseconds there, on the way to the service's start, and it now runs
// while the unit is checked and written.
func HashAhead(checked []engine.Checked) {
	for _, c := range checked {
		if f, ok := c.Step.(*File); ok && c.Change.Changed() && len(f.Content) >= hashAheadSize {
			go f.contentSum()
		}
	}
}

// fileBefore is a file step's pathBefore whose Wrote, the hash of the
// content to write, is computed when the intent is journaled rather than
// when the step is checked: hashing the 11 MB notifyctl binary was the
// largest part of the checks made before anything changes, and the
// journaling comes while systemd reloads.
type fileBefore struct {
	pathBefore
	f *File
}

// MarshalJSON implements json.Marshaler.
func (b fileBefore) MarshalJSON() ([]byte, error) {
	p := b.pathBefore
	p.Wrote = b.f.contentSum()
	return json.Marshal(p)
}

// NewFile is a step that installs an app file.
func NewFile(h *Host, dest string, content []byte, mode uint32, owner, group string) *File {
	return &File{H: h, kind: "file", Dest: dest, Content: content, Mode: mode, Owner: owner, Group: group}
}

// NewUnitFile is a step that installs a unit file (root-owned, 0644).
func NewUnitFile(h *Host, dest string, content []byte) *File {
	return &File{H: h, kind: "unit", Dest: dest, Content: content, Mode: 0o644, Owner: "root", Group: "root"}
}

// Kind implements engine.Step.
func (f *File) Kind() string { return f.kind }

// Key implements engine.Step.
func (f *File) Key() string { return f.Dest }

// Check implements engine.Step.
func (f *File) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	p := f.H.path(f.Dest)
	info, err := fsutil.Stat(p)
	if err != nil {
		return engine.Change{}, err
	}
	uid, gid, owned, err := owner(f.H, r, f.Owner, f.Group)
	if err != nil {
		return engine.Change{}, err
	}
	if !info.Exists {
		if err := parentReady(f.H, r, f.Dest); err != nil {
			return engine.Change{}, err
		}
		return engine.Change{
			Action: "create",
			Detail: fmt.Sprintf("%s %s:%s %d bytes", modeString(f.Mode), f.Owner, f.Group, len(f.Content)),
			Diff:   unified(f.Dest, nil, f.Content),
			Before: fileBefore{f: f},
		}, nil
	}
	if info.IsSymlink {
		return engine.Change{}, fmt.Errorf("%s is a symlink: refusing to write through it: %w", f.Dest, fsutil.ErrSymlink)
	}
	if !info.IsRegular {
		return engine.Change{}, engine.Refuse(fmt.Errorf("%s exists and is not a regular file", f.Dest))
	}
	same, err := fsutil.Equal(p, f.Content)
	if err != nil {
		return engine.Change{}, err
	}
	var what []string
	c := engine.Change{Action: "update"}
	if !same {
		current, err := fsutil.ReadFile(p, maxRead)
		if err != nil {
			return engine.Change{}, err
		}
		what = append(what, "content")
		c.Diff = unified(f.Dest, current, f.Content)
		c.Backup = current
	}
	if info.Mode != f.Mode {
		what = append(what, fmt.Sprintf("mode %s -> %s", modeString(info.Mode), modeString(f.Mode)))
	}
	if !owned || info.UID != uid || info.GID != gid {
		what = append(what, fmt.Sprintf("owner %d:%d -> %s:%s", info.UID, info.GID, f.Owner, f.Group))
	}
	if len(what) == 0 {
		return engine.Change{}, nil
	}
	// Hashing a large file (the notifyctl binary) costs more than comparing
	// it: only a change needs the hash, for the journal.
	c.Before = fileBefore{pathBefore{Exists: true, Mode: info.Mode, UID: info.UID, GID: info.GID}, f}
	c.Detail = strings.Join(what, ", ")
	return c, nil
}

// Apply implements engine.Step.
func (f *File) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	uid, gid, _, err := owner(f.H, r, f.Owner, f.Group)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(f.H.path(f.Dest), f.Content, f.Mode, uid, gid)
}

// undoFile restores what a file step found: the previous content, mode and
// owner, or no file at all.
func undoFile(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b pathBefore
		backup, err := engine.DecodeBefore(e, &b)
		if err != nil {
			return err
		}
		if e.Step == "unit" {
			u.NeedReload = true
		}
		name := engine.DisplayName(e.Step, e.Key)
		p := h.path(e.Key)
		// A run killed while writing leaves its temporary file behind.
		if !u.DryRun {
			if _, err := fsutil.RemoveTemps(p); err != nil {
				return err
			}
		}
		info, err := fsutil.Stat(p)
		if err != nil {
			return err
		}
		// The content is hashed as it is read; it is read whole only for
		// the diffs of a dry run.
		var sum string
		if info.Exists && info.IsRegular {
			if sum, err = fsutil.SumFile(p); err != nil {
				return err
			}
		}
		current := func() ([]byte, error) {
			if !u.DryRun || !info.Exists || !info.IsRegular || info.Size > maxRead {
				return nil, nil // no diff to show
			}
			return fsutil.ReadFile(p, maxRead)
		}
		// A file that is not what notifyctl last wrote is the administrator's
		// now: like a modified conffile, it is kept unless --purge. (After a
		// run killed before its write, it may also still be the file from
		// before: then there is nothing to restore.)
		var last pathBefore
		if _, err := engine.DecodeBefore(u.Latest(e), &last); err != nil {
			return err
		}
		if info.Exists && last.Wrote != "" && sum != last.Wrote && !u.Purge {
			if backup != "" && "backup/"+sum == backup {
				return nil
			}
			u.Report.Note("kept %s: changed since notifyctl wrote it (--purge removes it)", e.Key)
			if e.Step != "unit" { // a unit file is root's, whoever edited it
				u.Kept++
			}
			return engine.ErrKept
		}
		// restore writes content back, with the mode and owner from before.
		restore := func(content []byte) error {
			cur, err := current()
			if err != nil {
				return err
			}
			if u.Would(name, engine.Change{Action: "restore", Detail: "previous content", Diff: unified(e.Key, cur, content)}) {
				return nil
			}
			return fsutil.WriteFile(p, content, b.Mode, b.UID, b.GID)
		}
		switch {
		case !b.Exists:
			if !info.Exists {
				return nil
			}
			if u.DryRun {
				cur, err := current()
				if err != nil {
					return err
				}
				u.Would(name, engine.Change{Action: "remove", Diff: unified(e.Key, cur, nil)})
				return nil
			}
			return fsutil.Remove(p)
		case backup != "":
			content, err := u.Journal.Backup(backup)
			if err != nil {
				return err
			}
			return restore(content)
		case !info.Exists:
			return nil
		case sum != b.Wrote:
			// The first run changed only the mode or owner: the content was
			// then what it wrote, which a later run that changed the content
			// kept as its backup.
			content, err := u.Journal.Backup("backup/" + b.Wrote)
			if err != nil {
				return fmt.Errorf("the content from before install is not kept: %w", err)
			}
			return restore(content)
		}
		if u.Would(name, engine.Change{Action: "restore", Detail: fmt.Sprintf("mode %s, owner %d:%d", modeString(b.Mode), b.UID, b.GID)}) {
			return nil
		}
		if err := fsutil.Chown(p, b.UID, b.GID); err != nil {
			return err
		}
		return fsutil.Chmod(p, b.Mode)
	}
}

// Directory creates one directory, or sets its mode and owner.
type Directory struct {
	H     *Host
	Path  string
	Mode  uint32
	Owner string
	Group string
}

// Kind implements engine.Step.
func (d *Directory) Kind() string { return "directory" }

// Key implements engine.Step.
func (d *Directory) Key() string { return d.Path }

// Check implements engine.Step.
func (d *Directory) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	info, err := fsutil.Stat(d.H.path(d.Path))
	if err != nil {
		return engine.Change{}, err
	}
	uid, gid, owned, err := owner(d.H, r, d.Owner, d.Group)
	if err != nil {
		return engine.Change{}, err
	}
	if !info.Exists {
		if err := parentReady(d.H, r, d.Path); err != nil {
			return engine.Change{}, err
		}
		return engine.Change{
			Action: "create",
			Detail: fmt.Sprintf("%s %s:%s", modeString(d.Mode), d.Owner, d.Group),
			Before: pathBefore{},
		}, nil
	}
	if info.IsSymlink {
		return engine.Change{}, fmt.Errorf("%s is a symlink: refusing to follow it: %w", d.Path, fsutil.ErrSymlink)
	}
	if !info.IsDir {
		return engine.Change{}, engine.Refuse(fmt.Errorf("%s exists and is not a directory", d.Path))
	}
	var what []string
	if info.Mode != d.Mode {
		what = append(what, fmt.Sprintf("mode %s -> %s", modeString(info.Mode), modeString(d.Mode)))
	}
	if !owned || info.UID != uid || info.GID != gid {
		what = append(what, fmt.Sprintf("owner %d:%d -> %s:%s", info.UID, info.GID, d.Owner, d.Group))
	}
	if len(what) == 0 {
		return engine.Change{}, nil
	}
	return engine.Change{
		Action: "update",
		Detail: strings.Join(what, ", "),
		Before: pathBefore{Exists: true, Mode: info.Mode, UID: info.UID, GID: info.GID},
	}, nil
}

// Apply implements engine.Step.
func (d *Directory) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	uid, gid, _, err := owner(d.H, r, d.Owner, d.Group)
	if err != nil {
		return err
	}
	p := d.H.path(d.Path)
	created, err := fsutil.Mkdir(p, d.Mode, uid, gid)
	if err != nil || created {
		return err
	}
	if err := fsutil.Chown(p, uid, gid); err != nil {
		return err
	}
	return fsutil.Chmod(p, d.Mode)
}

// undoDirectory removes a directory the plan created, if nothing else was
// put in it, or restores the mode and owner of one that was there.
func undoDirectory(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b pathBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err
		}
		name := engine.DisplayName(e.Step, e.Key)
		p := h.path(e.Key)
		info, err := fsutil.Stat(p)
		if err == nil && !info.Exists && b.Exists && e.Action == "remove" {
			// An obsolete directory this run removed: rolled back, it is
			// made again, for the files restored into it.
			if u.Would(name, engine.Change{Action: "create", Detail: fmt.Sprintf("mode %s, owner %d:%d", modeString(b.Mode), b.UID, b.GID)}) {
				return nil
			}
			_, err := fsutil.Mkdir(p, b.Mode, b.UID, b.GID)
			return err
		}
		if err != nil || !info.Exists {
			return err
		}
		if !b.Exists {
			if u.Would(name, engine.Change{Action: "remove", Detail: "if nothing else was put in it"}) {
				return nil
			}
			_, err := fsutil.RemoveDir(p)
			if errors.Is(err, fsutil.ErrNotEmpty) {
				u.Report.Note("kept %s: it holds files notifyctl did not put there", e.Key)
				if !dropInDir(e.Key) { // root's, holding an administrator's drop-ins
					u.Kept++
				}
				return nil
			}
			return err
		}
		if u.Would(name, engine.Change{Action: "restore", Detail: fmt.Sprintf("mode %s, owner %d:%d", modeString(b.Mode), b.UID, b.GID)}) {
			return nil
		}
		if err := fsutil.Chown(p, b.UID, b.GID); err != nil {
			return err
		}
		return fsutil.Chmod(p, b.Mode)
	}
}

// owner resolves owner and group names. ok is false when they do not exist
// yet but this run creates them (a preview of a fresh install).
func owner(h *Host, r *engine.Run, user, group string) (uid, gid int, ok bool, err error) {
	uid, _, uok, err := h.Accounts.User(user)
	if err != nil {
		return 0, 0, false, err
	}
	gid, gok, err := h.Accounts.Group(group)
	if err != nil {
		return 0, 0, false, err
	}
	if uok && gok {
		return uid, gid, true, nil
	}
	if r.DryRun && (uok || r.Creates(user)) && (gok || r.Creates(group)) {
		return 0, 0, false, nil
	}
	if !uok {
		return 0, 0, false, engine.Refuse(fmt.Errorf("owner %q does not exist", user))
	}
	return 0, 0, false, engine.Refuse(fmt.Errorf("group %q does not exist", group))
}

// parentReady checks that a path's parent exists (or is created by this run).
func parentReady(h *Host, r *engine.Run, p string) error {
	parent := path.Dir(p)
	if r.Creates(parent) {
		return nil
	}
	info, err := fsutil.Stat(h.path(parent))
	if err != nil {
		return err
	}
	switch {
	case !info.Exists:
		return engine.Refuse(fmt.Errorf("%s does not exist and the plan does not create it", parent))
	case info.IsSymlink:
		return fmt.Errorf("%s is a symlink: refusing to follow it: %w", parent, fsutil.ErrSymlink)
	case !info.IsDir:
		return engine.Refuse(fmt.Errorf("%s is not a directory", parent))
	}
	return nil
}

func modeString(m uint32) string { return fmt.Sprintf("%04o", m) }

// unified is a unified diff of a file's content, or a summary when either side
// is not text.
func unified(name string, from, to []byte) string {
	if binary(from) || binary(to) {
		return fmt.Sprintf("binary content: %d bytes -> %d bytes\n", len(from), len(to))
	}
	fromName, toName := name, name
	if from == nil {
		fromName = "/dev/null"
	}
	if to == nil {
		toName = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        lines(from),
		B:        lines(to),
		FromFile: fromName,
		ToFile:   toName,
		Context:  3,
	})
	if err != nil {
		return ""
	}
	return d
}

// lines splits content into lines that keep their newline; a last line
// without one gets one, so that it prints on a line of its own.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		return l[:len(l)-1]
	}
	l[len(l)-1] += "\n"
	return l
}

// binary says whether content is not text: a NUL byte in its first 8000
// bytes, as diff tools judge, or a start that is not UTF-8.
func binary(b []byte) bool {
	head := b[:min(len(b), 8000)]
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	// A cut in the middle of a character is not an error.
	for i := 0; i < 4 && len(head) > 0 && !utf8.Valid(head); i++ {
		head = head[:len(head)-1]
	}
	return !utf8.Valid(head)
}
