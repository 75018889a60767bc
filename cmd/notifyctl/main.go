// Command notifyctl installs a systemd service from a plan, verified ready,
// and removes it without a trace. See `notifyctl --help`.
package main

import (
	"os"

	"github.com/notifyctl/notifyctl/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
