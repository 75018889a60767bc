package plan_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notifyctl/notifyctl/pkg/plan"
)

// Hostile plans are refused quickly and in one line, instead of hanging
// Load or exhausting memory (as each of these did).
func TestLoadStaysBounded(t *testing.T) {
	tmplPlan := "name: demo\nvars: {port: \"1\"}\nfiles:\n  - {source: c.tmpl, dest: /opt/demo/c, template: true}\nunit: {name: demo.service}\n"
	var keys, files strings.Builder
	keys.WriteString("name: demo\nunit: {name: demo.service}\nvars: {")
	for i := 0; i < 80000; i++ {
		fmt.Fprintf(&keys, "k%d: v,", i)
	}
	keys.WriteString("}\n")
	files.WriteString("name: demo\nunit: {name: demo.service}\nfiles:\n")
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&files, "  - {source: app.py, dest: /opt/demo/f%d}\n", i)
	}
	for _, c := range []struct{ name, plan, tmpl, app, want string }{
		{"range over a huge int", tmplPlan, "{{ range 1000000000 }}{{ end }}", "", "{{ range }} is not available"},
		{"nested ranges", tmplPlan, "{{ range 100000 }}{{ range 100000 }}{{ end }}{{ end }}", "", "{{ range }} is not available"},
		{"branching recursion", tmplPlan, `{{ define "a" }}{{ if lt . 30 }}{{ template "a" (add . 1) }}{{ template "a" (add . 1) }}{{ end }}{{ end }}{{ template "a" 0 }}`, "", "{{ define }} and {{ block }} are not available"},
		{"block", tmplPlan, `{{ block "a" . }}x{{ end }}`, "", "{{ define }} and {{ block }} are not available"},
		{"printf padding", tmplPlan, "{{ printf \"" + strings.Repeat("%999999d", 3000) + "\" " + strings.Repeat("1 ", 3000) + "}}", "", "printf is not available"},
		{"80,000 keys", keys.String(), "", "", "vars: line 3: a mapping with more than 1000 keys"},
		{"900 duplicate keys", "name: demo\nunit: {name: demo.service}\nvars: {" + strings.Repeat("k: v, ", 900) + "}\n", "", "", `vars.k: line 3: mapping key "k" already defined at line 3`},
		{"2,000 copies of an 8 MB file", files.String(), "", strings.Repeat("x", 8<<20), "add up to more than"},
		{"a var of 1 MB", "name: demo\nunit: {name: demo.service}\nvars: {big: " + strings.Repeat("x", 1<<20) + "}\n", "", "", "vars.big: is longer than 4096 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"plan.yaml":    {Data: []byte(c.plan)},
				"c.tmpl":       {Data: []byte(c.tmpl)},
				"app.py":       {Data: []byte(c.app)},
				"demo.service": {Data: []byte("[Service]\nExecStart=/bin/true\n")},
			}
			start := time.Now()
			_, err := plan.Load(fsys, "plan.yaml", "p/plan.yaml", "/p")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Load took %v", d)
			}
			var pe *plan.Error
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load error %v, want one line with %q", err, c.want)
			}
		})
	}
}

// A template that renders more than MaxSourceSize bytes is refused.
func TestRenderIsBounded(t *testing.T) {
	fsys := fstest.MapFS{
		"plan.yaml":    {Data: []byte("name: demo\nvars: {big: \"" + strings.Repeat("x", 4000) + "\"}\nfiles:\n  - {source: c.tmpl, dest: /opt/demo/c, template: true}\nunit: {name: demo.service}\n")},
		"c.tmpl":       {Data: []byte(strings.Repeat("{{ .big }}", 5000))},
		"demo.service": {Data: []byte("[Service]\nExecStart=/bin/true\n")},
	}
	_, err := plan.Load(fsys, "plan.yaml", "p/plan.yaml", "/p")
	if err == nil || !strings.Contains(err.Error(), "files[0].source: template: it renders to more than 16777216 bytes") {
		t.Errorf("Load: %v", err)
	}
}

// systemd reads units and drop-ins from /usr/local/lib/systemd/system too: a
// drop-in there (zz-*.conf sorts after notifyctl's) would undo the hardening
// drop-in behind the exposure gate's back.
func TestDestUnderLocalUnitDir(t *testing.T) {
	yaml := strings.Replace(goodPlan, "dest: /opt/demo/app.py", "dest: /usr/local/lib/systemd/system/demo.service.d/zz.conf", 1)
	_, err := plan.Load(planFS(yaml), "plan.yaml", "p/plan.yaml", "/p")
	if err == nil || !strings.Contains(err.Error(), "files[0].dest: /usr/local/lib/systemd/system/demo.service.d/zz.conf is under /usr/local/lib/systemd") {
		t.Errorf("Load: %v", err)
	}
}
