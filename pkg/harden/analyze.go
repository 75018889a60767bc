package harden

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// UnitDir is where units installed by an administrator (and plans) live.
const UnitDir = "/etc/systemd/system"

var unitNameRE = regexp.MustCompile(`^[a-zA-Z0-9:_.\\-]+\.service$`)

// ValidUnit says whether name is a service unit name notifyctl accepts.
func ValidUnit(name string) bool { return unitNameRE.MatchString(name) && len(name) <= 255 }

var (

	// "-> Overall exposure level for notifydemo.service: 9.2 UNSAFE :-{"
	overallRE = regexp.MustCompile(`^-> Overall exposure level for \S+: (\d+\.\d+) `)
	// A check the unit fails, in the C locale: "- NAME  DESCRIPTION  EXPOSURE".
	failedRE = regexp.MustCompile(`^- (\S+)\s+(.*\S)\s+(\d+\.\d+)$`)
	// What verify says about a command that is not installed yet.
	notInstalledRE = regexp.MustCompile(`^\S+: Command .+ is not executable: No such file or directory$`)
)

// Exposure scores the unit unitName (unit, with the drop-in dropIn when not
// empty) with `systemd-analyze security --offline=yes`: the overall exposure
// level, from 0.0 to 10.0, lower is better. It also returns the checks the
// unit fails, most exposing first, one line each such as
// "0.5 PrivateNetwork=  Service has access to the host's network".
func Exposure(ctx context.Context, unitName string, unit, dropIn []byte) (float64, []string, error) {
	root, err := offlineRoot(unitName, unit, dropIn)
	if err != nil {
		return 0, nil, err
	}
	defer os.RemoveAll(root)

	cmd := analyze(ctx, "security", "--offline=yes", "--no-pager", "--root="+root, unitName)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, nil, analyzeError("security", unitName, err, messages(stderr.Bytes(), root))
	}

	type check struct {
		line     string
		exposure float64
	}
	var failed []check
	score := -1.0
	for _, line := range strings.Split(string(out), "\n") {
		if m := failedRE.FindStringSubmatch(line); m != nil {
			e, _ := strconv.ParseFloat(m[3], 64)
			failed = append(failed, check{fmt.Sprintf("%s %s  %s", m[3], m[1], m[2]), e})
		} else if m := overallRE.FindStringSubmatch(line); m != nil {
			score, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	if score < 0 {
		return 0, nil, fmt.Errorf("systemd-analyze security %s: no overall exposure level in its output", unitName)
	}
	slices.SortStableFunc(failed, func(a, b check) int { return cmp.Compare(b.exposure, a.exposure) })
	lines := make([]string, len(failed))
	for i, c := range failed {
		lines[i] = c.line
	}
	return score, lines, nil
}

// VerifyError is a unit that systemd-analyze verify finds fault with.
type VerifyError struct {
	Unit string
	// Lines are systemd's own messages. File names in them are those the
	// unit and drop-in will be installed as.
	Lines []string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s does not verify: %s", e.Unit, strings.Join(e.Lines, "; "))
}

// Verify checks the unit unitName (unit, with the drop-in dropIn when not
// empty) with `systemd-analyze verify`, as systemd would load it: unknown
// sections and keys, values that do not parse, settings that cannot work
// together. A fault is returned as a *VerifyError holding systemd's messages.
//
// Verify runs before anything is installed, so it leaves out the units the
// unit depends on (--recursive-errors=no), man pages in Documentation=
// (--man=no), and whether its commands exist: "Command ... is not
// executable: No such file or directory" is no fault here, since the plan's
// files and packages bring them. Any other complaint about a command is.
func Verify(ctx context.Context, unitName string, unit, dropIn []byte) error {
	root, err := offlineRoot(unitName, unit, dropIn)
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)

	out, err := analyze(ctx, "verify", "--man=no", "--recursive-errors=no", "--root="+root, unitName).CombinedOutput()
	if err == nil {
		return nil
	}
	all := messages(out, root)
	faults := slices.DeleteFunc(slices.Clone(all), notInstalledRE.MatchString)
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(faults) == 0 && len(all) > 0 {
		return nil
	}
	return analyzeError("verify", unitName, err, faults)
}

// offlineRoot returns a new temporary directory holding the unit and its
// drop-in where they will be installed, for systemd-analyze --root=. Nothing
// of the host is read then: neither a unit of the same name installed
// already nor an administrator's drop-ins for it, which a unit file given by
// path would pick up. The caller removes the directory.
func offlineRoot(unitName string, unit, dropIn []byte) (string, error) {
	if !ValidUnit(unitName) {
		return "", fmt.Errorf("%q is not a service unit name", unitName)
	}
	tmp, err := os.MkdirTemp("", "notifyctl-harden-")
	if err != nil {
		return "", err
	}
	// systemd-analyze names files by their real path: so does messages().
	root, err := filepath.EvalSymlinks(tmp)
	dir := filepath.Join(root, "etc/systemd/system")
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, unitName+".d"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, unitName), unit, 0o644)
	}
	if err == nil && len(dropIn) > 0 {
		err = os.WriteFile(filepath.Join(root, DropInPath(unitName)), dropIn, 0o644)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return root, nil
}

// analyze is systemd-analyze with args, with plain output in English and
// its log on stderr, whatever the caller's environment says.
func analyze(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "systemd-analyze", args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"LC_ALL=C", // ASCII marks, English messages
		"SYSTEMD_COLORS=0",
		"SYSTEMD_LOG_TARGET=console", // our pipe, never the journal
		"SYSTEMD_LOG_LEVEL=warning",
	}
	return cmd
}

// messages are the lines systemd-analyze printed, the temporary root taken
// out of file names.
func messages(out []byte, root string) []string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(out), root, ""), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

func analyzeError(command, unitName string, err error, lines []string) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("systemd-analyze %s: %w (it comes with the systemd package)", command, err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || len(lines) == 0 {
		return fmt.Errorf("systemd-analyze %s %s: %w", command, unitName, err)
	}
	if command == "verify" {
		return &VerifyError{Unit: unitName, Lines: lines}
	}
	return fmt.Errorf("systemd-analyze %s %s: %s", command, unitName, strings.Join(lines, "; "))
}
