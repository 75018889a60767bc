package system

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Apt installs and removes Debian packages.
type Apt struct{}

// dpkgStatus is dpkg's database of installed packages.
const dpkgStatus = "/var/lib/dpkg/status"

// Missing returns those of names that dpkg does not report installed. It
// reads dpkg's status file (a few milliseconds, where running dpkg-query
// costs tens), and asks dpkg-query if that file cannot be read.
func (Apt) Missing(ctx context.Context, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	installed, err := readStatus(dpkgStatus)
	if err != nil {
		installed = queryInstalled(ctx, names)
	}
	var missing []string
	for _, n := range names {
		if !installed[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

// readStatus lists the installed packages in a dpkg status file: stanzas of
// "Field: value" lines, separated by blank lines.
func readStatus(file string) (map[string]bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	installed := map[string]bool{}
	for _, stanza := range strings.Split(string(data), "\n\n") {
		var pkg, status string
		for _, line := range strings.Split(stanza, "\n") {
			if v, ok := strings.CutPrefix(line, "Package: "); ok {
				pkg = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(line, "Status: "); ok {
				status = strings.TrimSpace(v)
			}
		}
		if pkg != "" && strings.HasSuffix(status, " installed") {
			installed[pkg] = true
		}
	}
	return installed, nil
}

// queryInstalled asks dpkg-query which of names are installed.
func queryInstalled(ctx context.Context, names []string) map[string]bool {
	args := append([]string{"-W", "-f", "${Package} ${db:Status-Status}\n"}, names...)
	// dpkg-query exits 1 when a name is unknown; the output still lists the others.
	out, _ := exec.CommandContext(ctx, "dpkg-query", args...).Output()
	installed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "installed" {
			installed[strings.SplitN(f[0], ":", 2)[0]] = true
		}
	}
	return installed
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

// Remove removes packages (their configuration stays, as with apt-get
// remove), and refuses when apt would also remove anything else: packages
// that came to depend on them since are not the plan's to remove.
func (Apt) Remove(ctx context.Context, names []string) error {
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"-s", "-q", "remove"}, names...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("apt-get -s remove: %w", err)
	}
	if others := alsoRemoved(string(out), names); len(others) > 0 {
		return fmt.Errorf("removing %s would also remove %s, which depend on them: kept all of them",
			strings.Join(names, " "), strings.Join(others, " "))
	}
	return aptGet(ctx, "remove", names)
}

// alsoRemoved lists the packages a simulated removal ("Remv NAME ..." lines)
// would remove besides names.
func alsoRemoved(simulation string, names []string) []string {
	var others []string
	for _, line := range strings.Split(simulation, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Remv" {
			continue
		}
		pkg := strings.SplitN(f[1], ":", 2)[0]
		if !slices.Contains(names, pkg) {
			others = append(others, pkg)
		}
	}
	return others
}

func aptGet(ctx context.Context, verb string, names []string) error {
	args := []string{"-y", "-q", "-o", "Dpkg::Options::=--force-confold"}
	if verb == "install" {
		args = append(args, "--no-install-recommends")
	}
	args = append(append(args, verb), names...)
	return runEnv(ctx, []string{"DEBIAN_FRONTEND=noninteractive"}, "apt-get", args...)
}
