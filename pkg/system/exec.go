package system

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
)

// Exec runs argv as user ("" for root) in dir, with a minimal environment,
// and returns its combined output.
func (a Accounts) Exec(ctx context.Context, user, dir string, argv []string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/"}
	if user != "" && user != "root" {
		uid, gid, ok, err := a.User(user)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("user %q does not exist", user)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
