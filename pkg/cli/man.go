package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// GenMan writes the man page of one command, without the sections
// WriteManPages adds (cmd/mangen passes cobra/doc's GenMan, which notifyctl
// itself does not link).
type GenMan func(c *cobra.Command, w io.Writer) error

// WriteManPages writes DIR/notifyctl.1, DIR/notifyctl-install.1, ... for
// notifyctl and every command its help lists, and returns their paths. The
// "Exit codes:" list a command's help ends with becomes the page's EXIT
// STATUS section; notifyctl(1) also says which environment variables it
// reads.
func WriteManPages(dir string, gen GenMan) ([]string, error) {
	root := newRoot(io.Discard, io.Discard)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c != root && (!c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand()) {
			return nil
		}
		page, err := manPage(c, gen)
		if err != nil {
			return fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		file := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")
		if err := os.WriteFile(file, page, 0o644); err != nil {
			return err
		}
		files = append(files, file)
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	return files, walk(root)
}

// manPage is the man page of one command.
func manPage(c *cobra.Command, gen GenMan) ([]byte, error) {
	long := c.Long
	defer func() { c.Long = long }()
	desc, codes := exitCodes(long)
	c.Long = desc
	c.DisableAutoGenTag = true
	var buf bytes.Buffer
	if err := gen(c, &buf); err != nil {
		return nil, err
	}
	page := buf.String()
	var extra strings.Builder
	if len(codes) > 0 {
		extra.WriteString(".SH EXIT STATUS\n")
		for _, code := range codes {
			fmt.Fprintf(&extra, ".TP\n\\fB%s\\fR\n%s\n", code[0], roffEscape(code[1]))
		}
	}
	if !c.HasParent() {
		extra.WriteString(".SH ENVIRONMENT\n.TP\n\\fBNO_COLOR\\fR\nWhen set (and not empty), messages are never coloured, even on a terminal.\n")
	}
	// Before the examples and the references, where man pages keep it.
	at := len(page)
	for _, next := range []string{".SH EXAMPLE", ".SH SEE ALSO"} {
		if i := strings.Index(page, "\n"+next); i >= 0 && i+1 < at {
			at = i + 1
		}
	}
	return []byte(page[:at] + extra.String() + page[at:]), nil
}

// exitCodes splits a help text that ends with an "Exit codes:" list (lines
// "  CODE  meaning", a meaning possibly continued on more indented lines)
// into the text before it and the codes with their meanings. A text that
// does not end so is returned whole, with no codes.
func exitCodes(long string) (string, [][2]string) {
	i := strings.LastIndex(long, "Exit codes:\n")
	if i < 0 {
		return long, nil
	}
	var codes [][2]string
	for _, line := range strings.Split(strings.TrimRight(long[i+len("Exit codes:\n"):], "\n"), "\n") {
		text := strings.TrimSpace(line)
		code, meaning, _ := strings.Cut(text, " ")
		switch {
		case line == text || text == "":
			return long, nil // not indented: the list ended before the text did
		case code != "" && strings.Trim(code, "0123456789") == "":
			codes = append(codes, [2]string{code, strings.TrimSpace(meaning)})
		case len(codes) > 0:
			codes[len(codes)-1][1] += " " + text
		default:
			return long, nil
		}
	}
	if len(codes) == 0 {
		return long, nil
	}
	return strings.TrimSpace(long[:i]), codes
}

// roffEscape keeps text from being read as roff requests or escapes.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
