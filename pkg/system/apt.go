package system

import (
	"context"
	"os/exec"
	"strings"
)

// Apt installs and removes Debian packages.
type Apt struct{}

// Missing returns those of names that dpkg does not report installed.
func (Apt) Missing(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	args := append([]string{"-W", "-f", "${Package} ${db:Status-Status}\n"}, names...)
	// dpkg-query exits 1 when a name is unknown; the output still lists the others.
	out, _ := exec.CommandContext(ctx, "dpkg-query", args...).Output()
	installed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "installed" {
			installed[strings.SplitN(f[0], ":", 2)[0]] = true
		}
	}
	var missing []string
	for _, n := range names {
		if !installed[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// Install installs packages without recommends, never asking.
func (Apt) Install(ctx context.Context, names []string) error {
	if err := aptGet(ctx, "install", names); err == nil {
		return nil
	}
	// The package lists may be missing or stale on a fresh host.
	if err := aptGet(ctx, "update", nil); err != nil {
		return err
	}
	return aptGet(ctx, "install", names)
}

// Remove removes packages (their configuration stays, as with apt-get remove).
func (Apt) Remove(ctx context.Context, names []string) error {
	return aptGet(ctx, "remove", names)
}

func aptGet(ctx context.Context, verb string, names []string) error {
	args := []string{"-y", "-q", "-o", "Dpkg::Options::=--force-confold"}
	if verb == "install" {
		args = append(args, "--no-install-recommends")
	}
	args = append(append(args, verb), names...)
	return runEnv(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", args...)
}
