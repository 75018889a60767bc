package harden_test

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"strings"
	"testing"

	"github.com/notifyctl/notifyctl/pkg/harden"
	"github.com/notifyctl/notifyctl/plans"
)

func TestProfiles(t *testing.T) {
	strict, err := harden.Profile("strict")
	if err != nil || len(strict) == 0 {
		t.Fatalf(`Profile("strict") = %d directives, %v`, len(strict), err)
	}
	seen := map[string]bool{}
	for _, d := range strict {
		if d.Why == "" || strings.ContainsAny(d.Why, "\n\r") {
			t.Errorf("%s: Why must be one line: %q", d.Key, d.Why)
		}
		if seen[d.Key] {
			t.Errorf("%s is set twice", d.Key)
		}
		seen[d.Key] = true
	}
	strict[0].Value = "changed"
	if again, _ := harden.Profile("strict"); again[0].Value == "changed" {
		t.Error("Profile returns the profile itself, not a copy")
	}

	if none, err := harden.Profile("none"); err != nil || len(none) != 0 {
		t.Errorf(`Profile("none") = %v, %v; want nothing`, none, err)
	}
	if _, err := harden.Profile("paranoid"); err == nil || !strings.Contains(err.Error(), `"paranoid"`) {
		t.Errorf(`Profile("paranoid") error = %v, want an unknown profile error`, err)
	}
	if _, err := harden.DropIn(harden.Options{Profile: "paranoid"}); err == nil {
		t.Error(`DropIn with profile "paranoid" did not fail`)
	}
}

func TestDropInNoneIsEmpty(t *testing.T) {
	b, err := harden.DropIn(harden.Options{Profile: "none"})
	if err != nil || len(b) != 0 {
		t.Fatalf("DropIn(none) = %q, %v; want empty", b, err)
	}
	if _, err := harden.DropIn(harden.Options{Profile: "none", StateDirectory: "app"}); err == nil {
		t.Error("DropIn(none) accepted a StateDirectory it would not render")
	}
}

func TestDropInFormat(t *testing.T) {
	b, err := harden.DropIn(harden.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if !strings.HasPrefix(lines[0], "# ") || lines[1] != "[Service]" {
		t.Fatalf("drop-in must start with a comment and [Service]:\n%s", b)
	}
	strict, _ := harden.Profile("strict")
	body := lines[2:]
	if len(body) != 2*len(strict) {
		t.Fatalf("want a comment and a directive for each of %d directives, got %d lines:\n%s", len(strict), len(body), b)
	}
	for i, d := range strict {
		if body[2*i] != "# "+d.Why || body[2*i+1] != d.Key+"="+d.Value {
			t.Errorf("directive %d: got %q / %q, want %s=%s under its Why", i, body[2*i], body[2*i+1], d.Key, d.Value)
		}
	}
}

func TestDropInOptions(t *testing.T) {
	b, err := harden.DropIn(harden.Options{
		Disable:            []string{"ProtectHome"},
		ReadWritePaths:     []string{"/srv/app/uploads", "/var/cache/app"},
		StateDirectory:     "app",
		LogsDirectory:      "app",
		RuntimeDirectory:   "app/sockets",
		BindPrivilegedPort: true,
		IPAddressAllow:     []string{"localhost", "10.0.0.0/8"},
		DenyWriteExecute:   true,
		UMask:              "0027",
	})
	if err != nil {
		t.Fatal(err)
	}
	directives := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			directives[k] = append(directives[k], v)
		}
	}
	for key, want := range map[string]string{
		"ReadWritePaths":         "/srv/app/uploads /var/cache/app",
		"StateDirectory":         "app",
		"LogsDirectory":          "app",
		"RuntimeDirectory":       "app/sockets",
		"CapabilityBoundingSet":  "CAP_NET_BIND_SERVICE",
		"AmbientCapabilities":    "CAP_NET_BIND_SERVICE",
		"PrivateUsers":           "no",
		"IPAddressDeny":          "any",
		"IPAddressAllow":         "localhost 10.0.0.0/8",
		"MemoryDenyWriteExecute": "yes",
		"UMask":                  "0027",
		"NoNewPrivileges":        "yes",
	} {
		if got := directives[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want once %q", key, got, want)
		}
	}
	if v, ok := directives["ProtectHome"]; ok {
		t.Errorf("disabled ProtectHome is still set: %q", v)
	}
}

func TestDropInRefusesWhatEscapesItsLine(t *testing.T) {
	for _, tc := range []struct {
		opts harden.Options
		want string
	}{
		{harden.Options{ReadWritePaths: []string{"/var/lib/x\nExecStartPre=/bin/sh"}}, "ReadWritePaths[0]: \"/var/lib/x\\nExecStartPre=/bin/sh\": it holds the control character U+000A"},
		{harden.Options{ReadWritePaths: []string{"/var/lib/x\\"}}, "backslash"},
		{harden.Options{ReadWritePaths: []string{"/var/lib/a b"}}, "not a plain absolute path"},
		{harden.Options{ReadWritePaths: []string{"/var/lib/%h"}}, "not a plain absolute path"},
		{harden.Options{ReadWritePaths: []string{"var/lib/x"}}, "not a plain absolute path"},
		{harden.Options{ReadWritePaths: []string{"/var/lib/../x"}}, "not a clean path"},
		{harden.Options{StateDirectory: "../etc"}, "must stay below /var/lib"},
		{harden.Options{LogsDirectory: "/var/log/app"}, "not a plain directory name"},
		{harden.Options{RuntimeDirectory: "app\r"}, "control character U+000D"},
		{harden.Options{IPAddressAllow: []string{"localhost\nExecStartPre=/bin/sh"}}, "control character"},
		{harden.Options{UMask: "0777\n"}, "control character"},
		{harden.Options{UMask: "77"}, "not an octal umask"},
		{harden.Options{Disable: []string{"PrivateNetwork"}}, `profile "strict" sets no "PrivateNetwork"`},
	} {
		b, err := harden.DropIn(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DropIn(%+v) = %q, %v; want an error with %q", tc.opts, b, err, tc.want)
		}
	}
}

func needAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian: the systemd package)")
	}
}

func notifydemo(t *testing.T) []byte {
	t.Helper()
	b, err := fs.ReadFile(plans.FS, "notifydemo/notifydemo.service")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustDropIn(t *testing.T, opts harden.Options) []byte {
	t.Helper()
	b, err := harden.DropIn(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExposure(t *testing.T) {
	needAnalyze(t)
	ctx := context.Background()
	unit := notifydemo(t)

	bare, failed, err := harden.Exposure(ctx, "notifydemo.service", unit, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("notifydemo.service as shipped: %.1f, worst: %q", bare, failed[:3])
	if bare < 9 { // 9.2 with systemd 252
		t.Errorf("notifydemo.service without hardening scores %.1f, want above 9", bare)
	}
	for i := 1; i < len(failed); i++ {
		if failed[i-1][:3] < failed[i][:3] {
			t.Errorf("failed checks not sorted, most exposing first: %q before %q", failed[i-1], failed[i])
		}
	}

	for _, opts := range []harden.Options{
		{},
		{BindPrivilegedPort: true, StateDirectory: "notifydemo", LogsDirectory: "notifydemo"},
	} {
		score, failed, err := harden.Exposure(ctx, "notifydemo.service", unit, mustDropIn(t, opts))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("with %+v: %.1f, failed: %q", opts, score, failed)
		if score > 2.0 {
			t.Errorf("with %+v: exposure %.1f, want at most 2.0", opts, score)
		}
		if len(failed) == 0 || !strings.HasPrefix(failed[0], "0.5 PrivateNetwork=  Service has access") {
			t.Errorf("with %+v: want PrivateNetwork= as the worst failed check, got %q", opts, failed)
		}
	}

	none := mustDropIn(t, harden.Options{Profile: "none"})
	if score, _, err := harden.Exposure(ctx, "notifydemo.service", unit, none); err != nil || score != bare {
		t.Errorf("with profile none: %.1f, %v; want %.1f as without a drop-in", score, err, bare)
	}
}

func TestExposureOfABrokenUnit(t *testing.T) {
	needAnalyze(t)
	_, _, err := harden.Exposure(context.Background(), "x.service", []byte("[Service]\nType=simple\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "has no ExecStart=") {
		t.Errorf("Exposure of a unit without ExecStart= = %v, want systemd's refusal", err)
	}
	for _, name := range []string{"../x.service", "x.socket", ""} {
		if _, _, err := harden.Exposure(context.Background(), name, notifydemo(t), nil); err == nil {
			t.Errorf("Exposure(%q) did not fail", name)
		}
	}
}

func TestVerify(t *testing.T) {
	needAnalyze(t)
	ctx := context.Background()
	unit := notifydemo(t)
	full := mustDropIn(t, harden.Options{
		ReadWritePaths: []string{"/srv/x"}, StateDirectory: "x", LogsDirectory: "x", RuntimeDirectory: "x",
		BindPrivilegedPort: true, IPAddressAllow: []string{"localhost"}, DenyWriteExecute: true, UMask: "0027",
	})

	// Good units pass, although their commands (/opt/notifydemo/notifyctl)
	// are not installed yet.
	for name, dropIn := range map[string][]byte{
		"no drop-in":           nil,
		"strict":               mustDropIn(t, harden.Options{}),
		"every option":         full,
		"profile none (empty)": mustDropIn(t, harden.Options{Profile: "none"}),
	} {
		if err := harden.Verify(ctx, "notifydemo.service", unit, dropIn); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	for _, tc := range []struct {
		name         string
		unit, dropIn []byte
		want         string
	}{
		{"typo", []byte(strings.Replace(string(unit), "Type=notify", "Tpye=notify", 1)), nil,
			"/etc/systemd/system/notifydemo.service:9: Unknown key 'Tpye' in section [Service], ignoring."},
		{"bad value", []byte(strings.Replace(string(unit), "RestartSec=2", "RestartSec=2 minutes please", 1)), nil,
			"/etc/systemd/system/notifydemo.service:21: Failed to parse"},
		{"bad drop-in", unit, []byte("[Service]\nProtectSystem=strictly\n"),
			"/etc/systemd/system/notifydemo.service.d/50-notifyctl-hardening.conf:2: Failed to parse protect system value, ignoring: strictly"},
		{"no ExecStart", []byte("[Service]\nType=notify\n"), nil,
			"Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing."},
	} {
		err := harden.Verify(ctx, "notifydemo.service", tc.unit, tc.dropIn)
		var ve *harden.VerifyError
		if !errors.As(err, &ve) {
			t.Errorf("%s: Verify = %v, want a *VerifyError", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v\nwant systemd's message %q", tc.name, err, tc.want)
		}
		for _, l := range ve.Lines {
			if strings.Contains(l, "notifyctl-harden-") || strings.Contains(l, "is not executable") {
				t.Errorf("%s: message should neither name the temporary root nor the uninstalled command: %q", tc.name, l)
			}
		}
	}
}
