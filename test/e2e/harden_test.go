//go:build e2e

package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// exposure is systemd-analyze security's overall score for unit, on the host.
func (h *Host) exposure(unit string) float64 {
	h.t.Helper()
	out := h.MustRun("systemd-analyze", "security", "--no-pager", unit)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Overall exposure level for "+unit) {
			f := strings.Fields(strings.SplitN(line, ":", 2)[1])
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				h.t.Fatal(line)
			}
			return v
		}
	}
	h.t.Fatalf("no overall exposure in:\n%s", out)
	return 0
}

// The shipped plans' units score <= 2.0 on the live host and still serve.
func TestShippedUnitsAreHardenedAndServe(t *testing.T) {
	h := NewHost(t)
	for _, c := range []struct{ plan, unit, url, want string }{
		{"notifydemo", "notifydemo.service", "http://127.0.0.1:5001/health", "OK\n"},
		{"vote-secret", "vote-secret.service", "http://127.0.0.1:8001/api/health", `{"status":"ok"}`},
	} {
		_, stderr, code := h.Notifyctl("install", c.plan)
		if code != 0 || !strings.Contains(stderr, "exposure 1.") {
			t.Fatalf("install %s: exit %d\n%s", c.plan, code, stderr)
		}
		if got := h.exposure(c.unit); got > 2.0 {
			t.Errorf("%s scores %.1f on the host, want <= 2.0", c.unit, got)
		} else {
			t.Logf("%s: exposure %.1f on the host", c.unit, got)
		}
		if got := h.MustRun("curl", "-fsS", c.url); got != c.want {
			t.Errorf("%s answered %q", c.url, got)
		}
		for prop, want := range map[string]string{"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": ""} {
			if got := h.Prop(c.unit, prop); got != want {
				t.Errorf("%s %s = %q, want %q", c.unit, prop, got, want)
			}
		}
	}
}

// A plan above its maximum exposure, or whose unit does not verify, is
// refused before anything changes, with the score or systemd's own message.
func TestExposureGateAndVerify(t *testing.T) {
	h := NewHost(t)
	dir := h.copyPlan("/root/plan")
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		return strings.Replace(s, "  profile: strict\n", "  profile: none\n", 1)
	})
	pristine := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir)
	if code != 2 || !strings.Contains(stderr, "above hardening.max_exposure 2.0") || !strings.Contains(stderr, "nothing was changed") {
		t.Errorf("install of an unhardened unit with max_exposure 2.0: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a refused install", pristine, h.Snapshot())

	dir = h.copyPlan("/root/typo")
	h.editPlanFile(dir+"/notifydemo.service", func(s string) string {
		return strings.Replace(s, "Type=notify", "Tpye=notify", 1)
	})
	pristine = h.Snapshot()
	_, stderr, code = h.Notifyctl("install", dir)
	if code != 2 || !strings.Contains(stderr, "Unknown key") || !strings.Contains(stderr, "Tpye") {
		t.Errorf("install of a unit with a typo: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a refused install", pristine, h.Snapshot())
}

// Hostile plans and hosts: each refused with exit 2 and one line naming what
// is wrong, the host untouched.
func TestHostileInputRefused(t *testing.T) {
	h := NewHost(t)
	for _, c := range []struct {
		name       string
		file, from string
		to, want   string
	}{
		{"a destination in /etc/shadow", "plan.yaml", "dest: /opt/notifydemo/app.py", "dest: /etc/shadow", "files[0].dest: /etc/shadow is a system file"},
		{"a destination with ..", "plan.yaml", "dest: /opt/notifydemo/app.py", "dest: /opt/notifydemo/../../etc/cron.d/x", "files[0].dest"},
		{"a destination in the journal's directory", "plan.yaml", "dest: /opt/notifydemo/app.py", "dest: /var/lib/notifyctl/x", "under /var/lib/notifyctl"},
		{"unit injection through a var", "plan.yaml", "name: notifydemo\n", "name: notifydemo\nvars:\n  port: \"5001\\nExecStartPre=/bin/sh -c id\"\n", "vars.port: must be one line"},
		{"injection through hardening", "plan.yaml", "  profile: strict\n", "  profile: strict\n  read_write_paths: [\"/srv/x\\nExecStartPre=/bin/sh\"]\n", "hardening"},
		{"a setuid mode", "plan.yaml", "    mode: \"0755\"\n\n# Installed", "    mode: \"4755\"\n\n# Installed", "setuid"},
		{"an invalid user name", "plan.yaml", "  name: notifydemo\n  group", "  name: \"root;rm\"\n  group", "user.name"},
		{"an empty plan", "plan.yaml", "", "", "empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := h.copyPlan("/root/hostile")
			if c.name == "an empty plan" {
				h.WriteFile(dir+"/plan.yaml", nil, 0o644)
			} else {
				h.editPlanFile(dir+"/"+c.file, func(s string) string {
					if !strings.Contains(s, c.from) {
						t.Fatalf("the plan lacks %q", c.from)
					}
					return strings.Replace(s, c.from, c.to, 1)
				})
			}
			pristine := h.Snapshot()
			_, stderr, code := h.Notifyctl("install", dir)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, "/root/hostile/plan.yaml") || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want 2 and one line naming the plan file and %q:\n%s", code, c.want, stderr)
			}
			assertSame(t, c.name, pristine, h.Snapshot())
			h.MustRun("rm", "-r", "/root/hostile")
		})
	}
}

