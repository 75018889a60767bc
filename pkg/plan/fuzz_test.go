package plan_test

// Fuzz targets for the plan loader: whatever plan.yaml and the files it names
// hold, Load either refuses the plan with one line naming the plan file, or
// returns a plan whose every value is safe to write into unit files, config
// files and host paths. The seed corpus is the shipped plans, the hostile
// plans below, and testdata/fuzz/<target>/ (binary and large inputs).
//
//	go test -run '^$' -fuzz '^FuzzLoadPlan$' -fuzztime 60s ./pkg/plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime/debug"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/notifyctl/notifyctl/pkg/harden"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

// fuzzSource names the plan file in the messages of fuzzed plans.
const fuzzSource = "plans/fuzz/plan.yaml"

// loadTimeout bounds one Load: real plans load in well under a millisecond,
// so a Load still running after this is a loop, not a slow machine. (The
// fuzzing engine gives up on an input after 10s, without saying why.)
const loadTimeout = 8 * time.Second

// fuzzFS is a plan directory with fixed names plans can refer to: the unit
// (demo.service), an app file (app.py) and a template (conf.tmpl). The
// shipped plans' own names stand for the same contents, so that they load
// unchanged as seeds; sub/ is a directory, link.py a symlink to app.py.
func fuzzFS(planYAML, unit, app, tmpl []byte) fstest.MapFS {
	return fstest.MapFS{
		"plan.yaml":           {Data: planYAML},
		"demo.service":        {Data: unit},
		"app.py":              {Data: app},
		"conf.tmpl":           {Data: tmpl},
		"notifydemo.service":  {Data: unit},
		"vote-secret.service": {Data: unit},
		"server.py":           {Data: app},
		"gunicorn.conf.py":    {Data: tmpl},
		"sub/app.py":          {Data: app},
		"link.py":             {Data: []byte("app.py"), Mode: fs.ModeSymlink},
	}
}

// load runs plan.Load on fsys, failing the test (rather than crashing or
// hanging the fuzzer) if it panics or does not return within loadTimeout.
func load(t *testing.T, fsys fs.FS) (*plan.Plan, error) {
	t.Helper()
	type result struct {
		p     *plan.Plan
		err   error
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{panic: r, stack: debug.Stack()}
			}
		}()
		p, err := plan.Load(fsys, plan.FileName, fuzzSource, "fuzz")
		done <- result{p: p, err: err}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("Load panicked: %v\n%s", r.panic, r.stack)
		}
		return r.p, r.err
	case <-time.After(loadTimeout):
		t.Fatalf("Load did not return within %v", loadTimeout)
		return nil, nil
	}
}

// Paths no plan may own, as the README promises, and the directories
// systemd reads units and drop-ins from: a file there would change the
// plan's unit behind unit: and its hardening drop-in.
var forbiddenTrees = []string{
	"/etc/systemd", "/proc", "/sys", "/dev", "/boot", "/run", "/var/lib/notifyctl",
	"/usr/lib/systemd", "/lib/systemd", "/usr/local/lib/systemd",
}

// checkDestProps checks a path a loaded plan owns.
func checkDestProps(t *testing.T, field, p string) {
	t.Helper()
	if err := plan.CheckDest(p); err != nil {
		t.Errorf("%s: %q was accepted but CheckDest says %v", field, p, err)
	}
	if !path.IsAbs(p) || path.Clean(p) != p || hasCtl(p) {
		t.Errorf("%s: %q is not an absolute, clean, one-line path", field, p)
	}
	for _, tree := range forbiddenTrees {
		if p == tree || strings.HasPrefix(p, tree+"/") {
			t.Errorf("%s: %q is under %s", field, p, tree)
		}
	}
}

func checkMode(t *testing.T, field string, m plan.Mode) {
	t.Helper()
	if m&0o6000 != 0 || m&0o002 != 0 || m > 0o7777 || m == 0 {
		t.Errorf("%s: mode %s was accepted", field, m)
	}
}

func checkAccounts(t *testing.T, field string, names ...string) {
	t.Helper()
	for _, n := range names {
		if !plan.ValidAccount(n) {
			t.Errorf("%s: account %q was accepted", field, n)
		}
	}
}

