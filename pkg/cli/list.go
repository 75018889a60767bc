package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// installed is one installed plan, as list shows it.
type installed struct {
	Name        string     `json:"name"`
	Unit        string     `json:"unit"`         // "" when the journal names no unit yet
	ActiveState string     `json:"active_state"` // "" when there is no unit
	SubState    string     `json:"sub_state"`
	Installed   *time.Time `json:"installed"` // the time of the journal's first record; nil when it has none
}

// stater reads a unit's state (systemd.Conn does, over D-Bus).
type stater interface {
	State(ctx context.Context, unit string) (systemd.State, error)
}

func listCmd(o *options) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the installed plans with the state of their service",
		Long: `List the plans installed on this host, one line each: the plan's name, its
unit, the unit's ActiveState/SubState as systemd reports it now, and when the
plan was first installed. A plan is installed when it has a journal in
` + journal.Root + `/PLAN (also after an install that was interrupted).

With nothing installed, list prints nothing on stdout (and says so on stderr),
or [] with --json.

` + exitCodesHelp,
		Example: `  sudo notifyctl list
  sudo notifyctl list --json | jq -r '.[] | select(.active_state != "active") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), o, journal.Root, func(ctx context.Context) (stater, func(), error) {
				conn, err := systemd.Connect(ctx)
				if err != nil {
					return nil, nil, err
				}
				return conn, conn.Close, nil
			})
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print a JSON array on stdout")
	return c
}

// runList lists the plans that have a journal below root. connect is called
// once, and only when there is a unit to ask systemd about.
func runList(ctx context.Context, o *options, root string, connect func(context.Context) (stater, func(), error)) error {
	list, err := installedPlans(root)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return usage(fmt.Errorf("list must run as root (try sudo): %w", err))
		}
		return failed(err)
	}
	var sd stater
	for i := range list {
		if list[i].Unit == "" {
			continue
		}
		if sd == nil {
			s, done, err := connect(ctx)
			if err != nil {
				return failed(err)
			}
			defer done()
			sd = s
		}
		st, err := sd.State(ctx, list[i].Unit)
		if err != nil {
			return failed(err)
		}
		list[i].ActiveState, list[i].SubState = st.ActiveState, st.SubState
	}
	if o.json {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if list == nil {
			list = []installed{}
		}
		return enc.Encode(list)
	}
	if len(list) == 0 {
		if !consoleOf(o).quiet {
			fmt.Fprintln(o.stderr, "no plan is installed")
		}
		return nil
	}
	return printList(o.stdout, list)
}

// printList prints one aligned line per plan.
func printList(w io.Writer, list []installed) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range list {
		unit, state := p.Unit, p.ActiveState+"/"+p.SubState
		if unit == "" {
			unit, state = "-", "-"
		}
		when := "-"
		if p.Installed != nil {
			when = p.Installed.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, unit, state, when)
	}
	return tw.Flush()
}

// installedPlans reads every plan journal below root (one directory per
// plan, holding a journal file), sorted by name. Anything else there, such as
// a lock file, is not a plan.
func installedPlans(root string) ([]installed, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []installed
	for _, e := range entries {
		if !e.IsDir() { // a symlink is not followed
			continue
		}
		dir := filepath.Join(root, e.Name())
		if fi, err := os.Lstat(filepath.Join(dir, "journal")); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		p, err := readPlan(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // uninstalled meanwhile
		}
		if err != nil {
			return nil, err
		}
		p.Name = e.Name()
		out = append(out, p)
	}
	return out, nil
}

// readPlan reads what list shows of one plan from its journal: the unit
// installed (that of the last unit step not undone, or of any) and the time
// of the first record.
//
// list changes nothing, not even a journal an install is appending to at
// that moment: it opens the journal read-only.
func readPlan(dir string) (installed, error) {
	var p installed
	j, err := journal.OpenDirReadOnly(dir)
	if err != nil {
		return p, fmt.Errorf("%s: %w", filepath.Join(dir, "journal"), err)
	}
	defer j.Close()
	entries := j.Entries()
	if len(entries) > 0 {
		t := entries[0].Time
		p.Installed = &t
	}
	for _, e := range entries {
		if e.Step == "unit" && (p.Unit == "" || !e.Undone) {
			p.Unit = unitOf(e.Key)
		}
	}
	return p, nil
}

// unitOf is the unit a unit file belongs to: the file's name, or for a
// drop-in (/etc/systemd/system/UNIT.d/NAME.conf) its directory's.
func unitOf(file string) string {
	if dir := filepath.Base(filepath.Dir(file)); strings.HasSuffix(dir, ".d") && strings.HasSuffix(file, ".conf") {
		return strings.TrimSuffix(dir, ".d")
	}
	return filepath.Base(file)
}
