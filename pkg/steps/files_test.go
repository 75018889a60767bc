package steps_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/pkg/steps"
)

// A large file hashed ahead, while the install goes on, is journaled with the
// hash of what is written, as one hashed at its intent is: uninstall tells
// it from an admin's edit by that hash.
func TestHashAheadJournalsTheWrittenContent(t *testing.T) {
	for _, ahead := range []bool{true, false} {
		f := newFixture(t)
		p := loadPlan(t, version{})
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<17) // 2 MiB
		p.Files = append(p.Files, plan.File{Dest: "/opt/demo/big", Content: big, Mode: 0o644, Owner: "root", Group: "root"})
		planned := f.planned(p)
		checked, err := engine.Preflight(context.Background(), planned)
		if err != nil {
			t.Fatal(err)
		}
		if ahead {
			steps.HashAhead(checked)
		}
		if _, err := f.engine().Install(context.Background(), engine.NewRun(false), planned, false); err != nil {
			t.Fatal(err)
		}
		var b struct {
			Wrote string `json:"wrote"`
		}
		if _, err := engine.DecodeBefore(f.entry("file", "/opt/demo/big"), &b); err != nil {
			t.Fatal(err)
		}
		if want := fsutil.Sum(big); b.Wrote != want {
			t.Errorf("ahead %v: journaled wrote %s, want %s", ahead, b.Wrote, want)
		}
		if got := f.read("/opt/demo/big"); got != string(big) {
			t.Errorf("ahead %v: the file holds %d bytes, want %d", ahead, len(got), len(big))
		}
		// Changed by hand since: uninstall keeps it, since its hash differs.
		f.write("/opt/demo/big", "edited\n", 0o644, 0, 0)
		u := &engine.Undo{}
		if err := f.uninstall(u); err != nil {
			t.Fatal(err)
		}
		if got := f.read("/opt/demo/big"); got != "edited\n" {
			t.Errorf("ahead %v: uninstall did not keep the edited file: %q", ahead, got)
		}
	}
}
