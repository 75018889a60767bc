// Package runner is `notifyctl run`: it runs a service's program as a child
// of a Type=notify unit's main process and speaks systemd's notify protocol
// on its behalf.
//
// The wrapper probes the program (HTTP GET or TCP connect) until it answers
// and then sends READY=1 itself, from the main PID, so the unit keeps
// NotifyAccess=main. While the program starts, STATUS= reports progress and
// EXTEND_TIMEOUT_USEC= can hold off TimeoutStartSec=. Once the program is
// ready and the unit has WatchdogSec=, the wrapper sends WATCHDOG=1 only while
// the program still answers its probe. SIGTERM, SIGINT and SIGHUP are
// forwarded to the program, and the wrapper exits with its exit status.
//
// Units running the wrapper want KillMode=mixed: with the default
// control-group, systemd signals the program as well as the wrapper, and the
// program receives every stop signal twice. A program killed by the
// forwarded SIGTERM makes the wrapper exit 143, which systemd counts as a
// failure unless the unit says SuccessExitStatus=143.
package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Config is what Run runs and how it decides that the program is ready.
type Config struct {
	// Command is the program and its arguments. Command[0] is looked up in
	// $PATH unless it contains a slash.
	Command []string

	// HTTP is a URL that answers GET with a 2xx status once the program is
	// ready. Redirects are not followed; https certificates are verified.
	HTTP string
	// TCP is a host:port that accepts connections once the program is
	// ready. This only shows that the socket listens: the kernel completes
	// connections even for a frozen program, so the watchdog cannot tell
	// that it hangs; prefer HTTP where possible.
	TCP string
	// With neither HTTP nor TCP, the program is ready as soon as it has
	// been started, and the watchdog is fed for as long as it runs.

	// ProbeTimeout limits each probe; default 1s.
	ProbeTimeout time.Duration
	// FirstInterval is the pause after the first failed probe (default
	// 5ms); each further pause doubles, up to MaxInterval (default 10ms:
	// a loopback probe every 10 ms while the program starts costs nothing).
	// READY=1 follows the program's first possible answer by up to one
	// pause, so MaxInterval bounds that delay for a program slow to start.
	FirstInterval, MaxInterval time.Duration

	// Status is the STATUS= text sent with READY=1; default "ready". It
	// must be a single line.
	Status string

	// ExtendTimeout, if not zero, is how long after starting the program
	// the wrapper keeps extending the unit's start timeout (with
	// EXTEND_TIMEOUT_USEC=) while the program runs but is not ready yet.
	ExtendTimeout time.Duration

	// KeepNotifySocket passes NOTIFY_SOCKET on to the program. By default
	// it is removed, so that a program which notifies by itself cannot
	// confuse systemd; with NotifyAccess=main, systemd ignores the
	// program's messages anyway.
	KeepNotifySocket bool

	// Stdout and Stderr are the program's; default os.Stdout and
	// os.Stderr. An *os.File is handed to the program as is, so that
	// journald sees the program's own stream. The program's stdin is ours.
	Stdout, Stderr io.Writer

	// Log reports what the wrapper itself does; by default it prints to
	// Stderr, prefixed "notifyctl run: ".
	Log func(format string, args ...any)
}

// Validate reports the first problem with c, if any. Zero durations and an
// empty Status mean the defaults.
func (c *Config) Validate() error {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return errors.New("no command to run")
	}
	if c.HTTP != "" && c.TCP != "" {
		return errors.New("give an HTTP or a TCP probe, not both")
	}
	if c.HTTP != "" {
		u, err := url.Parse(c.HTTP)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("HTTP probe %q: want an http:// or https:// URL", c.HTTP)
		}
	}
	if c.TCP != "" {
		if _, port, err := net.SplitHostPort(c.TCP); err != nil || port == "" {
			return fmt.Errorf("TCP probe %q: want host:port", c.TCP)
		}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"probe timeout", c.ProbeTimeout},
		{"first interval", c.FirstInterval},
		{"max interval", c.MaxInterval},
		{"extend timeout", c.ExtendTimeout},
	} {
		if d.value < 0 {
			return fmt.Errorf("%s is negative: %v", d.name, d.value)
		}
	}
	if strings.Contains(c.Status, "\n") {
		return errors.New("status must be a single line")
	}
	return nil
}

func (c *Config) setDefaults() {
	c.ProbeTimeout = cmp.Or(c.ProbeTimeout, time.Second)
	c.FirstInterval = cmp.Or(c.FirstInterval, 5*time.Millisecond)
	c.MaxInterval = cmp.Or(c.MaxInterval, 10*time.Millisecond)
	c.Status = cmp.Or(c.Status, "ready")
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Log == nil {
		w := c.Stderr
		c.Log = func(format string, args ...any) {
			fmt.Fprintf(w, "notifyctl run: "+format+"\n", args...)
		}
	}
}

// statusInterval is how often STATUS= reports progress while the program
// starts. Tests shorten it.
var statusInterval = time.Second

// extendBy is how far each progress report pushes the start timeout: two
// reports' worth, so one late report does not let it expire.
const extendBy = 2 * time.Second

// Run starts cfg.Command, reports it ready to systemd once it answers its
// probe, and returns when it has exited. SIGTERM, SIGINT and SIGHUP are
// forwarded to the program; SIGTERM and SIGINT, and the end of ctx, tell
// systemd STOPPING=1 first, and the end of ctx sends the program SIGTERM.
//
// exitCode is what the wrapper should exit with: the program's exit code,
// or 128+N if signal N killed it. A program that exits before it is ready
// has failed: Run then logs it and returns at once, with 1 in place of 0.
// err is non-nil only if the program was not started (invalid cfg, invalid
// WATCHDOG_USEC, command not found...); exitCode is then 1.
func Run(ctx context.Context, cfg Config) (exitCode int, err error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	return run(ctx, cfg, sigs)
}

