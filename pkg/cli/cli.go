// Package cli is notifyctl's command line: it parses arguments, opens what a
// command needs (the plan, the journal, one D-Bus connection) and hands over to
// the engine. Exit codes: 0 ok, 1 failed (and rolled back), 2 bad input or usage.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Version and Commit are set at build time.
var (
	Version = "dev"
	Commit  = ""
)

// ExitError carries the exit code of a failed command.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usage(err error) error  { return &ExitError{Code: ExitUsage, Err: err} }
func failed(err error) error { return &ExitError{Code: ExitFailed, Err: err} }

// silent is a failure already reported in detail; main prints nothing more.
var silent = errors.New("")

const exitCodesHelp = `Exit codes:
  0  success (also: nothing to do)
  1  failed; install rolled back what this run changed (unless --keep)
  2  bad input or usage: nothing on the host was changed`

// Main runs notifyctl with args and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first SIGINT or SIGTERM ends the run cleanly (an install rolls back);
	// a second one kills notifyctl as usual.
	go func() {
		<-ctx.Done()
		stop()
	}()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitUsage // cobra's own errors are about usage
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	if !errors.Is(err, silent) {
		fmt.Fprintf(stderr, "notifyctl: %v\n", err)
	}
	return code
}

type options struct {
	stdout, stderr io.Writer
	json           bool
	dryRun         bool
	keep           bool
	timeout        time.Duration
	purgePackages  bool
	purge          bool
	force          bool
	lockTimeout    time.Duration
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	o := &options{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "notifyctl",
		Short: "Install a systemd service from a plan, verified ready, and remove it without a trace",
		Long: `notifyctl brings a host to a running, truly ready service from a plan (a system
user, directories, app files, a systemd unit, how to tell the service is ready)
and takes it away again, removing exactly what it created.

Every change is recorded in a journal under /var/lib/notifyctl/PLAN before and
after it is made, so that a failed install rolls itself back and an interrupted
one can still be uninstalled.

PLAN is the name of a plan shipped inside notifyctl (default: ` + plans.Default + `), or the
path of a plan directory or plan file.

Messages go to stderr, in colour on a terminal unless NO_COLOR is set.

` + exitCodesHelp,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usage(err) })
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	con := consoleOf(o)
	pf := root.PersistentFlags()
	pf.BoolVarP(&con.quiet, "quiet", "q", false, "show only warnings and errors")
	pf.BoolVarP(&con.verbose, "verbose", "v", false, "also show how long each step took, the diffs install applies and the service's status while it starts")
	root.MarkFlagsMutuallyExclusive("quiet", "verbose")
	root.InitDefaultVersionFlag() // now, after -v is taken, so that the man page lists --version
	root.AddCommand(installCmd(o), uninstallCmd(o), planCmd(o), plansCmd(o), listCmd(o), statusCmd(o), runCmd(o))
	setupCompletion(root)
	return root
}

func version() string {
	if Commit == "" {
		return Version
	}
	return Version + " (" + Commit + ")"
}

func planArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func installCmd(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "install [PLAN]",
		Short: "Install a plan and wait until its service is active and answering",
		Long: `Install a plan: packages, the unit and its hardening drop-in, enabled, one
daemon-reload, the system user and group, directories and files, then start it
and wait until systemd reports it active (for Type=notify: until the service
itself said READY=1) and, if the plan says so, until it answers. The reload
runs alongside: while the service starts on a first install (systemd has read
the new unit when asked for it), or while the files are made when systemd knew
the unit already.

A second install changes nothing and restarts nothing. When the plan changed,
only what changed is rewritten and the service is restarted once; what an
earlier install made and the plan no longer has is removed, unless an
administrator changed it since. A restart an earlier run owed (it was killed
after changing files) is done even if every file already matches.

When a step fails or the service does not become ready in time, what this run
changed is undone and the reason is shown: systemd's result, the exit status
and the service's last log lines.

` + exitCodesHelp,
		Example: `  sudo notifyctl install                # the default plan, ` + plans.Default + `
  sudo notifyctl install ./myplan       # a plan directory
  notifyctl install --dry-run --json    # what would change, as JSON`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd.Context(), o, planArg(args))
		},
	}
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would change, as diffs, and change nothing")
	f.BoolVar(&o.keep, "keep", false, "on failure, leave this run's changes in place for debugging")
	f.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the service to be ready (default: the plan's readiness.timeout)")
	f.BoolVar(&o.json, "json", false, "print one JSON object on stdout; logs go to stderr")
	f.DurationVar(&o.lockTimeout, "lock-timeout", time.Minute, "how long to wait while another notifyctl run changes this host")
	return c
}

func planCmd(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "plan [PLAN]",
		Short: "Preview what install would change, as diffs; change nothing",
		Long: `Show what install would do: every step with its action, unified diffs of the
files and the unit against what is on disk, the user, directories and unit
state that would change. Nothing is changed. Same as install --dry-run.

` + exitCodesHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dryRun = true
			return runInstall(cmd.Context(), o, planArg(args))
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print one JSON object on stdout")
	return c
}

func uninstallCmd(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "uninstall [PLAN]",
		Short: "Remove exactly what install created, from its journal",
		Long: `Replay the plan's journal in reverse: stop and disable the service, remove the
unit and reload systemd, restore or remove the files, remove the directories
install created (if nothing else was put in them), delete the user and group
if install created them. What existed before install is left or restored.

A file changed since install (an administrator's edit) is kept, like a
modified configuration file, and so is the service's data; --purge removes
them. Packages stay unless --purge-packages, and then only those install added.
Uninstalling a plan that is not installed says so and succeeds. PLAN may be
the name of an installed plan even if its plan file is gone.

` + exitCodesHelp,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUninstall(cmd.Context(), o, planArg(args))
		},
	}
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would be removed or restored, and change nothing")
	f.BoolVar(&o.purgePackages, "purge-packages", false, "also remove the packages install added")
	f.BoolVar(&o.purge, "purge", false, "also remove files changed since install, and the service's data")
	f.BoolVar(&o.force, "force", false, "undo what can safely be undone from a journal that fails validation, and list the rest")
	f.BoolVar(&o.json, "json", false, "print one JSON object on stdout; logs go to stderr")
	f.DurationVar(&o.lockTimeout, "lock-timeout", time.Minute, "how long to wait while another notifyctl run changes this host")
	return c
}

func plansCmd(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "plans",
		Short: "List the plans shipped inside notifyctl",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range plan.Embedded(plans.FS) {
				p, err := plan.Resolve(name, plans.FS, plans.Default)
				if err != nil {
					return failed(err)
				}
				fmt.Fprintf(o.stdout, "%-16s %s\n", name, p.Description)
			}
			return nil
		},
	}
}
