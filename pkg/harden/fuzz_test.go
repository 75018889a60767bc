package harden_test

// FuzzDropIn: whatever a plan's hardening options hold, DropIn either refuses
// them with one line, or renders a drop-in systemd reads exactly as written:
// a comment, [Service], then a comment and one Key=Value per directive, with
// no value escaping its line, continuing onto the next or expanding a
// specifier.
//
//	go test -run '^$' -fuzz '^FuzzDropIn$' -fuzztime 60s ./pkg/harden

import (
	"path"
	"strings"
	"testing"
	"unicode"

	"github.com/notifyctl/notifyctl/pkg/harden"
)

// listSep separates the elements of a fuzzed list option: a control
// character, which no valid element holds anyway.
const listSep = "\x1e"

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, listSep)
}

// optionKeys are the keys the options set, replacing the profile's.
var optionKeys = []string{"ReadWritePaths", "StateDirectory", "LogsDirectory", "RuntimeDirectory",
	"CapabilityBoundingSet", "AmbientCapabilities", "PrivateUsers", "IPAddressDeny", "IPAddressAllow",
	"MemoryDenyWriteExecute", "UMask"}

func FuzzDropIn(f *testing.F) {
	// profile, disable, read-write paths, state, logs, runtime directory,
	// umask, IP allow list, bind privileged port, deny write+execute.
	f.Add("", "", "", "", "", "", "", "", false, false)
	f.Add("strict", "", "", "", "", "", "", "", false, false)
	f.Add("none", "", "", "", "", "", "", "", false, false)
	f.Add("none", "", "", "app", "", "", "", "", false, false)
	f.Add("paranoid", "", "", "", "", "", "", "", false, false)
	f.Add("strict", "ProtectHome"+listSep+"PrivateUsers", "/srv/app/uploads"+listSep+"/var/cache/app", "app", "app", "app/sockets", "0027", "localhost"+listSep+"10.0.0.0/8", true, true)
	f.Add("", "UMask", "", "", "", "", "0022", "", false, false)
	f.Add("", "PrivateUsers", "", "", "", "", "", "", true, false)
	f.Add("", "ProtectHome"+listSep+"ProtectHome", "", "", "", "", "", "", false, false)
	f.Add("", "PrivateNetwork", "", "", "", "", "", "", false, false)
	f.Add("", "", "/var/lib/x\nExecStartPre=/bin/sh", "", "", "", "", "", false, false)
	f.Add("", "", "/var/lib/x\\", "", "", "", "", "", false, false)
	f.Add("", "", "/var/lib/a b", "", "", "", "", "", false, false)
	f.Add("", "", "/var/lib/%h", "", "", "", "", "", false, false)
	f.Add("", "", "/var/lib/../x", "", "", "", "", "", false, false)
	f.Add("", "", "/", "", "", "", "", "", false, false)
	f.Add("", "", "/srv/a"+listSep, "", "", "", "", "", false, false)
	f.Add("", "", "", "../etc", "/var/log/app", "app\r", "", "", false, false)
	f.Add("", "", "", "app/./x", "a//b", "app/", "", "", false, false)
	f.Add("", "", "", "app\u0085x", "app\u2028x", "%n", "", "", false, false)
	f.Add("", "", "", "", "", "", "0777\n", "", false, false)
	f.Add("", "", "", "", "", "", "77", "", false, false)
	f.Add("", "", "", "", "", "", "", "localhost\nExecStartPre=/bin/sh", false, false)
	f.Add("", "", "", "", "", "", "", "any"+listSep+"::1/128"+listSep+"link-local", false, false)
	f.Add("", "", "", "", "", "", "", "-", false, false)
	f.Add("strict\n", "Protect\x00Home", "\xff", "\\", "a\\", "\t", "007\\", "1.2.3.4\\", true, true)
	f.Fuzz(func(t *testing.T, profile, disable, rw, state, logs, runtime, umask, ips string, bind, dwx bool) {
		opts := harden.Options{
			Profile: profile, Disable: list(disable), ReadWritePaths: list(rw),
			StateDirectory: state, LogsDirectory: logs, RuntimeDirectory: runtime,
			UMask: umask, IPAddressAllow: list(ips), BindPrivilegedPort: bind, DenyWriteExecute: dwx,
		}
		b, err := harden.DropIn(opts)
		if err != nil {
			if b != nil {
				t.Errorf("DropIn returned %q along with %v", b, err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || strings.IndexFunc(msg, unicode.IsControl) >= 0 {
				t.Errorf("error is not one plain line: %q", msg)
			}
			return
		}
		if profile == "none" {
			if len(b) != 0 {
				t.Errorf("profile none rendered %q", b)
			}
			return
		}
		checkDropIn(t, opts, b)
	})
}

func checkDropIn(t *testing.T, opts harden.Options, b []byte) {
	t.Helper()
	name := opts.Profile
	if name == "" {
		name = harden.DefaultProfile
	}
	profile, err := harden.Profile(name)
	if err != nil {
		t.Fatalf("DropIn accepted profile %q that Profile refuses: %v", name, err)
	}
	known := map[string]bool{}
	for _, d := range profile {
		known[d.Key] = true
	}
	for _, k := range optionKeys {
		known[k] = true
	}
	if i := strings.IndexFunc(string(b), func(r rune) bool { return r != '\n' && unicode.IsControl(r) }); i >= 0 {
		t.Fatalf("drop-in holds a control character at byte %d:\n%q", i, b)
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Fatalf("drop-in does not end with a newline: %q", b)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "# ") || lines[1] != "[Service]" {
		t.Fatalf("drop-in must start with a comment and [Service]:\n%s", b)
	}
	body := lines[2:]
	if len(body)%2 != 0 {
		t.Fatalf("drop-in body is not comment/directive pairs:\n%s", b)
	}
	values := map[string]string{}
	for i := 0; i < len(body); i += 2 {
		why, line := body[i], body[i+1]
		if !strings.HasPrefix(why, "# ") {
			t.Errorf("line %q is not the comment of the directive after it", why)
		}
		for _, l := range []string{why, line} {
			if strings.HasSuffix(l, `\`) {
				t.Errorf("line %q continues onto the next", l)
			}
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || !known[key] {
			t.Errorf("line %q is not Key=Value with a known key", line)
			continue
		}
		if _, dup := values[key]; dup {
			t.Errorf("%s is set twice", key)
		}
		values[key] = value
		if strings.ContainsAny(value, "%\\\"'") || value != strings.TrimSpace(value) {
			t.Errorf("line %q holds a specifier, escape, quote or edge blank", line)
		}
	}

	// What the options ask for is there, verbatim, and checked.
	want := map[string]string{}
	if len(opts.ReadWritePaths) > 0 {
		want["ReadWritePaths"] = strings.Join(opts.ReadWritePaths, " ")
		for _, p := range opts.ReadWritePaths {
			if !path.IsAbs(p) || path.Clean(p) != p || strings.ContainsAny(p, " \t") {
				t.Errorf("read-write path %q was accepted", p)
			}
		}
	}
	for key, dir := range map[string]string{"StateDirectory": opts.StateDirectory, "LogsDirectory": opts.LogsDirectory, "RuntimeDirectory": opts.RuntimeDirectory} {
		if dir == "" {
			continue
		}
		want[key] = dir
		if path.IsAbs(dir) || path.Clean(dir) != dir || dir == "." || strings.HasPrefix(dir, "../") || dir == ".." || strings.Contains(dir, "/../") || strings.HasSuffix(dir, "/..") {
			t.Errorf("%s %q was accepted: it must stay below its base directory", key, dir)
		}
	}
	if opts.BindPrivilegedPort {
		want["CapabilityBoundingSet"] = "CAP_NET_BIND_SERVICE"
		want["AmbientCapabilities"] = "CAP_NET_BIND_SERVICE"
		want["PrivateUsers"] = "no"
	}
	if len(opts.IPAddressAllow) > 0 {
		want["IPAddressDeny"] = "any"
		want["IPAddressAllow"] = strings.Join(opts.IPAddressAllow, " ")
	}
	if opts.DenyWriteExecute {
		want["MemoryDenyWriteExecute"] = "yes"
	}
	if opts.UMask != "" {
		want["UMask"] = opts.UMask
	}
	for key, v := range want {
		if got, ok := values[key]; !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", key, got, ok, v)
		}
	}
	for _, key := range opts.Disable {
		if _, set := want[key]; !set {
			if v, ok := values[key]; ok {
				t.Errorf("disabled %s is still set to %q", key, v)
			}
		}
	}
	// The profile's other directives are there as the profile has them.
	disabled := map[string]bool{}
	for _, k := range opts.Disable {
		disabled[k] = true
	}
	for _, d := range profile {
		if _, replaced := want[d.Key]; replaced || disabled[d.Key] {
			continue
		}
		if got := values[d.Key]; got != d.Value {
			t.Errorf("%s = %q, the profile has %q", d.Key, got, d.Value)
		}
	}
	if t.Failed() {
		t.Logf("options %+v\ndrop-in:\n%s", opts, b)
	}
}
