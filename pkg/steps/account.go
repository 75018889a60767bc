package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/failpoint"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// userBefore is which of the group and user existed before.
type userBefore struct {
	Group        string `json:"group"`
	GroupExisted bool   `json:"group_existed"`
	UserExisted  bool   `json:"user_existed"`
}

// User creates the service's system group and user. A user or group that
// exists already is left as it is: the plan does not own it.
type User struct {
	H           *Host
	Plan        string
	Name, Group string
	Home, Shell string
}

// Kind implements engine.Step.
func (s *User) Kind() string { return "user" }

// Key implements engine.Step.
func (s *User) Key() string { return s.Name }

// Check implements engine.Step.
func (s *User) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	_, gok, err := s.H.Accounts.Group(s.Group)
	if err != nil {
		return engine.Change{}, err
	}
	_, _, uok, err := s.H.Accounts.User(s.Name)
	if err != nil {
		return engine.Change{}, err
	}
	if gok && uok {
		return engine.Change{}, nil
	}
	var what []string
	if !gok {
		what = append(what, "group "+s.Group)
		r.Will(s.Group)
	}
	if !uok {
		what = append(what, fmt.Sprintf("system user %s (home %s, shell %s)", s.Name, s.Home, s.Shell))
	}
	return engine.Change{
		Action: "create",
		Detail: strings.Join(what, ", "),
		Before: userBefore{Group: s.Group, GroupExisted: gok, UserExisted: uok},
	}, nil
}

// Apply implements engine.Step.
func (s *User) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	b := c.Before.(userBefore)
	comment := "notifyctl plan " + s.Plan
	if !b.GroupExisted && !b.UserExisted && s.Group == s.Name {
		// One useradd makes both: one lock of the password files, not two.
		return s.H.Accounts.AddUserGroup(ctx, s.Name, s.Home, s.Shell, comment)
	}
	if !b.GroupExisted {
		if err := s.H.Accounts.AddGroup(ctx, s.Group); err != nil {
			return err
		}
		failpoint.Inject("user.after-group")
	}
	if !b.UserExisted {
		return s.H.Accounts.AddUser(ctx, s.Name, s.Group, s.Home, s.Shell, comment)
	}
	return nil
}

// undoUser deletes the user and the group if the step created them, whatever
// part of the creation had happened (the group may exist without the user).
func undoUser(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b userBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err
		}
		// Files kept as the administrator's (data, edited files) may belong
		// to the user: deleting it would leave them to whoever gets its uid.
		if u.Kept > 0 && !u.Purge && (!b.UserExisted || !b.GroupExisted) {
			u.Report.Note("kept user %s and its group: they may own what was kept (--purge removes them)", e.Key)
			return engine.ErrKept
		}
		if !b.UserExisted {
			_, _, ok, err := h.Accounts.User(e.Key)
			if err != nil {
				return err
			}
			if ok && !u.Would("user "+e.Key, engine.Change{Action: "delete", Detail: "system user " + e.Key}) {
				// The group may go with the user only if the plan made it.
				withGroup := !b.GroupExisted && b.Group == e.Key
				if err := h.Accounts.DelUser(ctx, e.Key, withGroup); err != nil {
					return err
				}
			}
		}
		if !b.GroupExisted && b.Group != "" {
			_, ok, err := h.Accounts.Group(b.Group)
			if err != nil {
				return err
			}
			if ok && !u.Would("group "+b.Group, engine.Change{Action: "delete", Detail: "group " + b.Group}) {
				return h.Accounts.DelGroup(ctx, b.Group)
			}
		}
		return nil
	}
}

// Packages installs the Debian packages a plan needs.
type Packages struct {
	H     *Host
	Names []string
}

// packagesBefore lists the packages that were missing, hence installed.
type packagesBefore struct {
	Missing []string `json:"missing"`
}

// Kind implements engine.Step.
func (s *Packages) Kind() string { return "packages" }

// Key implements engine.Step.
func (s *Packages) Key() string { return strings.Join(s.Names, ",") }

// Check implements engine.Step.
func (s *Packages) Check(ctx context.Context, r *engine.Run) (engine.Change, error) {
	missing, err := s.H.Packages.Missing(ctx, s.Names)
	if err != nil || len(missing) == 0 {
		return engine.Change{}, err
	}
	return engine.Change{
		Action: "install",
		Detail: strings.Join(missing, " "),
		Before: packagesBefore{Missing: missing},
	}, nil
}

// Apply implements engine.Step.
func (s *Packages) Apply(ctx context.Context, r *engine.Run, c engine.Change) error {
	return s.H.Packages.Install(ctx, c.Before.(packagesBefore).Missing)
}

// undoPackages removes the packages a plan installed, only when asked to:
// other software may have come to rely on them.
func undoPackages(h *Host) engine.UndoFunc {
	return func(ctx context.Context, u *engine.Undo, e journal.Entry) error {
		var b packagesBefore
		if _, err := engine.DecodeBefore(e, &b); err != nil {
			return err
		}
		if !u.PurgePackages {
			u.Report.Note("kept packages %s (installed by this plan; --purge-packages removes them)", strings.Join(b.Missing, " "))
			return nil
		}
		present, err := h.Packages.Missing(ctx, b.Missing)
		if err != nil {
			return err
		}
		gone := map[string]bool{}
		for _, p := range present {
			gone[p] = true
		}
		var remove []string
		for _, p := range b.Missing {
			if !gone[p] {
				remove = append(remove, p)
			}
		}
		if len(remove) == 0 || u.Would(engine.DisplayName(e.Step, e.Key), engine.Change{Action: "remove", Detail: strings.Join(remove, " ")}) {
			return nil
		}
		return h.Packages.Remove(ctx, remove)
	}
}
