package systemd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
)

// Failure is a service that did not become active, with what systemd and the
// service's own log say about why.
type Failure struct {
	Unit  string
	Why   string // what notifyctl saw: the job result, a timeout
	State State
	Logs  []string // the last lines the failed invocation logged
}

// Error is one line: the unit, and the cause as precisely as systemd knows it.
func (f *Failure) Error() string {
	msg := fmt.Sprintf("%s did not become active: %s", f.Unit, f.Why)
	if c := f.Cause(); c != "" {
		msg += "; " + c
	}
	return msg
}

// Cause explains the service's Result and main process status.
func (f *Failure) Cause() string {
	s := f.State
	var parts []string
	if s.Result != "" && s.Result != "success" {
		parts = append(parts, "result "+s.Result)
	}
	switch s.ExecMainCode {
	case 1:
		if s.ExecMainStatus != 0 {
			p := fmt.Sprintf("main process exited with status %d", s.ExecMainStatus)
			if name, ok := exitStatusNames[s.ExecMainStatus]; ok {
				p += " (" + name + ")"
			}
			parts = append(parts, p)
		}
	case 2, 3:
		parts = append(parts, fmt.Sprintf("main process killed by signal %d", s.ExecMainStatus))
	}
	if s.LoadState != "" && s.LoadState != "loaded" {
		parts = append(parts, "unit "+s.LoadState)
	}
	return strings.Join(parts, ", ")
}

// Details are the lines shown under the error: state, status text and log.
func (f *Failure) Details() []string {
	s := f.State
	out := []string{fmt.Sprintf("ActiveState=%s SubState=%s Result=%s", s.ActiveState, s.SubState, s.Result)}
	if s.StatusText != "" {
		out = append(out, "StatusText: "+s.StatusText)
	}
	if len(f.Logs) == 0 {
		out = append(out, "the service logged nothing")
	}
	for _, l := range f.Logs {
		out = append(out, "| "+l)
	}
	return out
}

// exitStatusNames are systemd's own exit statuses: the setup step that failed
// before the service's program ran (see systemd.exec(5), "Process Exit Codes").
var exitStatusNames = map[int32]string{
	200: "CHDIR: WorkingDirectory= could not be entered",
	201: "NICE", 202: "FDS", 203: "EXEC: ExecStart= could not be executed",
	204: "MEMORY", 205: "LIMITS", 206: "OOM_ADJUST", 207: "SIGNAL_MASK",
	208: "STDIN", 209: "STDOUT", 210: "CHROOT", 211: "IOPRIO", 212: "TIMERSLACK",
	213: "SECUREBITS", 214: "SETSCHEDULER", 215: "CPUAFFINITY",
	216: "GROUP: Group= could not be set", 217: "USER: User= could not be set",
	218: "CAPABILITIES", 219: "CGROUP", 220: "SETSID", 221: "CONFIRM",
	222: "STDERR", 224: "PAM", 225: "NETWORK", 226: "NAMESPACE: sandboxing could not be set up",
	227: "NO_NEW_PRIVILEGES", 228: "SECCOMP", 229: "SELINUX_CONTEXT", 230: "PERSONALITY",
	231: "APPARMOR_PROFILE", 232: "ADDRESS_FAMILIES", 233: "RUNTIME_DIRECTORY",
	235: "CHOWN", 236: "SMACK_PROCESS_LABEL", 237: "KEYRING", 238: "STATE_DIRECTORY",
	239: "CACHE_DIRECTORY", 240: "LOGS_DIRECTORY", 241: "CONFIGURATION_DIRECTORY",
	242: "NUMA_POLICY", 243: "CREDENTIALS", 245: "BPF",
}

// Logs returns the last n messages an invocation of a unit logged, oldest
// first. It reads the journal with journalctl (the journal's C library would
// need cgo); it returns nothing when the journal cannot be read.
func Logs(ctx context.Context, invocationID string, n int) []string {
	// Make sure what the service wrote just before it failed is in the journal.
	_ = exec.CommandContext(ctx, "journalctl", "--sync").Run()
	out, err := exec.CommandContext(ctx, "journalctl", "--no-pager", "-o", "json",
		"-n", fmt.Sprint(n), "_SYSTEMD_INVOCATION_ID="+invocationID).Output()
	if err != nil {
		return nil
	}
	var lines []string
	for _, rec := range bytes.Split(out, []byte("\n")) {
		var e struct {
			Message any `json:"MESSAGE"`
		}
		if json.Unmarshal(rec, &e) != nil {
			continue
		}
		switch m := e.Message.(type) {
		case string:
			lines = append(lines, m)
		case []any: // a message that is not valid UTF-8 comes as bytes
			b := make([]byte, 0, len(m))
			for _, v := range m {
				if f, ok := v.(float64); ok {
					b = append(b, byte(f))
				}
			}
			lines = append(lines, strings.ToValidUTF8(string(b), "?"))
		}
	}
	return lines
}