// hasCtl says whether s holds an ASCII control character (C0 or DEL),
// tab included.
func hasCtl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// knownKeys are the keys a drop-in may set: the strict profile's and those
// the hardening options add.
var knownKeys = dropInKeys()

func dropInKeys() map[string]bool {
	keys := map[string]bool{}
	strict, _ := harden.Profile(harden.DefaultProfile)
	for _, d := range strict {
		keys[d.Key] = true
	}
	for _, k := range []string{"ReadWritePaths", "StateDirectory", "LogsDirectory", "RuntimeDirectory",
		"CapabilityBoundingSet", "AmbientCapabilities", "PrivateUsers", "IPAddressDeny", "IPAddressAllow",
		"MemoryDenyWriteExecute", "UMask"} {
		keys[k] = true
	}
	return keys
}

// checkUnitProps checks the unit as systemd will read it. systemd ends a
// line at "\n", "\r" or "\r\n" (read_line_full), so a carriage return is
// harmless only right before a newline or at the end of the file; anywhere
// else it would start a line that plan.Load never looked at.
func checkUnitProps(t *testing.T, unit []byte) {
	t.Helper()
	for i, b := range unit {
		switch {
		case b == '\n' || b == '\t':
		case b == '\r':
			if i+1 < len(unit) && unit[i+1] != '\n' {
				t.Errorf("unit: a carriage return at byte %d starts a line of its own for systemd", i)
			}
		case b < 0x20 || b == 0x7f:
			t.Errorf("unit: control character %q at byte %d", b, i)
		}
	}
	if !bytes.Contains(unit, []byte("[Service]")) {
		t.Errorf("unit: no [Service] section")
	}
}