// run is Run with the signals to forward coming from sigs.
func run(ctx context.Context, cfg Config, sigs <-chan os.Signal) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 1, err
	}
	cfg.setDefaults()
	logf := cfg.Log
	watchdog, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 1, err
	}
	if os.Getenv("NOTIFY_SOCKET") == "" {
		logf("NOTIFY_SOCKET is not set: not notifying systemd")
	}
	notify := func(state string) {
		if _, err := daemon.SdNotify(false, state); err != nil {
			logf("notifying systemd: %v", err)
		}
	}

	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, cfg.Stdout, cfg.Stderr
	cmd.Env = childEnv(cfg.KeepNotifySocket)
	// Should the wrapper be killed, the program must not outlive it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	started := time.Now()
	exited := make(chan struct{})
	go func() {
		cmd.Wait() // the exit status is in cmd.ProcessState
		close(exited)
	}()
	forward := func(sig os.Signal) {
		if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			logf("forwarding %v: %v", sig, err)
		}
	}

	// Probes run in goroutines so that nothing here waits for one.
	probeCtx, stopProbing := context.WithCancel(ctx)
	defer stopProbing()
	target, probe := cfg.prober()
	ready := make(chan struct{})
	go waitReady(probeCtx, cfg, probe, ready)
	statusTicker := time.NewTicker(statusInterval)
	defer statusTicker.Stop()

	var (
		readyC     = ready          // nil once ready or stopping
		statusC    = statusTicker.C // likewise
		healthC    chan error       // watchdog probe results, once ready
		done       = ctx.Done()     // nil once handled
		isReady    bool             // READY=1 was sent
		isStopping bool             // STOPPING=1 was sent
	)
	stopping := func() {
		if isStopping {
			return
		}
		isStopping = true
		stopProbing()
		readyC, statusC, healthC = nil, nil, nil
		notify(daemon.SdNotifyStopping)
	}
	for {
		select {
		case <-exited:
			code := exitStatus(cmd.ProcessState)
			if !isReady && !isStopping {
				logf("%s exited with status %d before it was ready", cfg.Command[0], code)
				code = max(code, 1) // even if it exited 0
			}
			return code, nil

		case <-readyC:
			readyC, statusC = nil, nil
			isReady = true
			notify(daemon.SdNotifyReady + "\nSTATUS=" + cfg.Status)
			logf("%s is ready after %v", cfg.Command[0], time.Since(started).Round(time.Millisecond))
			if watchdog > 0 {
				healthC = make(chan error)
				go watch(probeCtx, probe, watchdog/2, min(cfg.ProbeTimeout, watchdog/4), healthC)
			}

		case <-statusC:
			elapsed := time.Since(started)
			msg := fmt.Sprintf("STATUS=starting: waiting for %s (%v)", target, elapsed.Round(time.Second))
			if extend := min(extendBy, cfg.ExtendTimeout-elapsed); extend > 0 {
				msg += fmt.Sprintf("\nEXTEND_TIMEOUT_USEC=%d", extend.Microseconds())
			}
			notify(msg)

		case err := <-healthC:
			if err != nil {
				logf("watchdog: not pinging systemd: %v", err)
			} else {
				notify(daemon.SdNotifyWatchdog)
			}

		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				stopping()
			}
			forward(sig)

		case <-done:
			done = nil
			if !isStopping {
				stopping()
				forward(syscall.SIGTERM)
			}
		}
	}
}

// childEnv is the wrapper's environment without what is meant for the
// wrapper alone: the watchdog settings and, unless kept, the notify socket.
func childEnv(keepNotifySocket bool) []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "WATCHDOG_USEC", "WATCHDOG_PID":
			return true
		case "NOTIFY_SOCKET":
			return !keepNotifySocket
		}
		return false
	})
}

// exitStatus is the status a shell would report: the exit code, or 128+N if
// signal N killed the process.
func exitStatus(ps *os.ProcessState) int {
	if ws := ps.Sys().(syscall.WaitStatus); ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// A probeFunc checks once, within timeout, whether the program answers.
type probeFunc func(ctx context.Context, timeout time.Duration) error

// prober returns what c probes, for messages, and the probe; without HTTP
// or TCP the probe always succeeds.
func (c *Config) prober() (target string, probe probeFunc) {
	switch {
	case c.HTTP != "":
		return c.HTTP, httpProbe(c.HTTP)
	case c.TCP != "":
		return c.TCP, tcpProbe(c.TCP)
	}
	return "", func(context.Context, time.Duration) error { return nil }
}

func httpProbe(target string) probeFunc {
	client := &http.Client{
		// A new connection for every probe, made directly: a proxy named
		// in the environment must not answer for the program.
		Transport: &http.Transport{DisableKeepAlives: true},
		// Only the program's own answer counts.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s answered %s", target, resp.Status)
		}
		return nil
	}
}

func tcpProbe(addr string) probeFunc {
	return func(ctx context.Context, timeout time.Duration) error {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// waitReady probes at once and then after pauses growing from
// cfg.FirstInterval to cfg.MaxInterval, and closes ready on the first
// success. It gives up when ctx ends.
func waitReady(ctx context.Context, cfg Config, probe probeFunc, ready chan<- struct{}) {
	pause := cfg.FirstInterval
	for probe(ctx, cfg.ProbeTimeout) != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, cfg.MaxInterval)
	}
	close(ready)
}

// watch probes every interval and sends each result to results, until ctx
// ends.
func watch(ctx context.Context, probe probeFunc, interval, timeout time.Duration, results chan<- error) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := probe(ctx, timeout)
		select {
		case <-ctx.Done():
			return
		case results <- err:
		}
	}
}
