package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "__start_notifyctl",
		"zsh":  "#compdef notifyctl",
		"fish": "complete -c notifyctl",
	} {
		code, out, stderr := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, stderr, want)
		}
	}
}

// The bash script loads in bash and registers the completion.
func TestCompletionBashLoads(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to test the bash completion: %v", err)
	}
	_, script, _ := run(t, "completion", "bash")
	file := filepath.Join(t.TempDir(), "notifyctl")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bash, "-c", `source "$1" && complete -p notifyctl`, "bash", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-F __start_notifyctl notifyctl") {
		t.Errorf("bash did not register the completion: %v\n%s", err, out)
	}
}

// The bash script completes in a shell without the bash-completion package.
func TestCompletionBashWithoutBashCompletion(t *testing.T) {
	_, script, _ := run(t, "completion", "bash")
	if !strings.Contains(script, bashInitStandalone) {
		t.Fatalf("the bash script still needs bash-completion to read the words typed:\n%s", script)
	}
}

func TestCompletionOfBadShellExits2(t *testing.T) {
	code, out, stderr := run(t, "completion", "tcsh")
	if code != 2 || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `"tcsh"`) {
		t.Errorf("completion tcsh: exit %d, stdout %q, stderr %q; want 2 and one line", code, out, stderr)
	}
}

func TestCompletesPlanNames(t *testing.T) {
	for _, cmd := range []string{"install", "plan"} {
		_, out, _ := run(t, "__complete", cmd, "notify")
		if !strings.HasPrefix(out, "notifydemo\t") || !strings.Contains(out, "\n:0\n") {
			t.Errorf("completing %s notify: %q; want notifydemo and file completion allowed", cmd, out)
		}
		_, out, _ = run(t, "__complete", cmd, "./")
		if out != ":0\n" {
			t.Errorf("completing %s ./: %q; want no plan name, file completion", cmd, out)
		}
		_, out, _ = run(t, "__complete", cmd, "notifydemo", "")
		if out != ":4\n" {
			t.Errorf("completing a second argument of %s: %q; want nothing, no files", cmd, out)
		}
	}
}
