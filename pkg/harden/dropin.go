package harden

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DropInName is the file name of the drop-in notifyctl installs.
const DropInName = "50-notifyctl-hardening.conf"

// DropInPath is where the drop-in of the unit unitName is installed.
func DropInPath(unitName string) string {
	return path.Join(UnitDir, unitName+".d", DropInName)
}

// Options are a plan's hardening: a profile and what the app really needs
// beyond it. The zero value is the default profile with no exceptions.
type Options struct {
	// Profile names the baseline; "" means DefaultProfile. With "none",
	// no other option may be set.
	Profile string

	// Disable lists keys of the profile's directives the app cannot run
	// with, such as "PrivateUsers" or "ProtectHome"; every directive with
	// that key is left out. A key the profile does not set is an error.
	Disable []string

	// ReadWritePaths are absolute paths the service may write to besides
	// the directories below (ProtectSystem=strict makes the rest read-only).
	ReadWritePaths []string

	// StateDirectory, LogsDirectory and RuntimeDirectory name directories
	// below /var/lib, /var/log and /run that systemd creates at start,
	// owned by the unit's User=, and that stay writable.
	StateDirectory   string
	LogsDirectory    string
	RuntimeDirectory string

	// BindPrivilegedPort lets the service bind ports below 1024: it keeps
	// CAP_NET_BIND_SERVICE (bounding and ambient sets) and turns
	// PrivateUsers= off, since a capability held in a user namespace of the
	// service's own does not count for the host's network.
	BindPrivilegedPort bool

	// IPAddressAllow, when set, confines the service's IP traffic to these
	// address prefixes or symbolic names ("localhost", "link-local",
	// "10.0.0.0/8"): IPAddressDeny=any with IPAddressAllow= them. For
	// services that only talk to a local proxy; it needs a kernel and
	// systemd with BPF cgroup support, or it is not enforced.
	IPAddressAllow []string

	// DenyWriteExecute adds MemoryDenyWriteExecute=yes, for apps known not
	// to need writable executable memory (no JIT, no cffi or ctypes callbacks).
	DenyWriteExecute bool

	// UMask replaces the profile's UMask= (such as "0027" to let the
	// service's group read its files or connect to its sockets).
	UMask string
}

var (
	// A path systemd reads back as given: no blanks (lists are split on
	// them), quotes, backslashes or '%' (specifiers).
	pathRE = regexp.MustCompile(`^/[A-Za-z0-9._@+:,=/-]*$`)
	// A directory name below /var/lib, /var/log or /run.
	dirNameRE = regexp.MustCompile(`^[A-Za-z0-9._@+-]+(/[A-Za-z0-9._@+-]+)*$`)
	// An address prefix or one of systemd's symbolic names.
	addressRE = regexp.MustCompile(`^[A-Za-z0-9.:/-]+$`)
	umaskRE   = regexp.MustCompile(`^0?[0-7]{3}$`)
)

