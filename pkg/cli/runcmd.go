package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/notifyctl/notifyctl/pkg/runner"
)

func runCmd(o *options) *cobra.Command {
	var cfg runner.Config
	c := &cobra.Command{
		Use:   "run [flags] -- CMD [ARGS...]",
		Short: "Run CMD as a Type=notify service's main process; READY=1 once it answers",
		Long: `Run CMD as the main process of a Type=notify unit, and tell systemd READY=1 as
soon as CMD answers its probe (an HTTP URL answering 2xx, or a TCP port
accepting connections). READY comes from the unit's main process, so the unit
keeps the default NotifyAccess=main and no notification can be lost.

While CMD starts, STATUS= says what is awaited (and, with --extend-timeout,
EXTEND_TIMEOUT_USEC= keeps systemd from timing out while CMD runs). With a
watchdog (WatchdogSec=), WATCHDOG=1 is sent at half the interval only while
CMD still answers its probe: a hung CMD is restarted by systemd.

SIGTERM, SIGINT and SIGHUP are forwarded to CMD; STOPPING=1 is sent when
stopping. notifyctl run exits with CMD's exit status (128+N if killed by
signal N); if CMD exits before it is ready, at once and never with 0.
CMD does not inherit NOTIFY_SOCKET unless --keep-notify-socket.

Plans install notifyctl itself next to the service (a file whose source is
@notifyctl) and use it in ExecStart=.`,
		Example: `  ExecStart=/opt/app/notifyctl run --http http://127.0.0.1:${PORT}/health \
      --status "app ready on :${PORT}" -- /usr/bin/python3 /opt/app/app.py`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Command = args
			cfg.Stdout, cfg.Stderr = o.stdout, o.stderr
			if err := cfg.Validate(); err != nil {
				return usage(err)
			}
			// The runner handles SIGTERM and SIGINT itself: forwarded, not a cancel.
			code, err := runner.Run(context.WithoutCancel(cmd.Context()), cfg)
			if err != nil {
				return &ExitError{Code: code, Err: err}
			}
			if sig := syscall.Signal(code - 128); code > 128 && stopSignal(sig) {
				// The program ended on the signal that stops it: end the same
				// way, which systemd counts as a clean stop (an exit status of
				// 143 would leave the unit failed).
				signal.Reset(sig)
				_ = syscall.Kill(os.Getpid(), sig)
				// The signal is delivered asynchronously: wait for it rather
				// than exit first with the status.
				time.Sleep(5 * time.Second)
			}
			if code != 0 {
				return &ExitError{Code: code, Err: silent}
			}
			return nil
		},
	}
	f := c.Flags()
	f.SetInterspersed(false) // flags after CMD are CMD's
	f.StringVar(&cfg.HTTP, "http", "", "ready once GET `URL` answers 2xx")
	f.StringVar(&cfg.TCP, "tcp", "", "ready once `HOST:PORT` accepts a connection")
	f.StringVar(&cfg.Status, "status", "", "STATUS= text sent with READY=1 (default \"ready\")")
	f.DurationVar(&cfg.ProbeTimeout, "probe-timeout", time.Second, "timeout of each probe")
	f.DurationVar(&cfg.ExtendTimeout, "extend-timeout", 0, "keep extending the unit's start timeout for this long while CMD starts")
	f.BoolVar(&cfg.KeepNotifySocket, "keep-notify-socket", false, "pass NOTIFY_SOCKET on to CMD")
	return c
}

// stopSignal says whether sig is one systemd counts as a clean end of a
// service's main process.
func stopSignal(sig syscall.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT || sig == syscall.SIGHUP || sig == syscall.SIGPIPE
}