// Symlinks planted before install, or between install and uninstall, are
// never followed: install refuses, uninstall leaves what they point to.
func TestPlantedSymlinks(t *testing.T) {
	h := NewHost(t)
	// The unit path pointing at another file.
	h.MustRun("ln", "-s", "/etc/hostname", "/etc/systemd/system/notifydemo.service")
	hostname := h.MustRun("cat", "/etc/hostname")
	_, stderr, code := h.Notifyctl("install")
	if code != 2 || !strings.Contains(stderr, "symlink") {
		t.Errorf("install with the unit path a symlink: exit %d\n%s", code, stderr)
	}
	if h.MustRun("cat", "/etc/hostname") != hostname {
		t.Errorf("/etc/hostname was written through the symlink")
	}
	h.MustRun("rm", "/etc/systemd/system/notifydemo.service")

	// Installed, then /opt/notifydemo swapped for a symlink to /etc: uninstall
	// must not remove /etc/app.py or anything else there.
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install")
	h.MustRun("sh", "-c", "mv /opt/notifydemo /opt/notifydemo.real && ln -s /root/decoy /opt/notifydemo && mkdir /root/decoy && echo mine > /root/decoy/app.py")
	_, stderr, code = h.Notifyctl("uninstall")
	if code == 0 {
		t.Errorf("uninstall through a planted symlink succeeded:\n%s", stderr)
	}
	if !strings.Contains(stderr, "symlink") {
		t.Errorf("uninstall does not name the symlink:\n%s", stderr)
	}
	if got := h.MustRun("cat", "/root/decoy/app.py"); got != "mine\n" {
		t.Errorf("uninstall removed or changed a file behind the symlink: %q", got)
	}
	// With the symlink gone, uninstall finishes the job.
	h.MustRun("sh", "-c", "rm /opt/notifydemo && rm -r /root/decoy && mv /opt/notifydemo.real /opt/notifydemo")
	h.notifyctlJSON(0, "uninstall")
	assertSame(t, "install, a planted symlink, uninstall twice", pristine, h.Snapshot())
}

