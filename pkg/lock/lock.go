// Package lock keeps two notifyctl runs on one host from interleaving.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Path is the lock file: on a tmpfs, so that it does not outlive a boot and
// leaves nothing behind on disk, and in /run itself, which only root can
// write (any user may create files in /run/lock, and so hold the lock).
const Path = "/run/notifyctl.lock"

// Lock is a held lock.
type Lock struct{ f *os.File }

// ErrTimeout is a lock still held by another run when the wait ended.
var ErrTimeout = errors.New("another notifyctl run holds the lock")

// Acquire takes the host-wide lock for what (such as "install notifydemo"),
// waiting up to timeout. While it waits, waiting is told once who holds it.
// flock(2) locks die with their process, so a run that was killed never
// leaves a stale lock.
func Acquire(ctx context.Context, path, what string, timeout time.Duration, waiting func(holder string)) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	deadline := time.Now().Add(timeout)
	told := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := readHolder(path)
		if !told && waiting != nil {
			waiting(holder)
			told = true
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (%s) after waiting %s; see --lock-timeout", ErrTimeout, holder, timeout)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Say who holds it, for whoever waits next.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d: notifyctl %s\n", os.Getpid(), what)
	}
	return &Lock{f: f}, nil
}

// Held says whether a process holds the lock, and who, without taking it or
// creating the lock file: for commands that only read, such as status. It
// reads the kernel's list of locks rather than trying a lock of its own,
// which a run trying for the lock at that moment would find taken.
func Held(path string) (holder string, held bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", false
	}
	// /proc/locks names a file MAJOR:MINOR:INODE, the device numbers in hex.
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// "1: FLOCK  ADVISORY  WRITE PID DEV:INO 0 EOF"; a waiter's line
		// has "->" after the number.
		if f := strings.Fields(line); len(f) >= 6 && f[1] == "FLOCK" && f[5] == id {
			return readHolder(path), true
		}
	}
	return "", false
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "holder unknown"
	}
	return strings.TrimSpace(string(b))
}

// Release gives the lock up.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close()
}
