package journal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/journal"
)

func TestOverlongLineIsAnErrorNotATruncation(t *testing.T) {
	dir := filepath.Join(tempDir(t), "demo")
	j := open(t, dir, true)
	intent(t, j, "r1", "file", "/a")
	if _, err := j.Intent("r1", "file", "/b", "create", map[string]string{"note": strings.Repeat("x", 17<<20)}); err != nil {
		t.Fatal(err)
	}
	intent(t, j, "r1", "file", "/c")
	j.Close()
	size := func() int64 { fi, _ := os.Stat(j.Path()); return fi.Size() }
	was := size()
	j2, err := journal.OpenDir(dir, false)
	if err == nil {
		t.Errorf("OpenDir of a journal with a 17 MiB record succeeded with %d entries", len(j2.Entries()))
		j2.Close()
	}
	if size() != was {
		t.Errorf("the journal was cut from %d to %d bytes", was, size())
	}
}