// checkDropInProps checks a drop-in line by line: a comment, the [Service]
// header, or Key=Value with a known key; nothing that continues a line or
// expands a specifier.
func checkDropInProps(t *testing.T, dropIn []byte, keys map[string]bool) {
	t.Helper()
	if len(dropIn) == 0 {
		return
	}
	if !bytes.HasSuffix(dropIn, []byte("\n")) {
		t.Errorf("drop-in does not end with a newline")
	}
	sections := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(dropIn), "\n"), "\n") {
		if strings.IndexFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }) >= 0 {
			t.Errorf("drop-in line %q holds a control character", line)
		}
		if strings.HasSuffix(line, `\`) {
			t.Errorf("drop-in line %q continues onto the next", line)
		}
		switch {
		case strings.HasPrefix(line, "# "):
		case line == "[Service]":
			sections++
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || !keys[key] {
				t.Errorf("drop-in line %q is not Key=Value with a known key", line)
			}
			if strings.ContainsAny(value, "%\\\"'") {
				t.Errorf("drop-in line %q holds a specifier, escape or quote", line)
			}
		}
	}
	if sections != 1 {
		t.Errorf("drop-in has %d [Service] headers:\n%s", sections, dropIn)
	}
}

// checkError checks a refusal: a *plan.Error, one line, naming the plan file.
func checkError(t *testing.T, p *plan.Plan, err error) {
	t.Helper()
	var pe *plan.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Load error %T %q is not a *plan.Error", err, err)
	}
	if p != nil {
		t.Errorf("Load returned a plan along with %v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, fuzzSource+": ") {
		t.Errorf("error does not start with the plan file: %q", msg)
	}
	// One line, and nothing a terminal would act on (an escape sequence).
	if strings.IndexFunc(msg, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }) >= 0 {
		t.Errorf("error is not one plain line: %q", msg)
	}
}

// checkPlan checks what a loaded plan promises to the steps that install it.
func checkPlan(t *testing.T, p *plan.Plan, planYAML []byte) {
	t.Helper()
	if !plan.ValidUnit(p.Unit.Name) {
		t.Errorf("unit.name %q was accepted", p.Unit.Name)
	}
	if p.Source != fuzzSource || p.Origin != "fuzz" {
		t.Errorf("source %q origin %q", p.Source, p.Origin)
	}
	if hasCtl(p.Name) || hasCtl(p.Description) {
		t.Errorf("name %q or description %q holds a control character", p.Name, p.Description)
	}
	for k, v := range p.Vars {
		if hasCtl(k) || hasCtl(v) {
			t.Errorf("vars.%q = %q holds a control character", k, v)
		}
	}
	for i, pkg := range p.Packages {
		if !plan.ValidPackage(pkg) {
			t.Errorf("packages[%d] = %q was accepted", i, pkg)
		}
	}
	if u := p.User; u != nil {
		checkAccounts(t, "user", u.Name, u.Group)
		for _, s := range []string{u.Home, u.Shell} {
			if !path.IsAbs(s) || path.Clean(s) != s || hasCtl(s) {
				t.Errorf("user: home or shell %q was accepted", s)
			}
		}
	}
	for i, d := range p.Directories {
		field := fmt.Sprintf("directories[%d]", i)
		checkDestProps(t, field, d.Path)
		checkMode(t, field, d.Mode)
		checkAccounts(t, field, d.Owner, d.Group)
	}
	for i, f := range p.Files {
		field := fmt.Sprintf("files[%d]", i)
		checkDestProps(t, field, f.Dest)
		checkMode(t, field, f.Mode)
		checkAccounts(t, field, f.Owner, f.Group)
		if f.Source != plan.SelfSource && (!fs.ValidPath(f.Source) || f.Source == plan.FileName) {
			t.Errorf("%s: source %q was accepted", field, f.Source)
		}
	}
	for i, d := range p.Data {
		checkDestProps(t, fmt.Sprintf("data[%d]", i), d)
	}
	checkUnitProps(t, p.UnitContent)
	checkDropInProps(t, p.DropIn, knownKeys)
	if p.Hardening.Profile == "none" && len(p.DropIn) != 0 || p.Hardening.Profile != "none" && len(p.DropIn) == 0 {
		t.Errorf("profile %q gave a drop-in of %d bytes", p.Hardening.Profile, len(p.DropIn))
	}
	if m := p.Hardening.MaxExposure; m != nil && !(*m >= 0 && *m <= 10) {
		t.Errorf("hardening.max_exposure %v was accepted: the exposure gate compares against it", *m)
	}
	for i, c := range p.Checks {
		if len(c.Run) == 0 || !path.IsAbs(c.Run[0]) {
			t.Errorf("checks[%d].run %q was accepted", i, c.Run)
		}
		for _, a := range c.Run {
			if hasCtl(a) {
				t.Errorf("checks[%d].run argument %q holds a control character", i, a)
			}
		}
		if hasCtl(c.Name) || c.User != "" && !plan.ValidAccount(c.User) || c.Dir != "" && (!path.IsAbs(c.Dir) || hasCtl(c.Dir)) {
			t.Errorf("checks[%d] = %+v was accepted", i, c)
		}
	}
	if h := p.Readiness.HTTP; h != "" && (hasCtl(h) || strings.ContainsAny(h, " \t")) {
		t.Errorf("readiness.http %q was accepted", h)
	}
	if to := time.Duration(p.Readiness.Timeout); to < time.Second || to > time.Hour {
		t.Errorf("readiness.timeout %v was accepted", to)
	}
	if m := p.OnReady.Mail; m != nil && (hasCtl(m.To) || hasCtl(m.Subject)) {
		t.Errorf("on_ready.mail %+v was accepted", m)
	}
	// The plan file is one YAML document: nothing after it, not even
	// something that does not parse, is silently ignored.
	dec := yaml.NewDecoder(bytes.NewReader(planYAML))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		t.Errorf("the accepted plan does not parse: %v", err)
	} else if err := dec.Decode(&doc); !errors.Is(err, io.EOF) {
		t.Errorf("the accepted plan has something after its document: %v", err)
	}
}

// shippedSeeds adds every plan shipped with notifyctl, with its unit, an
// app file and a template (or the app file again) of its own.
func shippedSeeds(f *testing.F) {
	names := plan.Embedded(plans.FS)
	if len(names) == 0 {
		f.Fatal("no shipped plans to seed with")
	}
	for _, name := range names {
		read := func(file string) []byte {
			b, err := fs.ReadFile(plans.FS, name+"/"+file)
			if err != nil {
				f.Fatal(err)
			}
			return b
		}
		p, err := plan.Load(mustSub(f, name), plan.FileName, name, name)
		if err != nil {
			f.Fatalf("shipped plan %s: %v", name, err)
		}
		app, tmpl := []byte("print('hello')\n"), []byte("port = {{ .port }}\n")
		for _, file := range p.Files {
			switch {
			case file.Source == plan.SelfSource:
			case file.Template:
				tmpl = read(file.Source)
			default:
				app = read(file.Source)
			}
		}
		f.Add(read(plan.FileName), read(p.Unit.Source), app, tmpl)
	}
}

func mustSub(f *testing.F, dir string) fs.FS {
	sub, err := fs.Sub(plans.FS, dir)
	if err != nil {
		f.Fatal(err)
	}
	return sub
}

// A small plan using every fixed file name, the base of the hostile seeds.
const seedPlan = `name: demo
description: a fuzz seed
packages: [python3]
user:
  name: demo
directories:
  - path: /opt/demo
    mode: "0750"
    owner: demo
files:
  - source: app.py
    dest: /opt/demo/app.py
  - source: conf.tmpl
    dest: /opt/demo/conf.py
    template: true
unit:
  name: demo.service
  template: true
vars:
  port: "8000"
checks:
  - run: [/bin/true, --port, "8000"]
    user: demo
    dir: /opt/demo
data: [/var/lib/demo]
readiness:
  timeout: 10s
  http: http://127.0.0.1:8000/
hardening:
  state_directory: demo
  read_write_paths: [/srv/demo]
  max_exposure: 2.5
`

const (
	seedUnit = "[Unit]\nDescription=demo on {{ .port }}\n\n[Service]\nExecStart=/opt/demo/app.py --port {{ .port }}\n"
	seedApp  = "#!/usr/bin/python3\nprint('hello')\n"
	seedTmpl = "bind = \"127.0.0.1:{{ .port }}\"\nworkers = {{ min (add (mul 2 cpus) 1) 8 }}\n"
)

// hostileSeeds are plans, mostly refused, each a small change to seedPlan.
func hostileSeeds() []struct{ name, plan, unit, app, tmpl string } {
	edit := func(old, new string) string {
		if !strings.Contains(seedPlan, old) {
			panic("seed plan lacks " + old)
		}
		return strings.Replace(seedPlan, old, new, 1)
	}
	type seed = struct{ name, plan, unit, app, tmpl string }
	s := func(name, planYAML string) seed { return seed{name, planYAML, seedUnit, seedApp, seedTmpl} }
	return []seed{
		s("base", seedPlan),
		s("newline in a var", edit(`port: "8000"`, `port: "8000\nExecStartPre=/bin/evil"`)),
		s("carriage return in a var", edit(`port: "8000"`, `port: "8000\rExecStartPre=/bin/evil"`)),
		s("newline in the description", edit("description: a fuzz seed", "description: \"x\\n[Service]\\nUser=root\"")),
		s("newline in the home", edit("  name: demo\n", "  name: demo\n  home: \"/opt/demo\\nroot::0:0::/:/bin/sh\"\n")),
		s("newline in read_write_paths", edit("[/srv/demo]", "[\"/srv/demo\\nReadWritePaths=/\"]")),
		s("backslash ending read_write_paths", edit("[/srv/demo]", `["/srv/demo\\"]`)),
		s("space in read_write_paths", edit("[/srv/demo]", `["/srv/demo /etc"]`)),
		s("specifier in state_directory", edit("state_directory: demo", "state_directory: \"%h\"")),
		s("dotdot in state_directory", edit("state_directory: demo", "state_directory: ../../etc")),
		s("newline in a check", edit(`"8000"]`, `"8000\n"]`)),
		s("relative check", edit("run: [/bin/true", "run: [true")),
		s("dotdot in a dest", edit("dest: /opt/demo/app.py", "dest: /opt/demo/../../etc/cron.d/x")),
		s("dest /etc/shadow", edit("dest: /opt/demo/app.py", "dest: /etc/shadow")),
		s("dest under /etc/systemd", edit("dest: /opt/demo/app.py", "dest: /etc/systemd/system/demo.service.d/zz.conf")),
		s("dest under /run", edit("dest: /opt/demo/app.py", "dest: /run/systemd/system/demo.service")),
		s("dest /proc", edit("path: /opt/demo", "path: /proc/sys/kernel")),
		s("dest under /usr/local/lib/systemd", edit("dest: /opt/demo/app.py", "dest: /usr/local/lib/systemd/system/demo.service.d/zz-override.conf")),
		s("source outside the plan", edit("source: app.py", "source: ../../etc/shadow")),
		s("source absolute", edit("source: app.py", "source: /etc/shadow")),
		s("source a symlink", edit("source: app.py", "source: link.py")),
		s("source a directory", edit("source: app.py", "source: sub")),
		s("source in a subdirectory", edit("source: app.py", "source: sub/app.py")),
		s("source the plan", edit("source: app.py", "source: plan.yaml")),
		s("unit name with a slash", edit("name: demo.service", "name: ../../etc/demo.service")),
		s("unit name with a newline", edit("name: demo.service", "name: \"demo\\n.service\"")),
		s("huge octal mode", edit(`mode: "0750"`, `mode: "077777777777777777777777"`)),
		s("huge decimal mode", edit(`mode: "0750"`, "mode: 18446744073709551617")),
		s("negative mode", edit(`mode: "0750"`, "mode: -1")),
		s("setuid mode", edit(`mode: "0750"`, `mode: "4755"`)),
		s("float mode", edit(`mode: "0750"`, "mode: 7.5e2")),
		s("NaN max_exposure", edit("max_exposure: 2.5", "max_exposure: .nan")),
		s("infinite max_exposure", edit("max_exposure: 2.5", "max_exposure: .inf")),
		s("huge timeout", edit("timeout: 10s", "timeout: 9999999999999999999h")),
		s("wrong type for vars", edit(`  port: "8000"`, "  port: [8000]")),
		s("wrong type for files", edit("files:\n", "files: yes\nx:\n")),
		s("duplicate key", edit("name: demo\n", "name: demo\nname: other\n")),
		s("duplicate var", edit(`  port: "8000"`, "  port: \"8000\"\n  port: \"9000\"")),
		s("two documents", seedPlan+"---\nname: other\n"),
		s("garbage after the document", seedPlan+"---\n{[\n"),
		s("document end marker", seedPlan+"...\n"),
		s("anchors and aliases", edit("packages: [python3]", "packages: &p [python3]\nx: *p")),
		s("merge key", edit("user:\n  name: demo\n", "user: &u\n  name: demo\n  <<: {home: /root}\n")),
		s("tagged values", edit(`port: "8000"`, "port: !!binary aGVsbG8K")),
		s("multi-line key", edit("name: demo\n", "name: demo\n? |\n  a\n  b\n: 1\n")),
		s("newline in a var name", edit(`  port: "8000"`, "  \"po\\nrt\": \"8000\"")),
		s("escape sequence in a var name", edit(`  port: "8000"`, "  \"\\e[2Jport\": \"8000\"")),
		{"undefined function", seedPlan, "[Service]\nExecStart={{ system \"id\" }}\n", seedApp, seedTmpl},
		{"undefined var", seedPlan, seedUnit, seedApp, "x = {{ .nope }}\n"},
		{"template with a newline in its error", seedPlan, seedUnit, seedApp, "{{ index `a\nb` 5 }}"},
		{"template producing a carriage return", seedPlan, "[Service]\nExecStart=/bin/true{{ printf \"%c\" 13 }}ExecStartPre=/bin/evil\n", seedApp, seedTmpl},
		{"template producing a newline", seedPlan, "[Service]\nExecStart=/bin/true{{ printf \"%c\" 10 }}ExecStartPre=/bin/evil\n", seedApp, seedTmpl},
		{"template producing an escape", seedPlan, "[Service]\nExecStart=/bin/true{{ printf \"%c\" 27 }}[2J\n", seedApp, seedTmpl},
		{"template producing CRLF", seedPlan, "[Service]{{ printf \"%c\" 13 }}\nExecStart=/bin/true\n", seedApp, seedTmpl},
		{"unit with NUL", seedPlan, "[Service]\nExecStart=/bin/true\x00\n", seedApp, seedTmpl},
		{"unit with CR in a line", seedPlan, "[Service]\nExecStart=/bin/true\rExecStartPre=/bin/evil\n", seedApp, seedTmpl},
		{"unit with LF CR", seedPlan, "[Service]\n\rExecStart=/bin/true\n", seedApp, seedTmpl},
		{"small range", seedPlan, seedUnit, seedApp, "{{ range 3 }}x{{ end }}\n"},
		{"recursive template", seedPlan, seedUnit, seedApp, `{{ define "a" }}{{ template "a" . }}{{ end }}{{ template "a" . }}`},
	}
}

func FuzzLoadPlan(f *testing.F) {
	shippedSeeds(f)
	for _, s := range hostileSeeds() {
		f.Add([]byte(s.plan), []byte(s.unit), []byte(s.app), []byte(s.tmpl))
	}
	f.Fuzz(func(t *testing.T, planYAML, unit, app, tmpl []byte) {
		p, err := load(t, fuzzFS(planYAML, unit, app, tmpl))
		if err != nil {
			checkError(t, p, err)
			return
		}
		checkPlan(t, p, planYAML)
	})
}

// FuzzRender fuzzes the template path: a plan whose unit and one file are
// templates, with fuzzed var values and template text. Load must neither
// panic nor hang; what it renders into the unit must still be a unit.
func FuzzRender(f *testing.F) {
	shippedTmpl, _ := fs.ReadFile(plans.FS, "vote-secret/gunicorn.conf.py")
	shippedUnit, _ := fs.ReadFile(plans.FS, "vote-secret/vote-secret.service")
	f.Add("8001", "120", string(shippedTmpl), string(shippedUnit))
	f.Add("8000", "x", seedTmpl, seedUnit)
	f.Add("8000\n", "", "{{ .port }}", "[Service]\nExecStart=/bin/true {{ .port }}\n")
	f.Add("", "", "{{ .nope }}", "[Service]\n")
	f.Add("1", "2", "{{ add .port 1 }}", "[Service]\n{{ printf \"%c\" 10 }}User=root\n")
	f.Add("1", "2", "{{ range 3 }}{{ . }}{{ end }}", "[Service]\n")
	f.Add("1", "2", "{{ if eq .port .other }}same{{ else }}{{ .other }}{{ end }}", "[Service]\nExecStart=/bin/echo {{ .other | printf \"%q\" }}\n")
	f.Add("1", "2", `{{ define "t" }}{{ . }}{{ end }}{{ template "t" .port }}{{ block "b" . }}x{{ end }}`, "[Service]\n")
	f.Add("1", "2", "{{ $x := 1 }}{{ $x = add $x $x }}{{ $x }}{{ with .port }}{{ . }}{{ end }}", "[Service]\n")
	f.Add("1", "2", "{{ slice .port 0 1 }}{{ index .port 0 }}{{ len .port }}{{ html .port }}{{ js .port }}{{ urlquery .port }}", "[Service]\n")
	f.Add("1", "2", "{{ call .port }}{{ .port.Method }}", "[Service]\n{{ print nil }}")
	f.Add("1", "2", "{{ range 1000000000 }}{{ end }}", "[Service]\n")
	f.Add("1", "2", "{{ range 100000000 }}xxxxxxxxxx{{ end }}", "[Service]\n")
	f.Add("1", "2", `{{ define "a" }}{{ if lt . 30 }}{{ template "a" (add . 1) }}{{ template "a" (add . 1) }}{{ end }}{{ end }}{{ template "a" 0 }}`, "[Service]\n")
	f.Add("1", "2", "{{ printf \""+strings.Repeat("%999999d", 100)+"\" "+strings.Repeat("1 ", 100)+"}}", "[Service]\n")
	f.Fuzz(func(t *testing.T, port, other, tmpl, unit string) {
		vars, err := yaml.Marshal(map[string]any{"vars": map[string]string{"port": port, "other": other}})
		if err != nil {
			t.Skip()
		}
		planYAML := "name: render\nfiles:\n  - {source: conf.tmpl, dest: /opt/render/conf.py, template: true}\n" +
			"unit: {name: demo.service, template: true}\n" + string(vars)
		p, err := load(t, fuzzFS([]byte(planYAML), []byte(unit), []byte(seedApp), []byte(tmpl)))
		if err != nil {
			checkError(t, p, err)
			return
		}
		checkPlan(t, p, []byte(planYAML))
		if len(p.Files) != 1 {
			t.Fatalf("rendered %d files, want 1", len(p.Files))
		}
		if len(p.Files[0].Content) > plan.MaxSourceSize || len(p.UnitContent) > plan.MaxSourceSize {
			t.Errorf("rendered a file of %d bytes and a unit of %d bytes", len(p.Files[0].Content), len(p.UnitContent))
		}
	})
}
