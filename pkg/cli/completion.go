package cli

import (
	"bytes"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/notifyctl/notifyctl/pkg/journal"
	"github.com/notifyctl/notifyctl/pkg/plan"
	"github.com/notifyctl/notifyctl/plans"
)

// setupCompletion adds cobra's completion command now rather than when a
// command runs, so that help and the man pages list it, and completes the
// PLAN argument: the plans shipped inside notifyctl (or a path) for install
// and plan, the installed plans (or a path) for uninstall.
func setupCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "install", "plan":
			c.ValidArgsFunction = completePlans(func() []cobra.Completion {
				var out []cobra.Completion
				for _, name := range plan.Embedded(plans.FS) {
					desc := ""
					if p, err := plan.Resolve(name, plans.FS, plans.Default); err == nil {
						desc = p.Description
					}
					out = append(out, cobra.CompletionWithDesc(name, desc))
				}
				return out
			})
		case "completion":
			// Without this, cobra shows help and exits 0 for an unknown shell.
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
			for _, sh := range c.Commands() {
				if sh.Name() == "bash" {
					sh.RunE = bashScript
				}
			}
		case "uninstall":
			c.ValidArgsFunction = completePlans(func() []cobra.Completion {
				list, _ := installedPlans(journal.Root) // unreadable unless root: nothing to offer
				var out []cobra.Completion
				for _, p := range list {
					out = append(out, cobra.CompletionWithDesc(p.Name, "installed"))
				}
				return out
			})
		}
	}
}

// completePlans completes the one PLAN argument with the names candidates
// returns that start with what was typed; when none does, the shell
// completes a file name (a plan directory or file).
func completePlans(candidates func() []cobra.Completion) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range candidates() {
			if strings.HasPrefix(c, toComplete) {
				out = append(out, c)
			}
		}
		return out, cobra.ShellCompDirectiveDefault
	}
}

// bashInit is how cobra's bash script reads the words typed, which needs the
// bash-completion package; bashInitStandalone falls back to bash's own
// variables without it, so that `source <(notifyctl completion bash)` also
// completes in a shell without bash-completion (minimal and container hosts).
const (
	bashInit = `    COMPREPLY=()
    _get_comp_words_by_ref "$@" cur prev words cword
`
	bashInitStandalone = `    COMPREPLY=()
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref "$@" cur prev words cword
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
`
)

// bashScript writes the bash script, which works without the
// bash-completion package too.
func bashScript(cmd *cobra.Command, args []string) error {
	noDesc, _ := cmd.Flags().GetBool("no-descriptions")
	var buf bytes.Buffer
	if err := cmd.Root().GenBashCompletionV2(&buf, !noDesc); err != nil {
		return err
	}
	_, err := io.WriteString(cmd.OutOrStdout(), strings.Replace(buf.String(), bashInit, bashInitStandalone, 1))
	return err
}
