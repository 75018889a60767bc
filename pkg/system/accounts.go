// Package system reaches the parts of the host that have their own tools:
// user accounts (the shadow tools) and Debian packages (dpkg and apt).
package system

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Accounts manages users and groups with useradd, groupadd, userdel and
// groupdel, which take the password files' lock; lookups read the files.
type Accounts struct {
	// Etc is the directory holding passwd and group ("/etc" on a host).
	Etc string
}

// User looks a user up in the passwd file.
func (a Accounts) User(name string) (uid, gid int, ok bool, err error) {
	f, ok, err := a.find("passwd", name, 4)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return 0, 0, false, fmt.Errorf("%s: bad entry for %s", a.file("passwd"), name)
	}
	return uid, gid, true, nil
}

// Group looks a group up in the group file.
func (a Accounts) Group(name string) (gid int, ok bool, err error) {
	f, ok, err := a.find("group", name, 3)
	if err != nil || !ok {
		return 0, false, err
	}
	gid, err = strconv.Atoi(f[2])
	if err != nil {
		return 0, false, fmt.Errorf("%s: bad entry for %s", a.file("group"), name)
	}
	return gid, true, nil
}

func (a Accounts) file(name string) string {
	etc := a.Etc
	if etc == "" {
		etc = "/etc"
	}
	return filepath.Join(etc, name)
}

// find returns the fields of the line for name, which must have at least n fields.
func (a Accounts) find(file, name string, n int) ([]string, bool, error) {
	data, err := os.ReadFile(a.file(file))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", a.file(file), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) >= n && f[0] == name {
			return f, true, nil
		}
	}
	return nil, false, sc.Err()
}

// AddGroup creates a system group.
func (a Accounts) AddGroup(ctx context.Context, name string) error {
	return run(ctx, "groupadd", "--system", name)
}

// AddUser creates a system user with an existing primary group, no home
// directory created and no login.
func (a Accounts) AddUser(ctx context.Context, name, group, home, shell, comment string) error {
	return run(ctx, "useradd", "--system", "--gid", group, "--home-dir", home,
		"--no-create-home", "--shell", shell, "--comment", comment, name)
}

// AddUserGroup creates a system user and a group of the same name as its
// primary group, with one useradd.
func (a Accounts) AddUserGroup(ctx context.Context, name, home, shell, comment string) error {
	return run(ctx, "useradd", "--system", "--user-group", "--home-dir", home,
		"--no-create-home", "--shell", shell, "--comment", comment, name)
}

// DelUser deletes a user. With USERGROUPS_ENAB (Debian's default), userdel
// also deletes the group named like the user when it is the user's primary
// group: unless withGroup, the user is first moved to the nogroup group, so
// that a group that is not the plan's to delete is kept.
func (a Accounts) DelUser(ctx context.Context, name string, withGroup bool) error {
	if !withGroup {
		if _, ok, err := a.Group(name); err == nil && ok {
			if err := run(ctx, "usermod", "--gid", "nogroup", name); err != nil {
				return err
			}
		}
	}
	return run(ctx, "userdel", name)
}

// DelGroup deletes a group.
func (a Accounts) DelGroup(ctx context.Context, name string) error {
	return run(ctx, "groupdel", name)
}

// run runs a command and turns a failure into an error with its own message.
func run(ctx context.Context, name string, args ...string) error {
	return runEnv(ctx, nil, name, args...)
}

// runEnv is run with more environment variables.
func runEnv(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) && msg != "" {
			return fmt.Errorf("%s: %s", name, msg)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
