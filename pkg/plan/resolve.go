package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Resolve finds the plan arg names: "" is the default embedded plan, a bare
// name (no slash, no .yaml) an embedded plan, anything else a plan directory
// or plan file on disk. A bare name with no embedded plan of that name is
// looked for on disk too.
func Resolve(arg string, embedded fs.FS, def string) (*Plan, error) {
	if arg == "" {
		arg = def
	}
	if isName(arg) {
		if sub, err := fs.Sub(embedded, arg); err == nil {
			if _, err := fs.Stat(sub, FileName); err == nil {
				return Load(sub, FileName, "embedded:"+arg+"/"+FileName, "embedded:"+arg)
			}
		}
		if _, err := os.Stat(arg); err != nil {
			return nil, &Error{File: arg, Msg: fmt.Sprintf("no such plan: not an embedded plan (%s) nor a path", strings.Join(Embedded(embedded), ", "))}
		}
	}
	return loadPath(arg)
}

func isName(arg string) bool {
	return !strings.ContainsRune(arg, '/') && !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml") && arg != "." && arg != ".."
}

// loadPath loads a plan directory or a plan file from disk.
func loadPath(arg string) (*Plan, error) {
	st, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: arg, Msg: "no such plan file or directory"}
		}
		return nil, &Error{File: arg, Msg: err.Error()}
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return nil, &Error{File: arg, Msg: err.Error()}
	}
	dir, file, source := abs, FileName, filepath.Join(arg, FileName)
	if !st.IsDir() {
		// A plan file given by a symlink is read where it really is: its
		// sources are next to it.
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		dir, file = filepath.Split(abs)
		source = arg
	}
	// Through an os.Root, no name in the plan (its sources, the plan file
	// itself) reaches outside the plan directory, not even by a symlink.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &Error{File: arg, Msg: err.Error()}
	}
	defer root.Close()
	return Load(root.FS(), file, source, abs)
}

// Embedded lists the embedded plans.
func Embedded(embedded fs.FS) []string {
	entries, _ := fs.ReadDir(embedded, ".")
	var names []string
	for _, e := range entries {
		if _, err := fs.Stat(embedded, e.Name()+"/"+FileName); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}
