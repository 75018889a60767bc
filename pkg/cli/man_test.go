package cli

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func TestManPages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	files, err := WriteManPages(dir, func(c *cobra.Command, w io.Writer) error {
		return doc.GenMan(c, &doc.GenManHeader{Section: "1", Source: "notifyctl 1.2.3", Manual: "notifyctl manual"}, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	for _, want := range []string{"notifyctl.1", "notifyctl-install.1", "notifyctl-uninstall.1", "notifyctl-plan.1",
		"notifyctl-plans.1", "notifyctl-list.1", "notifyctl-run.1", "notifyctl-completion.1", "notifyctl-completion-bash.1"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s among %v", want, names)
		}
	}
	page := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	exitStatus := ".SH EXIT STATUS\n.TP\n\\fB0\\fR\nsuccess (also: nothing to do)\n.TP\n\\fB1\\fR\n" +
		"failed; install rolled back what this run changed (unless \\-\\-keep)\n.TP\n\\fB2\\fR\n" +
		"bad input or usage: nothing on the host was changed\n"
	for _, name := range []string{"notifyctl.1", "notifyctl-install.1", "notifyctl-uninstall.1", "notifyctl-list.1"} {
		p := page(name)
		if !strings.Contains(p, exitStatus) {
			t.Errorf("%s has no EXIT STATUS section:\n%s", name, p)
		}
		if strings.Contains(p, "Exit codes:") {
			t.Errorf("%s still has the exit codes in its description", name)
		}
		if i, j := strings.Index(p, ".SH EXIT STATUS"), strings.Index(p, ".SH SEE ALSO"); i > j {
			t.Errorf("%s: EXIT STATUS comes after SEE ALSO", name)
		}
	}
	root := page("notifyctl.1")
	for _, want := range []string{`.TH "NOTIFYCTL" "1" "Nov 2023" "notifyctl 1.2.3" "notifyctl manual"`, ".SH ENVIRONMENT", "NO_COLOR",
		`\fB--version\fP`, `\fB-q\fP, \fB--quiet\fP`, "notifyctl-list(1)"} {
		if !strings.Contains(root, want) {
			t.Errorf("notifyctl.1 lacks %q:\n%s", want, root)
		}
	}
	if strings.Contains(root, "Auto generated") {
		t.Errorf("notifyctl.1 says it was generated")
	}
}

func TestExitCodesOfAHelpText(t *testing.T) {
	desc, codes := exitCodes("Does things.\n\nExit codes:\n  0  fine\n  3  drifted: a file\n     was edited\n")
	if desc != "Does things." || len(codes) != 2 || codes[0] != [2]string{"0", "fine"} ||
		codes[1] != [2]string{"3", "drifted: a file was edited"} {
		t.Errorf("exitCodes: %q, %q", desc, codes)
	}
	for _, long := range []string{
		"No codes here.",
		"Exit codes:\n  0  fine\nand then more text",
		"Exit codes: see below\n",
		"Exit codes:\n  zero  fine\n",
	} {
		if desc, codes := exitCodes(long); desc != long || codes != nil {
			t.Errorf("exitCodes(%q) = %q, %q; want the text whole", long, desc, codes)
		}
	}
}
