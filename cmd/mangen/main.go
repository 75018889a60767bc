// Command mangen writes notifyctl's man pages, generated from its commands,
// into a directory: `make man` runs it, and so does the Debian package build.
//
//	go run ./cmd/mangen DIR
//
// The pages' date is $SOURCE_DATE_EPOCH's when set (reproducible builds),
// and their version is the one the build sets in pkg/cli, as for notifyctl.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/notifyctl/notifyctl/pkg/cli"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprintln(os.Stderr, "usage: mangen DIR")
		os.Exit(2)
	}
	files, err := cli.WriteManPages(os.Args[1], func(c *cobra.Command, w io.Writer) error {
		header := &doc.GenManHeader{Section: "1", Source: "notifyctl " + cli.Version, Manual: "notifyctl manual"}
		return doc.GenMan(c, header, w)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}