// DropIn renders opts as a drop-in for the plan's unit: a [Service] section,
// one directive a line, each under a comment saying why. The profile's
// directives come first, in order, then those the options add; an option
// that sets a key the profile has replaces it in place. Profile "none"
// renders nothing at all (an empty slice).
//
// Values never reach the file unchecked: a control character (a newline
// would start a directive of its own) or a trailing backslash (a line
// continuation) anywhere is an error, and paths and names must be plain.
func DropIn(opts Options) ([]byte, error) {
	name := opts.Profile
	if name == "" {
		name = DefaultProfile
	}
	dirs, err := Profile(name)
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		if !isZero(opts) {
			return nil, fmt.Errorf("hardening profile %q takes no other options", name)
		}
		return []byte{}, nil
	}

	for i, key := range opts.Disable {
		n := len(dirs)
		dirs = slices.DeleteFunc(dirs, func(d Directive) bool { return d.Key == key })
		if len(dirs) == n {
			return nil, fmt.Errorf("Disable[%d]: profile %q sets no %q", i, name, key)
		}
	}
	set := func(key, value, why string) {
		for i := range dirs {
			if dirs[i].Key == key {
				dirs[i] = Directive{key, value, why}
				return
			}
		}
		dirs = append(dirs, Directive{key, value, why})
	}

	for i, p := range opts.ReadWritePaths {
		field := fmt.Sprintf("ReadWritePaths[%d]", i)
		if err := plain(field, p, pathRE, "a plain absolute path"); err != nil {
			return nil, err
		}
		if path.Clean(p) != p {
			return nil, fmt.Errorf("%s: %q is not a clean path", field, p)
		}
	}
	if len(opts.ReadWritePaths) > 0 {
		set("ReadWritePaths", strings.Join(opts.ReadWritePaths, " "), "the app writes here; the rest of the file system stays read-only")
	}
	for _, d := range []struct{ key, name, where string }{
		{"StateDirectory", opts.StateDirectory, "/var/lib"},
		{"LogsDirectory", opts.LogsDirectory, "/var/log"},
		{"RuntimeDirectory", opts.RuntimeDirectory, "/run"},
	} {
		if d.name == "" {
			continue
		}
		if err := plain(d.key, d.name, dirNameRE, "a plain directory name below "+d.where); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(strings.Split(d.name, "/"), func(c string) bool { return c == "." || c == ".." }) {
			return nil, fmt.Errorf("%s: %q must stay below %s", d.key, d.name, d.where)
		}
		set(d.key, d.name, fmt.Sprintf("%s/%s, created for User= at start, stays writable", d.where, d.name))
	}
	if opts.BindPrivilegedPort {
		set("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE", "the one capability kept: binding ports below 1024")
		set("AmbientCapabilities", "CAP_NET_BIND_SERVICE", "handed to the non-root User= so it can bind ports below 1024")
		set("PrivateUsers", "no", "a capability held in a user namespace of its own would not count for the host's ports")
	}
	for i, a := range opts.IPAddressAllow {
		if err := plain(fmt.Sprintf("IPAddressAllow[%d]", i), a, addressRE, "an address prefix or name"); err != nil {
			return nil, err
		}
	}
	if len(opts.IPAddressAllow) > 0 {
		set("IPAddressDeny", "any", "no IP traffic but with the peers of IPAddressAllow=")
		set("IPAddressAllow", strings.Join(opts.IPAddressAllow, " "), "the only peers the service talks to")
	}
	if opts.DenyWriteExecute {
		set("MemoryDenyWriteExecute", "yes", "no memory both writable and executable: injected code cannot run")
	}
	if opts.UMask != "" {
		if err := plain("UMask", opts.UMask, umaskRE, "an octal umask such as 0027"); err != nil {
			return nil, err
		}
		set("UMask", opts.UMask, "files the service creates get this umask")
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by notifyctl from the plan's hardening (profile %q): change the plan, not this file.\n", name)
	b.WriteString("[Service]\n")
	for _, d := range dirs {
		for _, s := range []string{d.Key, d.Value, d.Why} {
			if err := checkLine(s); err != nil {
				return nil, fmt.Errorf("%s=%q: %v", d.Key, d.Value, err)
			}
		}
		fmt.Fprintf(&b, "# %s\n%s=%s\n", d.Why, d.Key, d.Value)
	}
	return b.Bytes(), nil
}

// checkLine refuses what would let a value escape its line in a unit file.
func checkLine(s string) error {
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("it holds the control character %U", r)
	}
	if strings.HasSuffix(s, `\`) {
		return errors.New("it ends with a backslash, which continues the line")
	}
	return nil
}

// plain checks a value from the plan: one line, and all of it matching re.
func plain(field, s string, re *regexp.Regexp, what string) error {
	if err := checkLine(s); err != nil {
		return fmt.Errorf("%s: %q: %v", field, s, err)
	}
	if !re.MatchString(s) {
		return fmt.Errorf("%s: %q is not %s", field, s, what)
	}
	return nil
}

func isZero(o Options) bool {
	return len(o.Disable) == 0 && len(o.ReadWritePaths) == 0 && len(o.IPAddressAllow) == 0 &&
		o.StateDirectory == "" && o.LogsDirectory == "" && o.RuntimeDirectory == "" &&
		!o.BindPrivilegedPort && !o.DenyWriteExecute && o.UMask == ""
}
