//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// snapshotIgnore lists what Snapshot leaves out: state that a host writes by
// itself, whatever notifyctl does, so comparing it would only give noise. An
// entry ending in "/**" covers that directory and everything below it; any other
// entry is one exact path.
//
//   - logs, caches, temporary files and the runtime directory;
//   - systemd's own state (/var/lib/systemd: timer stamps, random seed, linger,
//     ...) and the machine ID generated at first boot;
//   - the backup and lock files that useradd, userdel, groupdel & co. leave next
//     to the account databases. The databases themselves (/etc/passwd, group,
//     shadow, gshadow, subuid, subgid) are compared.
//
// Everything else is compared, notably /etc/systemd/system, /var/lib/notifyctl,
// the account databases and /opt.
var snapshotIgnore = []string{
	"/run/**",
	"/tmp/**",
	"/var/tmp/**",
	"/var/log/**",
	"/var/cache/**",
	"/var/lib/systemd/**",
	"/etc/machine-id",
	"/etc/passwd-",
	"/etc/group-",
	"/etc/shadow-",
	"/etc/gshadow-",
	"/etc/subuid-",
	"/etc/subgid-",
	"/etc/.pwd.lock",
}

// ignored reports whether the absolute, clean path p is covered by snapshotIgnore.
func ignored(p string) bool {
	for _, pattern := range snapshotIgnore {
		if dir, ok := strings.CutSuffix(pattern, "/**"); ok {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				return true
			}
		} else if p == pattern {
			return true
		}
	}
	return false
}

// Snapshot is the persistent state of a host at one moment, to compare with a
// later one (see Host.Snapshot and Snapshot.Diff).
//
// How it works. The overlay's upper layer (DIR/upper) holds exactly what the
// host has changed since it was created from the base (DIR/lower, read-only and
// never changed): new and modified files, the directories leading to them,
// whiteouts (character devices 0/0) for deleted entries, and opaque directories
// (xattr trusted.overlay.opaque=y) for directories that were removed and made
// again, which hide everything the base had below them. A path that is not in
// the upper layer therefore looks exactly as in the base, unless something in
// the upper layer hides it.
//
// A Snapshot records the state, in the merged view (DIR/root), of
//
//   - every path in the upper layer, and
//   - every base path below an upper entry that hides the base's content (a
//     whiteout, an opaque directory, or a non-directory that replaced a
//     directory), so that such deletions are seen path by path;
//
// leaving out snapshotIgnore. Any other path is, at that moment, exactly as in
// the base, which Diff reads from the lower layer when the other snapshot
// recorded the path. So two snapshots compare over the union of the paths they
// recorded, each side known exactly, even though the upper layer keeps no trace
// of a new path that was deleted again.
//
// Only the parts of a path's state that matter for "the host is as it was" are
// kept: type, permission bits (with setuid, setgid, sticky), owner, the content
// (sha256) of files and the target of symbolic links. Times, directory mtimes
// included, are not.
type Snapshot struct {
	states map[string]pathState // recorded paths
	lower  string               // the base, for paths not recorded
}