// A plan may not take over what another installed plan owns.
func TestPlanCannotTakeAnotherPlansFiles(t *testing.T) {
	h := NewHost(t)
	h.notifyctlJSON(0, "install")
	dir := h.copyPlan("/root/thief")
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		return strings.Replace(s, "name: notifydemo\n", "name: thief\n", 1)
	})
	before := h.Snapshot()
	_, stderr, code := h.Notifyctl("install", dir)
	if code != 2 || !strings.Contains(stderr, "belongs to the installed plan notifydemo") || !strings.Contains(stderr, "/root/thief/plan.yaml") {
		t.Fatalf("install of a plan claiming notifydemo's files: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a refused install", before, h.Snapshot())
}

// unhardenedPlan copies notifydemo's plan to dir with hardening profile
// "none" and no exposure gate.
func (h *Host) unhardenedPlan(dir string) string {
	h.t.Helper()
	dir = h.copyPlan(dir)
	h.editPlanFile(dir+"/plan.yaml", func(s string) string {
		s = strings.Replace(s, "  profile: strict\n", "  profile: none\n", 1)
		return strings.Replace(s, "  max_exposure: 2.0\n", "", 1)
	})
	return dir
}

// A plan whose hardening profile becomes "none" loses its drop-in on the
// next install: the service is restarted without the sandbox, and still
// passes the exposure gate first.
func TestProfileNoneRemovesTheDropIn(t *testing.T) {
	h := NewHost(t)
	strict := h.copyPlan("/root/strict")
	gated := h.copyPlan("/root/gated")
	h.editPlanFile(gated+"/plan.yaml", func(s string) string {
		return strings.Replace(s, "  profile: strict\n", "  profile: none\n", 1)
	})
	none := h.unhardenedPlan("/root/none")
	pristine := h.Snapshot()
	h.notifyctlJSON(0, "install", strict)
	before := h.Prop("notifydemo.service", "MainPID")

	// Still with max_exposure 2.0: refused, and nothing changed.
	installed := h.Snapshot()
	if _, stderr, code := h.Notifyctl("install", gated); code != 2 || !strings.Contains(stderr, "above hardening.max_exposure") {
		t.Errorf("install without the drop-in, max_exposure 2.0: exit %d\n%s", code, stderr)
	}
	assertSame(t, "a refused install", installed, h.Snapshot())

	// status names what install would remove, not what follows from it.
	if stdout, _, code := h.Notifyctl("status", none); code != 3 || !strings.Contains(stdout, "remove     unit /etc/systemd/system/notifydemo.service.d/50-notifyctl-hardening.conf") || strings.Contains(stdout, "daemon-reload") {
		t.Errorf("status before the install: exit %d, want 3 naming the drop-in and no reload\n%s", code, stdout)
	}
	out := h.notifyctlJSON(0, "install", none)
	var removed []string
	for _, s := range out.Steps {
		if s.Action == "remove" {
			removed = append(removed, s.Name)
		}
	}
	want := []string{
		"unit /etc/systemd/system/notifydemo.service.d/50-notifyctl-hardening.conf",
		"directory /etc/systemd/system/notifydemo.service.d",
	}
	if strings.Join(removed, ";") != strings.Join(want, ";") {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if _, _, code := h.Run("test", "-e", "/etc/systemd/system/notifydemo.service.d"); code == 0 {
		t.Error("the drop-in directory is left")
	}
	if got := h.Prop("notifydemo.service", "ProtectSystem"); got != "no" {
		t.Errorf("ProtectSystem = %q after the drop-in went, want no", got)
	}
	if got := h.Prop("notifydemo.service", "MainPID"); got == before || got == "0" {
		t.Errorf("MainPID %s (before %s): the service was not restarted", got, before)
	}
	if got := h.MustRun("curl", "-fsS", "http://127.0.0.1:5001/health"); got != "OK\n" {
		t.Errorf("/health answered %q", got)
	}
	if out := h.notifyctlJSON(0, "install", none); out.Changed != 0 {
		t.Errorf("a rerun changed %d step(s)", out.Changed)
	}
	h.notifyctlJSON(0, "uninstall", none)
	assertSame(t, "after uninstall", pristine, h.Snapshot())
}
