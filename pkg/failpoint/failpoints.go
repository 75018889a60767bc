//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// NOTIFYCTL_FAILPOINT=NAME:N kills the process the N-th time (from 1) the
// failpoint NAME is reached. NOTIFYCTL_FAILPOINT_TRACE=FILE appends every
// failpoint reached to FILE, one "NAME:N" a line, so that a test can list
// them all and then crash at each one in turn.
var (
	mu     sync.Mutex
	counts = map[string]int{}
	target = os.Getenv("NOTIFYCTL_FAILPOINT")
	trace  = os.Getenv("NOTIFYCTL_FAILPOINT_TRACE")
)

// Inject counts a passage through the failpoint name and crashes there when
// told to, after running partial.
func Inject(name string, partial ...func()) {
	mu.Lock()
	defer mu.Unlock()
	counts[name]++
	hit := name + ":" + strconv.Itoa(counts[name])
	if trace != "" {
		if f, err := os.OpenFile(trace, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintln(f, hit)
			f.Close()
		}
	}
	if strings.TrimSpace(target) == hit {
		fmt.Fprintf(os.Stderr, "failpoint %s: crashing\n", hit)
		for _, f := range partial {
			f()
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
