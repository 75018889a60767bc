package lint_test

// FuzzParseUnit: ParseUnit reads any unit file without panicking, and what
// it returns is what it says: one-line Type= and NotifyAccess= values and an
// ExecStart= split on blanks.
//
//	go test -run '^$' -fuzz '^FuzzParseUnit$' -fuzztime 60s ./pkg/lint

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/lint"
	"github.com/notifyctl/notifyctl/plans"
)

func FuzzParseUnit(f *testing.F) {
	units, _ := fs.Glob(plans.FS, "*/*.service")
	for _, u := range units {
		b, err := fs.ReadFile(plans.FS, u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"[Service]\nType=notify\nExecStart=\n",
		"[Service]\nType=notify\nNotifyAccess=all\nExecStart=-@:+!/bin/sh -c 'exec systemd-notify --ready'\n",
		"[Service]\r\nType=notify\r\nExecStart=/opt/app/run.sh \\\r\n  --port 8000\r\n",
		"[Service]\nExecStart=/bin/a \\\n  --b \\\n\nExecStart=/bin/c\n",
		"[Unit]\nExecStart=/bin/nope\n[Service]\n; ExecStart=/bin/comment\n# Type=simple\n  Type = exec  \n",
		"[Service]\nExecStart=-\nExecStart=@\n=\n[\n",
		"[Service]\nExecStart=! !\n",
		"[Service]\nExecStart=\u00a0/bin/nbsp\u2028x\n",
		"\xff\xfe[Service]\x00\nType=\x1bnotify\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, unit []byte) {
		u := lint.ParseUnit(unit)
		for _, v := range []string{u.Type, u.NotifyAccess} {
			if strings.Contains(v, "\n") || v != strings.TrimSpace(v) {
				t.Errorf("value %q is not one trimmed line", v)
			}
		}
		for _, a := range u.ExecStart {
			if a == "" || len(strings.Fields(a)) != 1 {
				t.Errorf("ExecStart word %q is not one word", a)
			}
		}
		if !strings.Contains(string(unit), "[Service]") && (u.Type != "" || u.NotifyAccess != "" || u.ExecStart != nil) {
			t.Errorf("read %+v from a unit without [Service]", u)
		}
	})
}
