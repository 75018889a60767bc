package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

type fakeSystemd map[string]systemd.State

func (f fakeSystemd) State(_ context.Context, unit string) (systemd.State, error) {
	st, ok := f[unit]
	if !ok {
		return st, fmt.Errorf("no unit %s", unit)
	}
	return st, nil
}

// writeJournal makes the journal of plan below root, with a unit step for
// unit unless it is "".
func writeJournal(t *testing.T, root, plan, unit string) {
	t.Helper()
	j, err := journal.OpenDir(filepath.Join(root, plan), true)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	seq, err := j.Intent("r1", "user", plan, "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Done(seq)
	if unit != "" {
		seq, _ = j.Intent("r1", "unit", "/etc/systemd/system/"+unit, "create", nil)
		j.Done(seq)
		seq, _ = j.Intent("r1", "unit", "/etc/systemd/system/"+unit+".d/50-hardening.conf", "create", nil)
		j.Done(seq)
	}
}

// list runs list against root and returns its exit code, stdout, stderr and
// how many times it connected to systemd.
func list(t *testing.T, root string, sd fakeSystemd, asJSON, quiet bool) (int, string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o := &options{stdout: &stdout, stderr: &stderr, json: asJSON}
	consoleOf(o).quiet = quiet
	t.Cleanup(func() { consoles.Delete(o) })
	connects := 0
	err := runList(context.Background(), o, root, func(context.Context) (stater, func(), error) {
		connects++
		if sd == nil {
			return nil, nil, errors.New("no systemd here")
		}
		return sd, func() {}, nil
	})
	code := 0
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	} else if err != nil {
		code = -1
	}
	return code, stdout.String(), stderr.String(), connects
}

func TestListNothingInstalled(t *testing.T) {
	for _, root := range []string{filepath.Join(t.TempDir(), "missing"), t.TempDir()} {
		code, out, stderr, connects := list(t, root, nil, false, false)
		if code != 0 || out != "" || stderr != "no plan is installed\n" || connects != 0 {
			t.Errorf("list of %s: exit %d, stdout %q, stderr %q, %d connections", root, code, out, stderr, connects)
		}
		if code, out, _, _ := list(t, root, nil, true, false); code != 0 || out != "[]\n" {
			t.Errorf("list --json of %s: exit %d, %q", root, code, out)
		}
		if _, _, stderr, _ := list(t, root, nil, false, true); stderr != "" {
			t.Errorf("list -q said %q", stderr)
		}
	}
}

func TestListInstalledPlans(t *testing.T) {
	root := t.TempDir()
	before := time.Now().UTC().Add(-time.Second)
	writeJournal(t, root, "web", "web.service")
	writeJournal(t, root, "api", "api-server.service")
	writeJournal(t, root, "half", "") // an install interrupted before its unit
	// Not plans: a lock file, a directory without a journal, a symlink.
	os.WriteFile(filepath.Join(root, "lock"), nil, 0o600)
	os.Mkdir(filepath.Join(root, "empty"), 0o700)
	os.Symlink(filepath.Join(root, "web"), filepath.Join(root, "link"))
	sd := fakeSystemd{
		"web.service":        {ActiveState: "active", SubState: "running"},
		"api-server.service": {ActiveState: "failed", SubState: "failed"},
	}
	journalBefore, _ := os.ReadFile(filepath.Join(root, "web", "journal"))

	code, out, stderr, connects := list(t, root, sd, false, false)
	if code != 0 || connects != 1 || stderr != "" {
		t.Fatalf("list: exit %d, %d connections, stderr %q", code, connects, stderr)
	}
	when := `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`
	want := regexp.MustCompile(`^api   api-server\.service  failed/failed   ` + when + `\n` +
		`half  -                   -               ` + when + `\n` +
		`web   web\.service         active/running  ` + when + `\n$`)
	if !want.MatchString(out) {
		t.Errorf("list:\n%s", out)
	}

	code, out, _, _ = list(t, root, sd, true, false)
	var got []installed
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || len(got) != 3 {
		t.Fatalf("list --json: exit %d, %v\n%s", code, err, out)
	}
	if g := got[2]; g.Name != "web" || g.Unit != "web.service" || g.ActiveState != "active" || g.SubState != "running" ||
		g.Installed == nil || g.Installed.Before(before) || g.Installed.After(time.Now()) {
		t.Errorf("list --json, web: %+v", g)
	}
	if g := got[1]; g.Name != "half" || g.Unit != "" || g.ActiveState != "" || g.Installed == nil {
		t.Errorf("list --json, half: %+v", g)
	}
	if !strings.Contains(out, `"active_state": "failed"`) {
		t.Errorf("list --json does not name active_state:\n%s", out)
	}
	if after, _ := os.ReadFile(filepath.Join(root, "web", "journal")); !bytes.Equal(after, journalBefore) {
		t.Errorf("list changed a journal")
	}
}

// A journal an install is writing (its last record not complete yet) is read
// as it is, and left as it is.
func TestListLeavesATornJournalAlone(t *testing.T) {
	root := t.TempDir()
	writeJournal(t, root, "web", "web.service")
	file := filepath.Join(root, "web", "journal")
	f, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"seq":5,"op":"inte`)
	f.Close()
	before, _ := os.ReadFile(file)
	code, out, _, _ := list(t, root, fakeSystemd{"web.service": {ActiveState: "active", SubState: "running"}}, false, false)
	if code != 0 || !strings.HasPrefix(out, "web  web.service  active/running") {
		t.Errorf("list: exit %d, %q", code, out)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
		t.Errorf("list cut the journal's last record:\n%s", after)
	}
}

func TestListWithoutSystemdFails(t *testing.T) {
	root := t.TempDir()
	writeJournal(t, root, "web", "web.service")
	if code, out, _, _ := list(t, root, nil, false, false); code != 1 || out != "" {
		t.Errorf("list without systemd: exit %d, %q; want 1", code, out)
	}
}

func TestListTakesNoArguments(t *testing.T) {
	code, _, stderr := run(t, "list", "web")
	if code != 2 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("list web: exit %d, %q", code, stderr)
	}
}
