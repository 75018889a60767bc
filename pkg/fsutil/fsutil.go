// Package fsutil writes and removes system files without following symlinks.
//
// notifyctl runs as root and writes into directories that other users may be
// able to influence. Every function here takes an absolute, clean path and
// resolves it one component at a time from "/", opening each directory with
// O_NOFOLLOW. A symlink in any component, parent or final, is refused with an
// error wrapping ErrSymlink; the only exceptions are Stat, which reports a
// final symlink as such, and Remove, which removes the link itself. All work is
// then done relative to the parent directory's file descriptor, so a symlink
// planted after the check cannot redirect it either.
package fsutil

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/notifyctl/notifyctl/pkg/failpoint"
)

// ErrSymlink is wrapped by errors reporting a symlink where none may be followed.
var ErrSymlink = errors.New("symlink in the way")

// ErrNotEmpty is wrapped by the error RemoveDir returns for a non-empty directory.
var ErrNotEmpty = errors.New("directory not empty")

// Info is what exists at a path, read without following symlinks.
type Info struct {
	Exists                      bool
	IsDir, IsRegular, IsSymlink bool
	Mode                        uint32 // permission bits incl. setuid/setgid/sticky (07777)
	UID, GID                    int
	Size                        int64
}

// Stat describes what is at path without following a final symlink, which is
// reported with IsSymlink. A missing path, or a missing parent, gives
// Info{Exists: false} and no error; a symlink in a parent is an error.
func Stat(path string) (Info, error) {
	dfd, name, err := openParent(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, nil
	}
	if err != nil {
		return Info{}, err
	}
	defer unix.Close(dfd)
	return statAt(dfd, name, path)
}

// ReadFile returns the content of the regular file at path. It refuses
// symlinks, other file types and files larger than max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	dfd, name, err := openParent(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	fd, err := openObject(dfd, name, path)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	// Read into a buffer of the file's size (one allocation, where growing
	// one would copy a large file many times), plus one byte to see growth.
	buf := bytes.NewBuffer(make([]byte, 0, fi.Size()+1))
	if _, err := buf.ReadFrom(io.LimitReader(f, max+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return buf.Bytes(), nil
}

// Equal says whether the regular file at path holds exactly want, reading it
// in chunks without following symlinks: comparing a large file that has not
// changed costs no allocation of its size.
func Equal(path string, want []byte) (bool, error) {
	dfd, name, err := openParent(path)
	if err != nil {
		return false, err
	}
	defer unix.Close(dfd)
	fd, err := openObject(dfd, name, path)
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(want)) {
		return false, nil
	}
	chunk := make([]byte, 256<<10)
	for off := 0; ; {
		n, err := f.Read(chunk)
		if n > 0 {
			if off+n > len(want) || !bytes.Equal(chunk[:n], want[off:off+n]) {
				return false, nil
			}
			off += n
		}
		if err == io.EOF {
			return off == len(want), nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
	}
}

// WriteFile atomically replaces the file at path with data, owned by uid:gid
// with permission bits mode (setuid/setgid/sticky included; the umask does not
// apply). The data goes to a temporary file in the same directory, which is
// synced and renamed over path; the directory is synced afterwards. An
// existing directory or symlink at path is refused, never replaced.
func WriteFile(path string, data []byte, mode uint32, uid, gid int) error {
	dfd, name, err := openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	switch old, err := statAt(dfd, name, path); {
	case err != nil:
		return err
	case old.IsSymlink:
		return &symlinkError{path: path, at: path}
	case old.IsDir:
		return fmt.Errorf("%s: %w", path, unix.EISDIR)
	}

	tmp := tempPrefix(name) + rand.Text()[:6]
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("%s: create temporary file: %w", path, err)
	}
	if err := writeTemp(os.NewFile(uintptr(fd), tmp), data, mode, uid, gid); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("%s: %w", path, err)
	}
	failpoint.Inject("fsutil.before-rename")
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("%s: rename: %w", path, err)
	}
	return syncDir(dfd, path)
}

// tempPrefix starts the name of WriteFile's temporary files for name.
func tempPrefix(name string) string { return "." + name + ".notifyctl-" }

