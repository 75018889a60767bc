// Package steps holds the steps a plan is made of (packages, unit, enable,
// daemon-reload, user, directories, files, start) and how each is undone.
package steps

import (
	"context"
	"path/filepath"
	"time"

	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// Host is everything the steps touch, behind interfaces so that tests can
// stand in for the parts that need a real system.
type Host struct {
	// Root prefixes every path (tests write below a temporary directory);
	// "/" on a real host.
	Root     string
	Systemd  systemd.Manager
	Accounts Accounts
	Packages PackageManager
	// Logs returns the last n lines a unit's invocation logged.
	Logs func(ctx context.Context, invocationID string, n int) []string
	// Probe checks that the service answers (an HTTP URL), once.
	Probe func(ctx context.Context, url string) error
	// Mailer sends the confirmation mail; nil when there is none.
	Mailer Mailer
	// Waiting, when set, hears every 250 ms while the start step waits for
	// the service: the elapsed time and the service's StatusText.
	Waiting func(name string, elapsed time.Duration, status string)
	// Exec runs a command as user ("" for root) in dir and returns its
	// combined output.
	Exec func(ctx context.Context, user, dir string, argv []string) (string, error)

	// reloading waits for the daemon-reload the reload step asked for, when
	// it has not been waited for yet; nil otherwise.
	reloading func() error
	// owed asks for the daemon-reload the reload step left to the start
	// step, when it has not been asked for yet; nil otherwise.
	owed func()
}

// startReload asks systemd for a daemon-reload and returns at once: systemd
// reads the unit files while the steps after it make the user and write the
// app's own files, which systemd reads only when the service starts. No step
// calls systemd between the reload and Reloaded: systemd would answer only
// once it has reloaded. (The start's live line on a terminal does; its
// answer may wait.)
func (h *Host) startReload(ctx context.Context) {
	h.reloading = h.Systemd.StartReload(ctx)
}

// oweReload leaves the daemon-reload to the start step, which asks for it
// once systemd has run the service's start job: systemd then reads the unit
// files while the service gets ready, not before it starts. Only for a unit
// systemd has already read from the files this run wrote (see
// Reload.Check): the reload is what makes systemd see the rest, the unit's
// enablement.
func (h *Host) oweReload(ctx context.Context) {
	// An interrupt may come before it is asked for: the links still need it.
	ctx = context.WithoutCancel(ctx)
	h.owed = func() { h.startReload(ctx) }
}

// askOwedReload asks for the reload oweReload left, if it has not been.
func (h *Host) askOwedReload() {
	if f := h.owed; f != nil {
		h.owed = nil
		f()
	}
}

// unitRead waits until systemd has read the unit as this run wrote it: for
// a reload under way, and for nothing when the reload is owed, since systemd
// has read the unit already.
func (h *Host) unitRead() error {
	if h.owed != nil {
		return nil
	}
	return h.Reloaded()
}

// Reloaded waits until systemd has read every unit file this run wrote: for
// the daemon-reload the reload step asked for, after asking for it when it
// was owed and is not yet. It returns the reload's error; later calls
// return nil.
func (h *Host) Reloaded() error {
	h.askOwedReload()
	if h.reloading == nil {
		return nil
	}
	err := h.reloading()
	h.reloading = nil
	return err
}

// Mailer hands mail to the host's mail system.
type Mailer interface {
	CanMail() bool
	Mail(ctx context.Context, to, subject, body string) error
}

// path maps a host path below Root.
func (h *Host) path(p string) string {
	if h.Root == "" || h.Root == "/" {
		return p
	}
	return filepath.Join(h.Root, p)
}

// Accounts manages system users and groups.
type Accounts interface {
	// User looks a user up: its uid and primary gid.
	User(name string) (uid, gid int, ok bool, err error)
	// Group looks a group up.
	Group(name string) (gid int, ok bool, err error)
	AddGroup(ctx context.Context, name string) error
	AddUser(ctx context.Context, name, group, home, shell, comment string) error
	// AddUserGroup creates a system user and, as its primary group, a new
	// group of the same name, at once.
	AddUserGroup(ctx context.Context, name, home, shell, comment string) error
	// DelUser deletes a user, never its home. With withGroup, the group
	// named like it that is its primary group may go with it (it still must
	// be deleted if it did not); without, that group is kept.
	DelUser(ctx context.Context, name string, withGroup bool) error
	DelGroup(ctx context.Context, name string) error
}

// PackageManager installs and removes Debian packages.
type PackageManager interface {
	// Missing returns those of names that are not installed.
	Missing(ctx context.Context, names []string) ([]string, error)
	Install(ctx context.Context, names []string) error
	Remove(ctx context.Context, names []string) error
}
