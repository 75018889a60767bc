package plan_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

func TestEmbeddedPlanLoads(t *testing.T) {
	p, err := plan.Resolve("", plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "notifydemo" || p.Origin != "embedded:notifydemo" || p.Source != "embedded:notifydemo/plan.yaml" {
		t.Errorf("name %q origin %q source %q", p.Name, p.Origin, p.Source)
	}
	if strings.Join(p.Packages, " ") != "python3 python3-flask curl" {
		t.Errorf("packages %v", p.Packages)
	}
	if p.User == nil || *p.User != (plan.User{Name: "notifydemo", Group: "notifydemo", Home: "/opt/notifydemo", Shell: "/usr/sbin/nologin"}) {
		t.Errorf("user %+v", p.User)
	}
	if len(p.Directories) != 1 || p.Directories[0] != (plan.Directory{Path: "/opt/notifydemo", Mode: 0o755, Owner: "root", Group: "root"}) {
		t.Errorf("directories %+v", p.Directories)
	}
	if len(p.Files) != 2 {
		t.Fatalf("files %+v", p.Files)
	}
	for i, want := range []struct {
		source, dest string
		mode         plan.Mode
	}{{"app.py", "/opt/notifydemo/app.py", 0o644}, {plan.SelfSource, "/opt/notifydemo/notifyctl", 0o755}} {
		f := p.Files[i]
		if f.Source != want.source || f.Dest != want.dest || f.Mode != want.mode || f.Owner != "root" || f.Group != "root" {
			t.Errorf("files[%d] = %+v", i, f)
		}
		if want.source == plan.SelfSource {
			if f.Content != nil || !p.UsesSelf() {
				t.Errorf("files[%d]: the notifyctl binary is read by whoever runs the plan, not at load", i)
			}
			continue
		}
		content, err := fs.ReadFile(plans.FS, "notifydemo/"+want.source)
		if err != nil {
			t.Fatal(err)
		}
		if string(f.Content) != string(content) || len(content) == 0 {
			t.Errorf("files[%d] content differs from the embedded %s", i, want.source)
		}
	}
	p.SetSelf([]byte("binary"))
	if string(p.Files[1].Content) != "binary" || string(p.Files[0].Content) == "binary" {
		t.Errorf("SetSelf filled the wrong files")
	}
	if m := p.OnReady.Mail; m == nil || m.To != "root" || m.Subject != "notifydemo ready" || m.Body != "notifydemo ready on :5001" {
		t.Errorf("on_ready.mail %+v", m)
	}
	unit, _ := fs.ReadFile(plans.FS, "notifydemo/notifydemo.service")
	if p.Unit.Name != "notifydemo.service" || !p.Unit.Enabled() || string(p.UnitContent) != string(unit) {
		t.Errorf("unit %+v, content %d bytes", p.Unit, len(p.UnitContent))
	}
	if p.Unit.Path() != "/etc/systemd/system/notifydemo.service" {
		t.Errorf("unit path %s", p.Unit.Path())
	}
	if time.Duration(p.Readiness.Timeout) != 30*time.Second || p.Readiness.HTTP != "http://127.0.0.1:5001/health" {
		t.Errorf("readiness %+v", p.Readiness)
	}
	want := []string{"/etc/systemd/system/notifydemo.service", "/opt/notifydemo", "/opt/notifydemo/app.py", "/opt/notifydemo/notifyctl"}
	if got := p.Owned(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Owned() = %v, want %v", got, want)
	}
	// The embedded plan is also found by name.
	q, err := plan.Resolve("notifydemo", plans.FS, plans.Default)
	if err != nil || q.Name != "notifydemo" {
		t.Errorf("Resolve(notifydemo) = %v, %v", q, err)
	}
	if got := plan.Embedded(plans.FS); strings.Join(got, " ") != "notifydemo vote-secret" {
		t.Errorf("Embedded() = %v", got)
	}
}

// vote-secret's gunicorn config is generated from its vars, with the worker
// count computed for this host, and its unit from the port var.
func TestVoteSecretRendersItsTemplates(t *testing.T) {
	p, err := plan.Resolve("vote-secret", plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	var conf string
	for _, f := range p.Files {
		if f.Dest == "/opt/vote-secret/config/gunicorn.conf.py" {
			conf = string(f.Content)
		}
	}
	workers := fmt.Sprintf("workers = %d\n", min(2*runtime.NumCPU()+1, 8))
	for _, want := range []string{`bind = "127.0.0.1:8001"`, workers, "timeout = 120\n", `worker_class = "uvicorn.workers.UvicornWorker"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("gunicorn.conf.py lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "{{") || !strings.Contains(string(p.UnitContent), "--http http://127.0.0.1:8001/api/health") {
		t.Errorf("templates left unrendered")
	}
	if len(p.Checks) != 1 || p.Checks[0].User != "vote-secret" || strings.Join(p.Data, " ") != "/var/lib/vote-secret /var/log/vote-secret" {
		t.Errorf("checks %+v, data %v", p.Checks, p.Data)
	}
}

func TestTemplateErrorsNameTheFile(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{"port = {{ .nope }}", `map has no entry for key "nope"`},
		{"port = {{ .port ", "unclosed action"},
	} {
		_, err := plan.Load(fstest.MapFS{
			"plan.yaml": {Data: []byte("name: t\nvars: {port: \"1\"}\nfiles:\n  - {source: c.py, dest: /opt/t/c.py, template: true}\nunit: {name: t.service}\n")},
			"c.py":      {Data: []byte(c.tmpl)},
			"t.service": {Data: []byte("[Service]\nExecStart=/bin/true\n")},
		}, "plan.yaml", "t/plan.yaml", "test")
		if err == nil || !strings.Contains(err.Error(), "t/plan.yaml: files[0].source") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("template %q: %v, want an error naming files[0].source and %q", c.tmpl, err, c.want)
		}
	}
}

const goodPlan = `name: demo
description: a test plan
packages: [python3, curl]
user:
  name: demo
directories:
  - path: /opt/demo
    mode: "0750"
    owner: demo
files:
  - source: app.py
    dest: /opt/demo/app.py
    mode: "0640"
    owner: demo
  - source: run.sh
    dest: /opt/demo/run.sh
    mode: 0755
unit:
  name: demo.service
readiness:
  timeout: 5s
`

const goodUnit = "[Unit]\nDescription=demo\n\n[Service]\nExecStart=/opt/demo/run.sh\n"

func planFS(planYAML string) fstest.MapFS {
	return fstest.MapFS{
		"plan.yaml":    {Data: []byte(planYAML)},
		"app.py":       {Data: []byte("print('hello')\n")},
		"run.sh":       {Data: []byte("#!/bin/sh\nexec python3 app.py\n")},
		"demo.service": {Data: []byte(goodUnit)},
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	p, err := plan.Load(planFS(goodPlan), "plan.yaml", "test/plan.yaml", "/test")
	if err != nil {
		t.Fatal(err)
	}
	if *p.User != (plan.User{Name: "demo", Group: "demo", Home: "/nonexistent", Shell: "/usr/sbin/nologin"}) {
		t.Errorf("user defaults: %+v", p.User)
	}
	// An owner that is the plan's user gets the user's group; others get root.
	if f := p.Files[0]; f.Owner != "demo" || f.Group != "demo" || f.Mode != 0o640 {
		t.Errorf("files[0] = %+v", f)
	}
	if f := p.Files[1]; f.Owner != "root" || f.Group != "root" || f.Mode != 0o755 {
		t.Errorf("files[1] = %+v", f)
	}
	if d := p.Directories[0]; d.Owner != "demo" || d.Group != "demo" || d.Mode != 0o750 {
		t.Errorf("directories[0] = %+v", d)
	}
	if p.Unit.Source != "demo.service" || string(p.UnitContent) != goodUnit || !p.Unit.Enabled() {
		t.Errorf("unit %+v", p.Unit)
	}
	if p.Origin != "/test" || p.Source != "test/plan.yaml" {
		t.Errorf("origin %q source %q", p.Origin, p.Source)
	}
	if time.Duration(p.Readiness.Timeout) != 5*time.Second {
		t.Errorf("timeout %v", time.Duration(p.Readiness.Timeout))
	}

	noTimeout := strings.Replace(goodPlan, "readiness:\n  timeout: 5s\n", "unit2: x\n", 1)
	noTimeout = strings.Replace(noTimeout, "unit2: x\n", "", 1)
	noTimeout = strings.Replace(noTimeout, "unit:\n  name: demo.service\n", "unit:\n  name: demo.service\n  enable: false\n", 1)
	p, err = plan.Load(planFS(noTimeout), "plan.yaml", "plan.yaml", "/test")
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(p.Readiness.Timeout) != plan.DefaultTimeout || p.Unit.Enabled() {
		t.Errorf("timeout %v enabled %v", time.Duration(p.Readiness.Timeout), p.Unit.Enabled())
	}
}

func TestBadPlans(t *testing.T) {
	repl := func(old, new string) func(fstest.MapFS) {
		return func(m fstest.MapFS) {
			s := string(m["plan.yaml"].Data)
			if !strings.Contains(s, old) {
				panic("test plan lacks " + old)
			}
			m["plan.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(s, old, new, 1))}
		}
	}
	set := func(name, content string) func(fstest.MapFS) {
		return func(m fstest.MapFS) { m[name] = &fstest.MapFile{Data: []byte(content)} }
	}
	cases := []struct {
		name  string
		edit  func(fstest.MapFS)
		field string   // the Error's Field; "-" for a decoding error, whose Field is not checked
		want  []string // in Error()
	}{
		{"unknown field", repl("description:", "colour: red\ndescription:"), "-", []string{"colour"}},
		{"unknown nested field", repl("    mode: \"0640\"\n", "    mode: \"0640\"\n    perms: x\n"), "-", []string{"perms"}},
		{"wrong type", repl("packages: [python3, curl]", "packages: {python3: yes}"), "-", []string{"line 3", "[]string"}},
		{"wrong type for user", repl("user:\n  name: demo\n", "user: demo\n"), "-", []string{"line 4", "plan.User"}},
		{"mode not octal", repl(`mode: "0640"`, `mode: "0968"`), "-", []string{"0968", "octal mode"}},
		{"mode not a scalar", repl(`mode: "0640"`, `mode: [6, 4, 0]`), "-", []string{"octal mode"}},
		{"empty file", set("plan.yaml", " \n\t\n"), "", []string{"empty"}},
		{"binary file", set("plan.yaml", "name: demo\x00\x01\x02"), "", []string{"not text"}},
		{"invalid utf-8", set("plan.yaml", "name: d\xffemo\n"), "", []string{"not text"}},
		{"two documents", repl("name: demo\n", "name: demo\n---\nname: other\n---\n"), "", []string{"more than one YAML document"}},
		{"missing source file", func(m fstest.MapFS) { delete(m, "app.py") }, "files[0].source", []string{"app.py", "no such file"}},
		{"source outside the plan", repl("source: app.py", "source: ../app.py"), "files[0].source", []string{"inside the plan directory"}},
		{"source is the plan", repl("source: app.py", "source: plan.yaml"), "files[0].source", []string{"inside the plan directory"}},
		{"source is a directory", func(m fstest.MapFS) {
			delete(m, "app.py")
			m["app.py/x"] = &fstest.MapFile{Data: []byte("x")}
		}, "files[0].source", []string{"not a regular file"}},
		{"bad plan name", repl("name: demo\n", "name: Demo_1\n"), "name", []string{"Demo_1"}},
		{"bad user name", repl("  name: demo\n", "  name: \"root;rm\"\n"), "user.name", []string{"root;rm", "not a valid user name"}},
		{"bad owner", repl("    owner: demo\n", "    owner: \"Demo User\"\n"), "directories[0].owner", []string{"Demo User"}},
		{"bad package", repl("curl]", "\"curl; rm -rf /\"]"), "packages[1]", []string{"not a Debian package name"}},
		{"duplicate package", repl("[python3, curl]", "[curl, curl]"), "packages[1]", []string{"twice"}},
		{"setuid mode", repl(`mode: "0640"`, `mode: "4755"`), "files[0].mode", []string{"4755", "setuid"}},
		{"setgid mode", repl(`mode: "0750"`, `mode: "2750"`), "directories[0].mode", []string{"setgid"}},
		{"world-writable mode", repl(`mode: "0750"`, `mode: "0777"`), "directories[0].mode", []string{"world-writable"}},
		{"dest with ..", repl("dest: /opt/demo/app.py", "dest: /opt/demo/../../etc/cron.d/x"), "files[0].dest", []string{"absolute, clean"}},
		{"relative dest", repl("dest: /opt/demo/app.py", "dest: opt/demo/app.py"), "files[0].dest", []string{"absolute, clean"}},
		{"missing dest", repl("    dest: /opt/demo/app.py\n", ""), "files[0].dest", []string{"missing"}},
		{"dest under /proc", repl("dest: /opt/demo/app.py", "dest: /proc/sys/kernel/core_pattern"), "files[0].dest", []string{"under /proc"}},
		{"dest under /var/run", repl("dest: /opt/demo/app.py", "dest: /var/run/demo/app.pid"), "files[0].dest", []string{"under /var/run"}},
		{"directory under /var/lock", repl("path: /opt/demo", "path: /var/lock/demo"), "directories[0].path", []string{"under /var/lock"}},
		{"dest /etc/shadow", repl("dest: /opt/demo/app.py", "dest: /etc/shadow"), "files[0].dest", []string{"/etc/shadow", "system file"}},
		{"dest under the journals", repl("dest: /opt/demo/app.py", "dest: /var/lib/notifyctl/demo/journal"), "files[0].dest", []string{"under /var/lib/notifyctl"}},
		{"directory under the journals", repl("path: /opt/demo", "path: /var/lib/notifyctl"), "directories[0].path", []string{"under /var/lib/notifyctl"}},
		{"dest under /etc/systemd", repl("dest: /opt/demo/app.py", "dest: /etc/systemd/system/evil.service"), "files[0].dest", []string{"/etc/systemd"}},
		{"top-level dest", repl("path: /opt/demo", "path: /usr"), "directories[0].path", []string{"top-level"}},
		{"dest with a control character", repl("dest: /opt/demo/app.py", "dest: \"/opt/demo/a\\tpp.py\""), "files[0].dest", []string{"control characters"}},
		{"duplicate dest", repl("dest: /opt/demo/run.sh", "dest: /opt/demo/app.py"), "files[1].dest", []string{"already claimed by files[0].dest"}},
		{"file dest is a directory", repl("dest: /opt/demo/app.py", "dest: /opt/demo"), "files[0].dest", []string{"already claimed by directories[0].path"}},
		{"file under a file", repl("dest: /opt/demo/run.sh", "dest: /opt/demo/app.py/run.sh"), "files[1].dest", []string{"parent is a file"}},
		{"unit file with a control character", set("demo.service", "[Service]\nExecStart=/bin/true\x1b[2J\n"), "unit.source", []string{"line 2", "control character"}},
		{"unit file with a C1 control character", set("demo.service", "[Service]\nExecStart=/bin/true\u009b2J\n"), "unit.source", []string{"line 2", "control character"}},
		{"description with a C1 control character", repl("description: a test plan", "description: \"x\\u009b2Jy\""), "description", []string{"control characters"}},
		{"unit file with a carriage return inside", set("demo.service", "[Service]\nExec\rStart=/bin/true\n"), "unit.source", []string{"control character"}},
		{"binary unit file", set("demo.service", "[Service]\x00"), "unit.source", []string{"not text"}},
		{"unit without [Service]", set("demo.service", "[Unit]\nDescription=x\n"), "unit.source", []string{"[Service]"}},
		{"missing unit file", func(m fstest.MapFS) { delete(m, "demo.service") }, "unit.source", []string{"no such file"}},
		{"missing unit", repl("unit:\n  name: demo.service\n", ""), "unit.name", []string{"missing"}},
		{"unit not a service", repl("name: demo.service", "name: demo.timer"), "unit.name", []string{"demo.timer"}},
		{"unit name with a slash", repl("name: demo.service", "name: ../demo.service"), "unit.name", []string{"not a service unit name"}},
		{"newline in the description", repl("description: a test plan", "description: \"x\\nExecStart=/bin/evil\""), "description", []string{"control characters"}},
		{"newline in the home", repl("  name: demo\n", "  name: demo\n  home: \"/opt/demo\\nroot::0:0::/:/bin/sh\"\n"), "user.home", []string{"control characters"}},
		{"newline in the shell", repl("  name: demo\n", "  name: demo\n  shell: \"/bin/sh\\n\"\n"), "user.shell", []string{"control characters"}},
		{"newline in the user name", repl("  name: demo\n", "  name: \"demo\\nroot\"\n"), "user.name", []string{"not a valid user name"}},
		{"newline in a package", repl("curl]", "\"curl\\nsudo\"]"), "packages[1]", []string{"not a Debian package name"}},
		{"newline in the URL", repl("timeout: 5s", "timeout: 5s\n  http: \"http://x/\\r\\nHost: evil\""), "readiness.http", []string{"not an http"}},
		{"URL not http", repl("timeout: 5s", "timeout: 5s\n  http: \"file:///etc/shadow\""), "readiness.http", []string{"file:///etc/shadow"}},
		{"bad timeout", repl("timeout: 5s", "timeout: soon"), "-", []string{"soon", "duration"}},
		{"negative timeout", repl("timeout: 5s", "timeout: -5s"), "readiness.timeout", []string{"between"}},
		{"too long timeout", repl("timeout: 5s", "timeout: 2h"), "readiness.timeout", []string{"between"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := planFS(goodPlan)
			c.edit(m)
			p, err := plan.Load(m, "plan.yaml", "plans/demo/plan.yaml", "/plans/demo")
			var pe *plan.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Load = %+v, %v; want a *plan.Error", p, err)
			}
			if p != nil {
				t.Errorf("Load returned a plan along with an error")
			}
			msg := err.Error()
			if pe.File != "plans/demo/plan.yaml" || !strings.HasPrefix(msg, "plans/demo/plan.yaml: ") {
				t.Errorf("error does not name the plan file: %q", msg)
			}
			if c.field != "-" && pe.Field != c.field {
				t.Errorf("Field = %q, want %q (%s)", pe.Field, c.field, msg)
			}
			if c.field != "" && c.field != "-" && !strings.HasPrefix(msg, "plans/demo/plan.yaml: "+c.field+": ") {
				t.Errorf("error does not name the field %s: %q", c.field, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
	// The plan the cases start from is itself good.
	if _, err := plan.Load(planFS(goodPlan), "plan.yaml", "plan.yaml", "/"); err != nil {
		t.Fatalf("the base plan does not load: %v", err)
	}
}

func TestLoadMissingPlanFile(t *testing.T) {
	_, err := plan.Load(fstest.MapFS{}, "plan.yaml", "x/plan.yaml", "/x")
	var pe *plan.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "x/plan.yaml: no such plan file") {
		t.Errorf("Load of a missing plan file: %v", err)
	}
}

func TestLoadRefusesOversizedSource(t *testing.T) {
	m := planFS(goodPlan)
	m["app.py"] = &fstest.MapFile{Data: make([]byte, plan.MaxSourceSize+1)}
	_, err := plan.Load(m, "plan.yaml", "plan.yaml", "/")
	var pe *plan.Error
	if !errors.As(err, &pe) || pe.Field != "files[0].source" || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load with an oversized source: %v", err)
	}
}

func writePlanDir(t *testing.T, dir, planFile string) {
	t.Helper()
	for name, f := range planFS(goodPlan) {
		if name == "plan.yaml" {
			name = planFile
		}
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolveDirectoryAndFile(t *testing.T) {
	dir := t.TempDir()
	writePlanDir(t, dir, "plan.yaml")
	writePlanDir(t, dir, "other.yaml")

	p, err := plan.Resolve(dir, plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo" || p.Origin != dir || p.Source != filepath.Join(dir, "plan.yaml") {
		t.Errorf("Resolve(dir): name %q origin %q source %q", p.Name, p.Origin, p.Source)
	}
	if string(p.Files[0].Content) != "print('hello')\n" {
		t.Errorf("Resolve(dir) read %q for app.py", p.Files[0].Content)
	}

	file := filepath.Join(dir, "other.yaml")
	p, err = plan.Resolve(file, plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo" || p.Source != file || p.Origin != file {
		t.Errorf("Resolve(file): name %q origin %q source %q", p.Name, p.Origin, p.Source)
	}

	// A relative path to a directory (containing a slash) is a path, too.
	t.Chdir(filepath.Dir(dir))
	rel := "./" + filepath.Base(dir)
	p, err = plan.Resolve(rel, plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	if p.Source != filepath.Join(rel, "plan.yaml") || p.Origin != dir {
		t.Errorf("Resolve(%s): origin %q source %q", rel, p.Origin, p.Source)
	}

	// An error in a plan on disk names the file as given.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: demo\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = plan.Resolve(bad, plans.FS, plans.Default)
	var pe *plan.Error
	if !errors.As(err, &pe) || pe.File != bad || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("Resolve(bad) = %v", err)
	}
}

func TestResolveRefusesSourcesOutsideThePlanDirectory(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("not the plan's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writePlanDir(t, dir, "plan.yaml")
	app := filepath.Join(dir, "app.py")

	// A symlink that stays inside the plan directory is followed.
	if err := os.Rename(app, filepath.Join(dir, "real.py")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.py", app); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Resolve(dir, plans.FS, plans.Default)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Files[0].Content) != "print('hello')\n" {
		t.Errorf("app.py read as %q", p.Files[0].Content)
	}

	// One that leads out of it is refused, by name, and nothing is read.
	for _, target := range []string{outside, "../" + filepath.Base(filepath.Dir(outside)) + "/secret"} {
		os.Remove(app)
		if err := os.Symlink(target, app); err != nil {
			t.Fatal(err)
		}
		_, err = plan.Resolve(dir, plans.FS, plans.Default)
		if err == nil || !strings.Contains(err.Error(), "app.py leads out of the plan directory") || !strings.Contains(err.Error(), target) {
			t.Errorf("a source linked to %s: %v", target, err)
		}
	}

	// A plan file given through a symlink is read where it is, its
	// sources next to it.
	link := filepath.Join(t.TempDir(), "linked.yaml")
	if err := os.Symlink(filepath.Join(dir, "plan.yaml"), link); err != nil {
		t.Fatal(err)
	}
	os.Remove(app)
	if err := os.Symlink("real.py", app); err != nil {
		t.Fatal(err)
	}
	if p, err := plan.Resolve(link, plans.FS, plans.Default); err != nil || p.Source != link {
		t.Errorf("Resolve(%s) = %v", link, err)
	}
}

func TestResolveUnknown(t *testing.T) {
	t.Chdir(t.TempDir())
	_, err := plan.Resolve("nosuchplan", plans.FS, plans.Default)
	var pe *plan.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "no such plan") || !strings.Contains(err.Error(), "notifydemo") {
		t.Errorf("Resolve(nosuchplan) = %v; want an error listing the embedded plans", err)
	}
	_, err = plan.Resolve("./nosuch/dir", plans.FS, plans.Default)
	if !errors.As(err, &pe) || pe.File != "./nosuch/dir" || !strings.Contains(err.Error(), "no such plan file or directory") {
		t.Errorf("Resolve(./nosuch/dir) = %v", err)
	}
}

func TestModeString(t *testing.T) {
	if s := plan.Mode(0o640).String(); s != "0640" {
		t.Errorf("Mode(0640).String() = %q", s)
	}
}

func TestErrorEscapesControlCharacters(t *testing.T) {
	// What comes from a plan is never sent to the terminal as it is: C0,
	// DEL and C1 controls (U+009B is ESC [ to some terminals) are escaped.
	e := &plan.Error{File: "p\x1b[2J.yaml", Field: "vars.a\nb", Msg: "bad \u009b31m value\x7f"}
	got := e.Error()
	want := `p\x1b[2J.yaml: vars.a\nb: bad \u009b31m value\x7f`
	if got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestInstallTargets(t *testing.T) {
	for _, c := range []struct {
		unit string
		want []string
	}{
		{"[Service]\nExecStart=/bin/true\n", nil},
		{"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n", []string{"multi-user.target"}},
		{"[Install]\nWantedBy=a.target b.target\n# WantedBy=c.target\nRequiredBy=d.target a.target\nAlias=x.service\n", []string{"a.target", "b.target", "d.target"}},
		{"[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=b.target \\\n  c.target\n", []string{"b.target", "c.target"}},
		{"[Unit]\nWantedBy=a.target\n[Service]\nExecStart=/bin/true\n", nil},
		{"[Install\nWantedBy=a.target\n", nil},
	} {
		p := &plan.Plan{UnitContent: []byte(c.unit)}
		if got := p.InstallTargets(); !slices.Equal(got, c.want) {
			t.Errorf("%q: InstallTargets = %q, want %q", c.unit, got, c.want)
		}
	}
}