// Snapshot captures the host's persistent state (see Snapshot). Reading errors
// fail the test.
func (h *Host) Snapshot() Snapshot {
	h.t.Helper()
	lowerPath, err := os.ReadFile(filepath.Join(h.Dir, "lower"))
	if err != nil {
		h.t.Fatalf("e2e: Snapshot: %v", err)
	}
	lower := strings.TrimSpace(string(lowerPath))
	upper := filepath.Join(h.Dir, "upper")

	paths := map[string]bool{}
	var hiders []string // upper entries hiding what the base has below them
	err = filepath.WalkDir(upper, func(file string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed by the running host while walking
			}
			return err
		}
		p := hostPath(upper, file)
		if ignored(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		paths[p] = true
		switch {
		case d.IsDir():
			if xattr(file, "trusted.overlay.redirect") != "" {
				// Made by renaming a base directory with redirect_dir=on: its
				// content comes from elsewhere in the base, which the model
				// above does not cover. testhost.sh mounts without it.
				return fmt.Errorf("%s: overlay redirect (redirect_dir=on) is not supported", p)
			}
			if xattr(file, "trusted.overlay.opaque") == "y" {
				hiders = append(hiders, p)
			}
		default:
			// A whiteout, or a file, symlink... which may have replaced a
			// base directory: either way nothing of the base shows below it.
			hiders = append(hiders, p)
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("e2e: Snapshot: walking the upper layer: %v", err)
	}
	for _, p := range hiders {
		if st := stateAt(lower, p); st.Kind != kindDir {
			continue
		}
		err := filepath.WalkDir(filepath.Join(lower, p), func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			q := hostPath(lower, file)
			if ignored(q) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			paths[q] = true
			return nil
		})
		if err != nil {
			h.t.Fatalf("e2e: Snapshot: walking the base below %s: %v", p, err)
		}
	}

	s := Snapshot{states: make(map[string]pathState, len(paths)), lower: lower}
	for p := range paths {
		s.states[p] = stateAt(h.Root(), p)
	}
	return s
}

