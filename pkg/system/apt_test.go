package system

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadStatus(t *testing.T) {
	file := filepath.Join(t.TempDir(), "status")
	os.WriteFile(file, []byte(strings.Join([]string{
		"Package: curl\nStatus: install ok installed\nVersion: 7.88\n",
		"Package: python3-flask\nStatus: deinstall ok config-files\n",
		"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nDescription: GNU C Library\n multi-line\n",
		"Package: half\nStatus: install ok half-installed\n",
	}, "\n")), 0o644)
	got, err := readStatus(file)
	if err != nil {
		t.Fatal(err)
	}
	if !got["curl"] || !got["libc6"] || got["python3-flask"] || got["half"] || len(got) != 2 {
		t.Errorf("installed = %v, want curl and libc6 only", got)
	}
}

// On this machine (Debian), the status file and dpkg-query agree.
func TestStatusFileAgreesWithDpkgQuery(t *testing.T) {
	names := []string{"dpkg", "coreutils", "no-such-package-here"}
	fromFile, err := readStatus(dpkgStatus)
	if err != nil {
		t.Fatalf("this test needs a Debian machine: %v", err)
	}
	fromQuery := queryInstalled(context.Background(), names)
	for _, n := range names {
		if fromFile[n] != fromQuery[n] {
			t.Errorf("%s: status file says %v, dpkg-query %v", n, fromFile[n], fromQuery[n])
		}
	}
	if !fromFile["dpkg"] || fromFile["no-such-package-here"] {
		t.Errorf("dpkg installed: %v; a missing package: %v", fromFile["dpkg"], fromFile["no-such-package-here"])
	}
}

func TestAlsoRemoved(t *testing.T) {
	sim := "NOTE: This is only a simulation!\nRemv python3-flask [2.2.2-3] [python3-flask-sqlalchemy:amd64 ]\nRemv python3-flask-sqlalchemy:amd64 [3.0.3-1]\nRemv curl [7.88.1-10]\n"
	got := alsoRemoved(sim, []string{"python3-flask", "curl"})
	if strings.Join(got, " ") != "python3-flask-sqlalchemy" {
		t.Errorf("alsoRemoved = %v, want the dependent package only", got)
	}
	if got := alsoRemoved("Remv curl [7.88]\n", []string{"curl"}); len(got) != 0 {
		t.Errorf("alsoRemoved = %v for the package alone", got)
	}
}
