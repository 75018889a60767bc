package journal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/journal"
)

// tempDir returns a fresh directory whose path has no symlinks in it (fsutil
// refuses to walk through one).
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func open(t *testing.T, dir string, create bool) *journal.Journal {
	t.Helper()
	j, err := journal.OpenDir(dir, create)
	if err != nil {
		t.Fatalf("OpenDir(%s, %v): %v", dir, create, err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

type before struct {
	Exists bool   `json:"exists"`
	Mode   uint32 `json:"mode"`
}

func intent(t *testing.T, j *journal.Journal, run, step, key string) int {
	t.Helper()
	seq, err := j.Intent(run, step, key, "create", before{Exists: false, Mode: 0o644})
	if err != nil {
		t.Fatalf("Intent(%s %s): %v", step, key, err)
	}
	return seq
}

func keys(es []journal.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Step+" "+e.Key)
	}
	return out
}

func TestOpenDirCreatesPrivateLayout(t *testing.T) {
	root := filepath.Join(tempDir(t), "lib")
	dir := filepath.Join(root, "demo")
	j := open(t, dir, true)

	if j.Path() != filepath.Join(dir, "journal") {
		t.Errorf("Path() = %s, want %s", j.Path(), filepath.Join(dir, "journal"))
	}
	for p, want := range map[string]os.FileMode{
		root:                         0o700 | os.ModeDir,
		dir:                          0o700 | os.ModeDir,
		filepath.Join(dir, "backup"): 0o700 | os.ModeDir,
		j.Path():                     0o600,
	} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModeType | os.ModePerm); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
	}
	if n := len(j.Entries()); n != 0 {
		t.Errorf("a new journal has %d entries", n)
	}
}

func TestOpenDirWithoutCreate(t *testing.T) {
	dir := filepath.Join(tempDir(t), "missing")
	_, err := journal.OpenDir(dir, false)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenDir of a missing journal: %v, want os.ErrNotExist", err)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenDir without create made %s", dir)
	}
}

func TestOpenDirRefusesSymlinkedJournal(t *testing.T) {
	base := tempDir(t)
	dir := filepath.Join(base, "demo")
	if err := os.MkdirAll(filepath.Join(dir, "backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "elsewhere")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "journal")); err != nil {
		t.Fatal(err)
	}
	if _, err := journal.OpenDir(dir, true); !errors.Is(err, fsutil.ErrSymlink) {
		t.Fatalf("OpenDir with a symlinked journal: %v, want ErrSymlink", err)
	}
}

func TestRecordsSurviveReopen(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	s1 := intent(t, j, "run1", "file", "/opt/demo/app.py")
	if err := j.Done(s1); err != nil {
		t.Fatal(err)
	}
	s2 := intent(t, j, "run1", "start", "demo.service")
	if err := j.Failed(s2, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	j2 := open(t, dir, false)
	es := j2.Entries()
	if len(es) != 2 {
		t.Fatalf("after reopen: %d entries, want 2: %+v", len(es), es)
	}
	e := es[0]
	if e.Seq != s1 || e.Op != journal.OpIntent || e.Run != "run1" || e.Step != "file" ||
		e.Key != "/opt/demo/app.py" || e.Action != "create" || e.Outcome != journal.OpDone || e.Undone {
		t.Errorf("entry 0 = %+v", e)
	}
	var b before
	if err := json.Unmarshal(e.Before, &b); err != nil || b.Mode != 0o644 || b.Exists {
		t.Errorf("entry 0 Before = %s (%v)", e.Before, err)
	}
	if e.Time.IsZero() {
		t.Error("entry 0 has no time")
	}
	if es[1].Outcome != journal.OpFailed {
		t.Errorf("entry 1 outcome %q, want failed", es[1].Outcome)
	}
	// Sequence numbers go on after the reopen.
	s3 := intent(t, j2, "run2", "unit", "/etc/systemd/system/demo.service")
	if s3 != s2+2 {
		t.Errorf("seq after reopen = %d, want %d (the failed record was %d)", s3, s2+2, s2+1)
	}
}

func TestTornLastLineIsCutAndIgnored(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	s1 := intent(t, j, "run1", "file", "/a")
	if err := j.Done(s1); err != nil {
		t.Fatal(err)
	}
	intent(t, j, "run1", "file", "/b")
	j.Close()

	good, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of writing the next record.
	torn := `{"seq":4,"op":"intent","run":"run1","step":"fi`
	if err := os.WriteFile(j.Path(), append(append([]byte{}, good...), torn...), 0o600); err != nil {
		t.Fatal(err)
	}

	j2 := open(t, dir, false)
	if got := keys(j2.Entries()); strings.Join(got, ";") != "file /a;file /b" {
		t.Fatalf("entries after a torn record: %v", got)
	}
	after, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, good) {
		t.Errorf("the torn record was not cut:\n%s", after)
	}
	s, err := j2.Intent("run2", "file", "/c", "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s != 4 {
		t.Errorf("seq of the record after the torn one = %d, want 4", s)
	}
	j2.Close()

	data, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("journal has %d lines, want 4:\n%s", len(lines), data)
	}
	for i, l := range lines {
		var r journal.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Errorf("line %d is not a record: %q", i+1, l)
		}
	}
	j3 := open(t, dir, false)
	if got := keys(j3.Entries()); strings.Join(got, ";") != "file /a;file /b;file /c" {
		t.Errorf("entries after reopen: %v", got)
	}
}