// Diff lists how other differs from s, one line per path, sorted by path;
// it is empty when both snapshots are equal. A line is one of
//
//	"+ PATH (STATE)"     absent in s, present in other
//	"- PATH (STATE)"     present in s, absent in other
//	"~ PATH: CHANGES"    changed: "mode 0644 -> 0600", "owner 0:0 -> 0:42",
//	                     "content differs", "target ..." or, when the type
//	                     changed, "STATE -> STATE"
//
// where STATE is like "file 0644 0:0 sha256:ab12cd34ef56..", "dir 0755 0:0" or
// "symlink -> TARGET 0:0". Both snapshots must be of the same host.
func (s Snapshot) Diff(other Snapshot) []string {
	union := map[string]bool{}
	for p := range s.states {
		union[p] = true
	}
	for p := range other.states {
		union[p] = true
	}
	paths := make([]string, 0, len(union))
	for p := range union {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	var diff []string
	for _, p := range paths {
		a, b := s.stateOf(p), other.stateOf(p)
		switch {
		case a == b:
		case a.Kind == kindAbsent:
			diff = append(diff, fmt.Sprintf("+ %s (%s)", p, b))
		case b.Kind == kindAbsent:
			diff = append(diff, fmt.Sprintf("- %s (%s)", p, a))
		case a.Kind != b.Kind:
			diff = append(diff, fmt.Sprintf("~ %s: %s -> %s", p, a, b))
		default:
			var changes []string
			if a.Mode != b.Mode {
				changes = append(changes, fmt.Sprintf("mode %04o -> %04o", a.Mode, b.Mode))
			}
			if a.UID != b.UID || a.GID != b.GID {
				changes = append(changes, fmt.Sprintf("owner %d:%d -> %d:%d", a.UID, a.GID, b.UID, b.GID))
			}
			if a.SHA256 != b.SHA256 {
				changes = append(changes, "content differs")
			}
			if a.Target != b.Target {
				changes = append(changes, fmt.Sprintf("target %q -> %q", a.Target, b.Target))
			}
			if a.Detail != b.Detail {
				changes = append(changes, fmt.Sprintf("%s -> %s", a.Detail, b.Detail))
			}
			diff = append(diff, fmt.Sprintf("~ %s: %s", p, strings.Join(changes, ", ")))
		}
	}
	return diff
}

// stateOf is the state of p when s was taken: as recorded, or else as in the base.
func (s Snapshot) stateOf(p string) pathState {
	if st, ok := s.states[p]; ok {
		return st
	}
	return stateAt(s.lower, p)
}

// Kinds of pathState.
const (
	kindAbsent  = "absent"
	kindFile    = "file"
	kindDir     = "dir"
	kindSymlink = "symlink"
	kindOther   = "other"
	kindError   = "unreadable"
)

// pathState is what a Snapshot keeps of one path. It is comparable with ==.
type pathState struct {
	Kind     string
	Mode     uint32 // permission bits, with setuid, setgid and sticky
	UID, GID uint32
	SHA256   string // of a file's content, hex
	Target   string // of a symlink
	Detail   string // of other kinds (device, fifo, socket) and of errors
}

func (st pathState) String() string {
	switch st.Kind {
	case kindAbsent:
		return kindAbsent
	case kindError:
		return kindError + ": " + st.Detail
	case kindSymlink:
		return fmt.Sprintf("symlink -> %s %d:%d", st.Target, st.UID, st.GID)
	}
	s := fmt.Sprintf("%s %04o %d:%d", st.Kind, st.Mode, st.UID, st.GID)
	switch st.Kind {
	case kindFile:
		s += " sha256:" + st.SHA256[:12] + ".."
	case kindOther:
		s += " " + st.Detail
	}
	return s
}

// stateAt is the state of the absolute path p inside the tree at root, without
// following any symbolic link: a path below a symlink (or any non-directory) is
// absent, as it is for the host, whose symlinks point into its own root rather
// than ours.
func stateAt(root, p string) pathState {
	file := root
	for _, name := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if name == "" {
			continue
		}
		// The parent is, so far, a directory: check it is still one below.
		if file != root {
			fi, err := os.Lstat(file)
			if err != nil {
				return errorState(err)
			}
			if !fi.IsDir() {
				return pathState{Kind: kindAbsent}
			}
		}
		file = filepath.Join(file, name)
	}
	fi, err := os.Lstat(file)
	if err != nil {
		return errorState(err)
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return pathState{Kind: kindError, Detail: "no stat_t"}
	}
	st := pathState{Mode: sys.Mode & 0o7777, UID: sys.Uid, GID: sys.Gid}
	switch sys.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		st.Kind = kindFile
		sum, err := fileSHA256(file)
		if err != nil {
			return errorState(err)
		}
		st.SHA256 = sum
	case syscall.S_IFDIR:
		st.Kind = kindDir
	case syscall.S_IFLNK:
		st.Kind = kindSymlink
		st.Mode = 0 // meaningless on Linux
		if st.Target, err = os.Readlink(file); err != nil {
			return errorState(err)
		}
	case syscall.S_IFCHR:
		st.Kind, st.Detail = kindOther, "char device "+devNumbers(uint64(sys.Rdev))
	case syscall.S_IFBLK:
		st.Kind, st.Detail = kindOther, "block device "+devNumbers(uint64(sys.Rdev))
	case syscall.S_IFIFO:
		st.Kind, st.Detail = kindOther, "fifo"
	case syscall.S_IFSOCK:
		st.Kind, st.Detail = kindOther, "socket"
	default:
		st.Kind, st.Detail = kindOther, fmt.Sprintf("type %#o", sys.Mode&syscall.S_IFMT)
	}
	return st
}

// errorState is the state of a path that could not be read: absent if it does
// not exist, else an error state, which differs from any real state so that the
// problem shows in diffs.
func errorState(err error) pathState {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return pathState{Kind: kindAbsent}
	}
	return pathState{Kind: kindError, Detail: err.Error()}
}

func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// devNumbers formats a Linux device number as major:minor (glibc's encoding).
func devNumbers(dev uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return fmt.Sprintf("%d:%d", major, minor&0xffffffff)
}

// hostPath is the absolute path, inside the host, of file found below root.
func hostPath(root, file string) string {
	rel, err := filepath.Rel(root, file)
	if err != nil || rel == "." {
		return "/"
	}
	return path.Join("/", filepath.ToSlash(rel))
}

// xattr is the value of the extended attribute name of file (following
// symlinks), or "" if it has none.
func xattr(file, name string) string {
	buf := make([]byte, 256)
	n, err := syscall.Getxattr(file, name, buf)
	if err != nil || n <= 0 {
		return ""
	}
	return string(buf[:n])
}