// RemoveTemps removes the temporary files a WriteFile of path left behind
// when the process was killed before the rename. It returns their number.
func RemoveTemps(path string) (int, error) {
	dfd, name, err := openParent(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	defer unix.Close(dfd)
	// Listing needs an *os.File, which closes its own descriptor: give it a copy.
	dup, err := unix.Dup(dfd)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", filepath.Dir(path), err)
	}
	dir := os.NewFile(uintptr(dup), filepath.Dir(path))
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("%s: list: %w", filepath.Dir(path), err)
	}
	n := 0
	for _, entry := range names {
		if !strings.HasPrefix(entry, tempPrefix(name)) || len(entry) != len(tempPrefix(name))+6 {
			continue
		}
		if err := unix.Unlinkat(dfd, entry, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return n, fmt.Errorf("%s: remove %s: %w", path, entry, err)
		}
		n++
	}
	if n > 0 {
		return n, syncDir(dfd, path)
	}
	return 0, nil
}

// writeTemp fills, owns and syncs the new file f, and closes it. The mode is
// set after the owner because chown clears the setuid and setgid bits.
func writeTemp(f *os.File, data []byte, mode uint32, uid, gid int) error {
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if err := unix.Fchmod(int(f.Fd()), mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// Mkdir creates the directory path, owned by uid:gid with permission bits
// mode (the umask does not apply). Its parent must exist. An existing
// directory is left exactly as it is and reported with created=false; a
// symlink or any other file at path is an error.
func Mkdir(path string, mode uint32, uid, gid int) (created bool, err error) {
	dfd, name, err := openParent(path)
	if err != nil {
		return false, err
	}
	defer unix.Close(dfd)
	if err := unix.Mkdirat(dfd, name, 0o700); errors.Is(err, unix.EEXIST) {
		switch old, err := statAt(dfd, name, path); {
		case err != nil:
			return false, err
		case old.IsDir:
			return false, nil
		case old.IsSymlink:
			return false, &symlinkError{path: path, at: path}
		default:
			return false, fmt.Errorf("%s: exists: %w", path, unix.ENOTDIR)
		}
	} else if err != nil {
		return false, fmt.Errorf("%s: mkdir: %w", path, err)
	}
	if err := setOwnerMode(dfd, name, path, &mode, uid, gid); err != nil {
		unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
		return false, err
	}
	return true, syncDir(dfd, path)
}

// Chown sets the owner of the file or directory at path; -1 leaves an ID
// unchanged. Symlinks and special files are refused. Changing the owner of a
// file clears its setuid and setgid bits, so call Chmod afterwards.
func Chown(path string, uid, gid int) error {
	dfd, name, err := openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return setOwnerMode(dfd, name, path, nil, uid, gid)
}

// Chmod sets the permission bits, setuid/setgid/sticky included, of the file
// or directory at path. Symlinks and special files are refused.
func Chmod(path string, mode uint32) error {
	dfd, name, err := openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return setOwnerMode(dfd, name, path, &mode, -1, -1)
}

// setOwnerMode sets the owner (-1 leaves an ID unchanged) and then, unless
// mode is nil, the permission bits of the file or directory name in dfd.
func setOwnerMode(dfd int, name, path string, mode *uint32, uid, gid int) error {
	fd, err := openObject(dfd, name, path)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: stat: %w", path, err)
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
		return fmt.Errorf("%s: not a regular file or directory", path)
	}
	// A chown that changes nothing is skipped: it would still clear the
	// setuid and setgid bits.
	if (uid != -1 && uid != int(st.Uid)) || (gid != -1 && gid != int(st.Gid)) {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fmt.Errorf("%s: chown: %w", path, err)
		}
	}
	if mode != nil {
		if err := unix.Fchmod(fd, *mode); err != nil {
			return fmt.Errorf("%s: chmod: %w", path, err)
		}
	}
	return nil
}

