package lint_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/notifyctl/notifyctl/pkg/lint"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

const planYAML = `name: demo
files:
  - source: run.sh
    dest: /opt/demo/run.sh
    mode: "0755"
  - source: app.py
    dest: /opt/demo/app.py
unit:
  name: demo.service
`

func load(t *testing.T, unit, script, app string) *plan.Plan {
	t.Helper()
	p, err := plan.Load(fstest.MapFS{
		"plan.yaml":    {Data: []byte(planYAML)},
		"demo.service": {Data: []byte(unit)},
		"run.sh":       {Data: []byte(script)},
		"app.py":       {Data: []byte(app)},
	}, "plan.yaml", "plan.yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	notifyingScript = "#!/bin/bash\npython3 /opt/demo/app.py &\n# wait for it\nsystemd-notify --ready\nwait\n"
	execScript      = "#!/bin/sh\nexec python3 /opt/demo/app.py\n"
	plainApp        = "print('hello')\n"
)

func TestReadinessWarnings(t *testing.T) {
	for _, c := range []struct {
		name, unit, script, app string
		want                    []string // substrings, one per expected warning
	}{
		{"seed: script notifies through a child, NotifyAccess=all",
			"[Service]\nType=notify\nNotifyAccess=all\nExecStart=/opt/demo/run.sh\n", notifyingScript, plainApp,
			[]string{"runs systemd-notify as a child"}},
		{"notifying child with the default NotifyAccess=main",
			"[Service]\nType=notify\nExecStart=/opt/demo/run.sh\n", notifyingScript, plainApp,
			[]string{"runs systemd-notify as a child", "NotifyAccess=main, but READY=1 comes from a child"}},
		{"nothing notifies",
			"[Service]\nType=notify\nExecStart=/opt/demo/run.sh\n", execScript, plainApp,
			[]string{"nothing in the plan sends READY=1"}},
		{"an interpreter running a plan file that does not notify",
			"[Service]\nType=notify\nExecStart=/usr/bin/python3 /opt/demo/app.py\n", execScript, plainApp,
			[]string{"nothing in the plan sends READY=1"}},
		{"the app notifies by itself",
			"[Service]\nType=notify\nExecStart=/usr/bin/python3 /opt/demo/app.py\n", execScript, "import sdnotify\n", nil},
		{"notifyctl run", "[Service]\nType=notify\nExecStart=/opt/demo/notifyctl run --http http://x/ -- python3 app.py\n", execScript, plainApp, nil},
		{"gunicorn notifies itself", "[Service]\nType=notify\nExecStart=/usr/bin/gunicorn app:app\n", execScript, plainApp, nil},
		{"not Type=notify", "[Service]\nType=exec\nExecStart=/opt/demo/run.sh\n", notifyingScript, plainApp, nil},
		{"a binary from elsewhere may notify", "[Service]\nType=notify\nExecStart=/usr/sbin/mydaemon\n", execScript, plainApp, nil},
		{"continued ExecStart line",
			"[Service]\nType=notify\nExecStart=/opt/demo/run.sh \\\n  --flag\n", notifyingScript, plainApp,
			[]string{"child", "NotifyAccess=main"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := lint.Readiness(load(t, c.unit, c.script, c.app))
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d matching %q", got, len(c.want), c.want)
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "demo.service: ") {
					t.Errorf("warning %d = %q, want it to name the unit and contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestShippedPlansHaveNoWarnings(t *testing.T) {
	for _, name := range plan.Embedded(plans.FS) {
		p, err := plan.Resolve(name, plans.FS, plans.Default)
		if err != nil {
			t.Fatal(err)
		}
		if w := lint.Readiness(p); len(w) != 0 {
			t.Errorf("%s: %q", name, w)
		}
	}
}
