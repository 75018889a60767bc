package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// Check runs a command that must succeed before the service starts (a
// config check, say), whenever this run changed what the service runs. It
// changes nothing on the host itself.
type Check struct {
	H    *Host
	Name string
	Run  []string
	User string // "" for root
	Dir  string
}

// Kind implements engine.Step.
func (s *Check) Kind() string { return "check" }

// Key implements engine.Step.
func (s *Check) Key() string { return s.Name }

// Check implements engine.Step.
func (s *Check) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	if !r.Changed(affecting...) {
		return engine.Change{}, nil
	}
	return engine.Change{Action: "run", Detail: strings.Join(s.Run, " "), Before: struct{}{}}, nil
}

// Apply implements engine.Step.
func (s *Check) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	out, err := s.H.Exec(ctx, s.User, s.Dir, s.Run)
	if err != nil {
		msg := strings.TrimSpace(out)
		if msg == "" {
			return fmt.Errorf("%s failed: %w", s.Name, err)
		}
		return fmt.Errorf("%s failed (%v):\n%s", s.Name, err, msg)
	}
	return nil
}

// undoNothing undoes a step that changed nothing lasting (a check that ran,
// a mail that was sent).
func undoNothing(ctx context.Context, u *engine.Undo, e journal.Entry) error { return nil }

// Data claims the paths the service creates itself (systemd's StateDirectory=
// and LogsDirectory=), when they do not exist yet: uninstall then keeps them
// as the administrator's data, and says where, unless --purge. A path that
// existed before install is never claimed.
type Data struct {
	H    *Host
	Path string
}

type dataBefore struct {
	Exists bool `json:"exists"`
}

// Kind implements engine.Step.
func (s *Data) Kind() string { return "data" }

// Key implements engine.Step.
func (s *Data) Key() string { return s.Path }

// Check implements engine.Step.
func (s *Data) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	info, err := fsutil.Stat(s.H.path(s.Path))
	if err != nil || info.Exists {
		return engine.Change{}, err
	}
	return engine.Change{Action: "claim", Detail: "created by the service; kept on uninstall unless --purge", Before: dataBefore{}}, nil
}

// Apply implements engine.Step: the claim is the journal entry itself.
func (s *Data) Apply(ctx context.Context, r *engine.Run, c engine.Change) error { return nil }

func undoData(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b dataBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil || b.Exists {
			return err
		}
		p := h.path(e.Key)
		info, err := fsutil.Stat(p) // refuses a symlink among the parents
		if err != nil || !info.Exists {
			return err
		}
		if !u.Purge {
			u.Report.Note("kept %s: the service's data (--purge removes it)", e.Key)
			u.Kept++
			return engine.ErrKept
		}
		if u.Would(engine.DisplayName(e.Step, e.Key), engine.Change{Action: "remove", Detail: "the service's data (--purge)"}) {
			return nil
		}
		if info.IsSymlink {
			return fsutil.Remove(p)
		}
		// os.RemoveAll removes symlinks inside the tree, never what they
		// point to; the path itself and its parents were checked above.
		if err := os.RemoveAll(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", e.Key, err)
		}
		return nil
	}
}