// Remove removes the file at path; a symlink is removed itself, not its
// target. A missing path is not an error; a directory is.
func Remove(path string) error {
	dfd, name, err := openParent(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := unix.Unlinkat(dfd, name, 0); errors.Is(err, unix.ENOENT) {
		return nil
	} else if err != nil {
		return fmt.Errorf("%s: remove: %w", path, err)
	}
	return syncDir(dfd, path)
}

// RemoveDir removes the empty directory at path and reports whether it did.
// A missing path gives (false, nil); a non-empty directory gives an error
// wrapping ErrNotEmpty.
func RemoveDir(path string) (removed bool, err error) {
	dfd, name, err := openParent(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unix.Close(dfd)
	switch err := unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR); {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST):
		return false, fmt.Errorf("%s: %w", path, ErrNotEmpty)
	case err != nil:
		return false, fmt.Errorf("%s: remove: %w", path, err)
	}
	return true, syncDir(dfd, path)
}

// Sum returns the hex-encoded SHA-256 of data.
func Sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// SumFile is Sum of the regular file at path, read in chunks without
// following symlinks: hashing a large file costs no allocation of its size.
func SumFile(path string) (string, error) {
	dfd, name, err := openParent(path)
	if err != nil {
		return "", err
	}
	defer unix.Close(dfd)
	fd, err := openObject(dfd, name, path)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 256<<10)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// symlinkError reports a symlink at component at while resolving path.
type symlinkError struct{ path, at string }

func (e *symlinkError) Error() string {
	return e.path + ": refusing to follow a symlink at " + e.at
}

func (e *symlinkError) Unwrap() error { return ErrSymlink }

// openParent opens the directory holding the final component of path,
// walking from "/" without following symlinks, and returns it along with
// that component's name. Intermediate directories are opened with O_PATH
// (search permission suffices); the parent itself is opened for reading so
// that it can be fsynced.
func openParent(path string) (dfd int, name string, err error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path || path == "/" {
		return -1, "", fmt.Errorf("%s: not an absolute clean path", path)
	}
	parts := strings.Split(path[1:], "/")
	dirs, name := parts[:len(parts)-1], parts[len(parts)-1]
	flags := func(i int) int {
		if i == len(dirs) {
			return unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		return unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	dfd, err = unix.Open("/", flags(0), 0)
	if err != nil {
		return -1, "", fmt.Errorf("%s: open /: %w", path, err)
	}
	for i, dir := range dirs {
		at := "/" + strings.Join(dirs[:i+1], "/")
		next, openErr := unix.Openat(dfd, dir, flags(i+1), 0)
		if openErr != nil {
			err = openError(dfd, dir, path, at, openErr)
		}
		unix.Close(dfd)
		if err != nil {
			return -1, "", err
		}
		dfd = next
	}
	return dfd, name, nil
}

// openObject opens name in dfd read-only without following a symlink there.
// O_NONBLOCK and O_NOCTTY keep a FIFO or terminal from blocking or attaching.
func openObject(dfd int, name, path string) (int, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, openError(dfd, name, path, path, err)
	}
	return fd, nil
}

// openError explains a failed O_NOFOLLOW open of name in dfd (the component
// at of path): a symlink gives ErrSymlink, anything else the open error.
func openError(dfd int, name, path, at string, err error) error {
	var st unix.Stat_t
	if (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) &&
		unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return &symlinkError{path: path, at: at}
	}
	if at == path {
		return fmt.Errorf("%s: open: %w", path, err)
	}
	return fmt.Errorf("%s: parent %s: %w", path, at, err)
}

// statAt describes name in dfd without following a symlink.
func statAt(dfd int, name, path string) (Info, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return Info{}, nil
	}
	if err != nil {
		return Info{}, fmt.Errorf("%s: stat: %w", path, err)
	}
	t := st.Mode & unix.S_IFMT
	return Info{
		Exists:    true,
		IsDir:     t == unix.S_IFDIR,
		IsRegular: t == unix.S_IFREG,
		IsSymlink: t == unix.S_IFLNK,
		Mode:      st.Mode & 0o7777,
		UID:       int(st.Uid),
		GID:       int(st.Gid),
		Size:      st.Size,
	}, nil
}

// syncDir flushes the directory dfd, making a rename or unlink in it durable.
func syncDir(dfd int, path string) error {
	if err := unix.Fsync(dfd); err != nil {
		return fmt.Errorf("%s: sync directory: %w", path, err)
	}
	return nil
}
