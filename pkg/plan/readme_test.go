package plan_test

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

// The annotated plan in the README is a valid plan: the documentation of the
// format cannot drift from the parser.
func TestReadmePlanIsValid(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Plans")
	if start < 0 {
		t.Fatal("no Plans section in the README")
	}
	block := text[start:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	fsys := fstest.MapFS{"plan.yaml": {Data: []byte(block)}}
	for _, name := range []string{"app.py", "notifydemo.service"} {
		data, err := fs.ReadFile(plans.FS, "notifydemo/"+name)
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	p, err := plan.Load(fsys, "plan.yaml", "README.md", "test")
	if err != nil {
		t.Fatalf("the README's plan does not load: %v", err)
	}
	if p.Name != "notifydemo" || len(p.Checks) != 1 || len(p.Data) != 1 || p.OnReady.Mail == nil || p.Vars["port"] != "5001" {
		t.Errorf("the README's plan lost fields: %+v", p)
	}
}
