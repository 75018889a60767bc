package cli

import (
	"bytes"
	"strings"
	"testing"
)

// run runs notifyctl with args and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "1.2.3", "abc1234"
	if code, out, _ := run(t, "--version"); code != 0 || out != "notifyctl 1.2.3 (abc1234)\n" {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	Version, Commit = "dev", ""
	if code, out, _ := run(t, "--version"); code != 0 || out != "notifyctl dev\n" {
		t.Errorf("--version without a commit: exit %d, %q", code, out)
	}
	// -v is --verbose, not --version.
	if _, out, _ := run(t, "-v", "plans"); !strings.HasPrefix(out, "notifydemo ") {
		t.Errorf("notifyctl -v plans: %q", out)
	}
}

func TestQuietAndVerboseExclude(t *testing.T) {
	code, _, stderr := run(t, "plans", "-q", "-v")
	if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "quiet") {
		t.Errorf("-q with -v: exit %d, %q; want 2 and one line", code, stderr)
	}
}

func TestHelpListsTheCommands(t *testing.T) {
	_, out, _ := run(t, "--help")
	for _, want := range []string{"completion  ", "list  ", "-q, --quiet", "-v, --verbose", "--version", "NO_COLOR"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
}
