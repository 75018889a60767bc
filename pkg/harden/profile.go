// Package harden gives the units notifyctl installs a systemd sandbox by
// default, and measures it.
//
// A profile is a named list of [Service] directives; [DropIn] renders one,
// with the opt-outs a plan asks for, as a drop-in that is installed next to
// the plan's unit (see [DropInPath]). [Exposure] scores a unit with its
// drop-in the way `systemd-analyze security` does, and [Verify] checks both
// with `systemd-analyze verify`; both work offline, on files that are not
// installed yet, without a running systemd.
package harden

import (
	"fmt"
	"sort"
	"strings"
)

// Directive is one line of a [Service] section.
type Directive struct {
	Key   string
	Value string
	// Why says in one line what the directive protects, or why a typical
	// web app does not miss what it takes away.
	Why string
}

// DefaultProfile is the profile a plan gets unless it names another.
const DefaultProfile = "strict"

// strict is a sandbox a plain Python web app (the Flask development server,
// gunicorn with uvicorn workers) runs in unchanged, measured at an exposure
// of 1.3 by systemd-analyze security for such a unit running as its own
// User=. Left out on purpose:
//   - MemoryDenyWriteExecute=: breaks cffi, ctypes callbacks and JITs
//     (opt in with Options.DenyWriteExecute);
//   - SystemCallFilter=~@privileged: gunicorn workers call setuid() and
//     setgid() to their own ids, and gunicorn chown()s its log files;
//   - IPAddressDeny=: a public service must answer any address (opt in
//     with Options.IPAddressAllow);
//   - PrivateNetwork=: the service must be reachable;
//   - DevicePolicy=closed, KeyringMode=private: already implied by
//     PrivateDevices= and the default for system services.
var strict = []Directive{
	{"NoNewPrivileges", "yes", "setuid programs and file capabilities cannot raise the service's privileges"},
	{"CapabilityBoundingSet", "", "no capabilities, even as root: a service on a port above 1023 needs none"},
	{"AmbientCapabilities", "", "none handed to User= either (they could not outlive the empty bounding set)"},
	{"ProtectSystem", "strict", "the whole file system is read-only except StateDirectory=, LogsDirectory=, RuntimeDirectory= and ReadWritePaths="},
	{"ProtectHome", "yes", "/home, /root and /run/user are invisible"},
	{"PrivateTmp", "yes", "a /tmp and /var/tmp of its own, emptied when it stops (gunicorn's worker heartbeat files work there)"},
	{"PrivateDevices", "yes", "/dev holds only pseudo devices such as null, zero and urandom: no disks, no hardware"},
	{"PrivateUsers", "yes", "a user namespace of its own: other users show as nobody, no capability counts on the host"},
	{"PrivateMounts", "yes", "a mount namespace of its own, as the Protect* settings imply; said so it is scored"},
	{"ProtectKernelTunables", "yes", "/proc/sys, /sys and other kernel tunables are read-only"},
	{"ProtectKernelModules", "yes", "cannot load or unload kernel modules"},
	{"ProtectKernelLogs", "yes", "cannot read or write the kernel log buffer"},
	{"ProtectControlGroups", "yes", "/sys/fs/cgroup is read-only"},
	{"ProtectClock", "yes", "cannot set the system or hardware clock"},
	{"ProtectHostname", "yes", "cannot change the host name"},
	{"ProtectProc", "invisible", "other users' processes are hidden in /proc"},
	{"ProcSubset", "pid", "/proc shows processes only, not the kernel's and the system's files"},
	{"RestrictNamespaces", "yes", "cannot create namespaces, a frequent route to kernel bugs"},
	{"RestrictRealtime", "yes", "no realtime scheduling that could starve the host"},
	{"RestrictSUIDSGID", "yes", "cannot create setuid or setgid files"},
	{"LockPersonality", "yes", "cannot switch the kernel execution domain"},
	{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX", "IP and local sockets (sd_notify too) only: no raw packets, no netlink"},
	{"SystemCallFilter", "@system-service", "only the system calls ordinary services make (systemd.exec(5)'s basic choice)"},
	{"SystemCallErrorNumber", "EPERM", "a call outside the filter fails with EPERM, which apps handle, rather than killing the service"},
	{"SystemCallArchitectures", "native", "no system calls through other ABIs such as 32-bit x86"},
	{"RemoveIPC", "yes", "User='s System V IPC objects and POSIX message queues go away when it stops"},
	{"UMask", "0077", "files the service creates are for its own user only"},
}

var profiles = map[string][]Directive{
	"strict": strict,
	"none":   nil,
}

// Profile returns the directives of the named profile: "strict", the
// default, or "none", which adds nothing.
func Profile(name string) ([]Directive, error) {
	d, ok := profiles[name]
	if !ok {
		return nil, fmt.Errorf("unknown hardening profile %q (known: %s)", name, strings.Join(Profiles(), ", "))
	}
	return append([]Directive(nil), d...), nil
}

// Profiles lists the names of the known profiles.
func Profiles() []string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