func TestTornLastLineEndingWithNewlineIsIgnored(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	intent(t, j, "run1", "file", "/a")
	j.Close()
	f, err := os.OpenFile(j.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"seq\":2,\"op\n")
	f.Close()

	j2 := open(t, dir, false)
	if got := keys(j2.Entries()); strings.Join(got, ";") != "file /a" {
		t.Fatalf("entries: %v", got)
	}
	intent(t, j2, "run2", "file", "/b")
	j3 := open(t, dir, false)
	if got := keys(j3.Entries()); strings.Join(got, ";") != "file /a;file /b" {
		t.Errorf("entries after reopen: %v", got)
	}
}

func TestCorruptLineInTheMiddleIsAnError(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	for _, k := range []string{"/a", "/b", "/c"} {
		intent(t, j, "run1", "file", k)
	}
	j.Close()
	data, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[1] = "this is not json\n"
	if err := os.WriteFile(j.Path(), []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = journal.OpenDir(dir, false)
	if err == nil {
		t.Fatal("OpenDir accepted a journal with a corrupt line in the middle")
	}
	if !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), j.Path()) {
		t.Errorf("error %q does not name the file and line 2", err)
	}
	after, _ := os.ReadFile(j.Path())
	if string(after) != strings.Join(lines, "") {
		t.Error("a journal that failed to load was modified")
	}
}

func TestEntriesAndLiveFoldOutcomes(t *testing.T) {
	j := open(t, filepath.Join(tempDir(t), "demo"), true)
	a := intent(t, j, "r1", "file", "/a")
	b := intent(t, j, "r1", "file", "/b")
	c := intent(t, j, "r1", "file", "/c")
	d := intent(t, j, "r2", "file", "/d")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(j.Done(a))
	must(j.Failed(b, errors.New("disk full")))
	must(j.Done(d))
	must(j.Undone(a))
	must(j.Undone(b))
	// An outcome naming no intent is ignored.
	must(j.Done(999))

	es := j.Entries()
	if len(es) != 4 {
		t.Fatalf("%d entries, want 4", len(es))
	}
	want := []struct {
		key, outcome string
		undone       bool
	}{
		{"/a", journal.OpDone, true},
		{"/b", journal.OpFailed, true},
		{"/c", "", false},
		{"/d", journal.OpDone, false},
	}
	for i, w := range want {
		e := es[i]
		if e.Key != w.key || e.Outcome != w.outcome || e.Undone != w.undone {
			t.Errorf("entry %d = {key %s outcome %q undone %v}, want %+v", i, e.Key, e.Outcome, e.Undone, w)
		}
	}
	if es[2].Seq != c {
		t.Errorf("entry /c seq %d, want %d", es[2].Seq, c)
	}
	if got := keys(j.Live()); strings.Join(got, ";") != "file /c;file /d" {
		t.Errorf("Live() = %v, want /c and /d", got)
	}
	must(j.Undone(c))
	must(j.Undone(d))
	if n := len(j.Live()); n != 0 {
		t.Errorf("Live() after undoing all: %d entries", n)
	}
}

func TestFailedRecordKeepsTheError(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	s := intent(t, j, "r1", "start", "demo.service")
	if err := j.Failed(s, errors.New("start job failed")); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, err := os.ReadFile(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var r journal.Record
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Op != journal.OpFailed || r.Ref != s || r.Error != "start job failed" {
		t.Errorf("failed record = %+v", r)
	}
}

func TestBackupsRoundTripAndTamperingIsDetected(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	content := []byte("previous content\x00\xff with binary bytes\n")
	name, err := j.SaveBackup(content)
	if err != nil {
		t.Fatal(err)
	}
	if name != "backup/"+fsutil.Sum(content) {
		t.Errorf("backup name %q, want backup/<sha256>", name)
	}
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := j.Backup(name)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("Backup(%s) = %q, %v", name, got, err)
	}
	// The same content saved twice is one backup.
	if again, err := j.SaveBackup(content); err != nil || again != name {
		t.Errorf("SaveBackup again = %q, %v", again, err)
	}

	if err := os.WriteFile(filepath.Join(dir, name), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Backup(name); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Backup of a tampered file: %v, want a damaged error", err)
	}

	for _, bad := range []string{"../journal", "journal", "backup/../journal", "/etc/passwd", "backup/sub/" + fsutil.Sum(content)} {
		if _, err := j.Backup(bad); err == nil || !strings.Contains(err.Error(), "outside its directory") {
			t.Errorf("Backup(%q) = %v, want a name outside the backups refused", bad, err)
		}
	}
	if _, err := j.Backup("backup/" + fsutil.Sum([]byte("never saved"))); err == nil {
		t.Error("Backup of a missing name was accepted")
	}
}

func TestRemoveDeletesTheJournalAndAnEmptyRoot(t *testing.T) {
	root := filepath.Join(tempDir(t), "lib")
	dir := filepath.Join(root, "demo")
	j := open(t, dir, true)
	intent(t, j, "r1", "file", "/a")
	if _, err := j.SaveBackup([]byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journals' root is left after removing its only plan: %v", err)
	}
}

func TestRemoveKeepsAnotherPlansJournal(t *testing.T) {
	root := filepath.Join(tempDir(t), "lib")
	a := open(t, filepath.Join(root, "a"), true)
	b := open(t, filepath.Join(root, "b"), true)
	intent(t, a, "r1", "file", "/a")
	intent(t, b, "r1", "file", "/b")
	if _, err := a.SaveBackup([]byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plan a's directory is left: %v", err)
	}
	b.Close()
	jb := open(t, filepath.Join(root, "b"), false)
	if got := keys(jb.Entries()); len(got) != 1 || got[0] != "file /b" {
		t.Errorf("plan b's journal after removing a: %v", got)
	}
}
