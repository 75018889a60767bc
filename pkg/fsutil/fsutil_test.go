package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// tempDir returns a fresh directory whose path has no symlinks in it.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// withUmask runs the test under a umask that would spoil any mode it applied to.
func withUmask(t *testing.T) {
	old := unix.Umask(0o077)
	t.Cleanup(func() { unix.Umask(old) })
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lstat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func perm(t *testing.T, path string) uint32 {
	t.Helper()
	return lstat(t, path).Mode & 0o7777
}

func wantSymlinkErr(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, ErrSymlink) {
		t.Errorf("%s: got %v, want an error wrapping ErrSymlink", op, err)
	}
}

func TestWriteFileModeAndContent(t *testing.T) {
	withUmask(t)
	dir := tempDir(t)
	uid, gid := os.Getuid(), os.Getgid()

	for _, mode := range []uint32{0o640, 0o4755, 0o2750} {
		path := filepath.Join(dir, "f")
		if err := WriteFile(path, []byte("hello\n"), mode, uid, gid); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, path); got != "hello\n" {
			t.Errorf("content = %q", got)
		}
		st := lstat(t, path)
		if got := st.Mode & 0o7777; got != mode {
			t.Errorf("mode = %#o, want %#o", got, mode)
		}
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
		}
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := tempDir(t)
	path := filepath.Join(dir, "unit.service")
	if err := WriteFile(path, []byte("old"), 0o644, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	oldIno := lstat(t, path).Ino

	if err := WriteFile(path, []byte("new content"), 0o600, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, path); got != "new content" {
		t.Errorf("content = %q", got)
	}
	if st := lstat(t, path); st.Ino == oldIno {
		t.Error("inode unchanged: file was rewritten in place, not renamed over")
	} else if st.Mode&0o7777 != 0o600 {
		t.Errorf("mode = %#o, want 0600", st.Mode&0o7777)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "unit.service" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only unit.service", names)
	}
}

func TestWriteFileRefusesDirectory(t *testing.T) {
	dir := tempDir(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "d"), []byte("x"), 0o644, os.Getuid(), os.Getgid()); err == nil {
		t.Error("WriteFile over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (temp file left behind?)", len(entries))
	}
}

func TestWriteFileRefusesFinalSymlink(t *testing.T) {
	dir := tempDir(t)
	outside := tempDir(t)
	victim := filepath.Join(outside, "shadow")
	mustWrite(t, victim, "secret")
	link := filepath.Join(dir, "app.conf")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}

	err := WriteFile(link, []byte("pwned"), 0o644, os.Getuid(), os.Getgid())
	wantSymlinkErr(t, "WriteFile", err)
	if err != nil && !strings.HasPrefix(err.Error(), link+": ") {
		t.Errorf("error %q does not start with the path", err)
	}
	if got := mustRead(t, victim); got != "secret" {
		t.Errorf("symlink target changed to %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("symlink replaced: %v, %v", fi, err)
	}
}

// TestSymlinkInParent plants dir/sub -> other and checks that no operation
// reaches through it, whether sub is the immediate parent or further up.
func TestSymlinkInParent(t *testing.T) {
	withUmask(t)
	dir := tempDir(t)
	other := tempDir(t)
	if err := os.Symlink(other, filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(other, "f"), "keep")
	for _, d := range []string{"empty", "d"} {
		if err := os.Mkdir(filepath.Join(other, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(other, "d", "f"), "keep")
	if err := os.Mkdir(filepath.Join(other, "d", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, other)

	uid, gid := os.Getuid(), os.Getgid()
	for name, base := range map[string]string{
		"parent":   filepath.Join(dir, "sub"),
		"ancestor": filepath.Join(dir, "sub", "d"),
	} {
		t.Run(name, func(t *testing.T) {
			wantSymlinkErr(t, "WriteFile", WriteFile(filepath.Join(base, "new"), []byte("x"), 0o644, uid, gid))
			wantSymlinkErr(t, "WriteFile existing", WriteFile(filepath.Join(base, "f"), []byte("x"), 0o644, uid, gid))
			_, err := Mkdir(filepath.Join(base, "newdir"), 0o755, uid, gid)
			wantSymlinkErr(t, "Mkdir", err)
			wantSymlinkErr(t, "Remove", Remove(filepath.Join(base, "f")))
			_, err = RemoveDir(filepath.Join(base, "empty"))
			wantSymlinkErr(t, "RemoveDir", err)
			wantSymlinkErr(t, "Chmod", Chmod(filepath.Join(base, "f"), 0o777))
			wantSymlinkErr(t, "Chown", Chown(filepath.Join(base, "f"), uid, gid))
			_, err = Stat(filepath.Join(base, "f"))
			wantSymlinkErr(t, "Stat", err)
			_, err = ReadFile(filepath.Join(base, "f"), 100)
			wantSymlinkErr(t, "ReadFile", err)

			want := filepath.Join(dir, "sub")
			if err != nil && !strings.Contains(err.Error(), "symlink at "+want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		})
	}
	if after := snapshot(t, other); after != before {
		t.Errorf("directory behind the symlink changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshot describes every entry under root: name, type, mode and content.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(path + " " + fi.Mode().String())
		if fi.Mode().IsRegular() {
			b.WriteString(" " + mustRead(t, path))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestMkdir(t *testing.T) {
	withUmask(t)
	dir := tempDir(t)
	path := filepath.Join(dir, "app")
	uid, gid := os.Getuid(), os.Getgid()

	created, err := Mkdir(path, 0o750, uid, gid)
	if err != nil || !created {
		t.Fatalf("Mkdir = %v, %v; want true, nil", created, err)
	}
	if got := perm(t, path); got != 0o750 {
		t.Errorf("mode = %#o, want 0750", got)
	}

	if err := os.Chmod(path, 0o700); err != nil {
		t.Fatal(err)
	}
	created, err = Mkdir(path, 0o755, uid, gid)
	if err != nil || created {
		t.Fatalf("second Mkdir = %v, %v; want false, nil", created, err)
	}
	if got := perm(t, path); got != 0o700 {
		t.Errorf("existing directory's mode changed to %#o", got)
	}

	_, err = Mkdir(filepath.Join(dir, "missing", "app"), 0o755, uid, gid)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Mkdir with missing parent: got %v, want ErrNotExist", err)
	}

	mustWrite(t, filepath.Join(dir, "file"), "")
	if _, err := Mkdir(filepath.Join(dir, "file"), 0o755, uid, gid); err == nil {
		t.Error("Mkdir over a regular file succeeded")
	}

	if err := os.Symlink(path, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	_, err = Mkdir(filepath.Join(dir, "link"), 0o755, uid, gid)
	wantSymlinkErr(t, "Mkdir over a symlink to a directory", err)
}

func TestRemove(t *testing.T) {
	dir := tempDir(t)
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link")
	mustWrite(t, target, "keep")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}

	if err := Remove(link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link still there: %v", err)
	}
	if got := mustRead(t, target); got != "keep" {
		t.Errorf("target content = %q", got)
	}

	if err := Remove(target); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if err := Remove(target); err != nil {
		t.Errorf("Remove of a missing file: %v", err)
	}
	if err := Remove(filepath.Join(dir, "missing", "f")); err != nil {
		t.Errorf("Remove under a missing directory: %v", err)
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Remove(sub); err == nil {
		t.Error("Remove of a directory succeeded")
	}
	if _, err := os.Lstat(sub); err != nil {
		t.Errorf("directory gone: %v", err)
	}
}

func TestRemoveDir(t *testing.T) {
	dir := tempDir(t)
	full := filepath.Join(dir, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(full, "f"), "")

	removed, err := RemoveDir(full)
	if removed || !errors.Is(err, ErrNotEmpty) {
		t.Errorf("RemoveDir of a non-empty directory = %v, %v; want false, ErrNotEmpty", removed, err)
	}
	if _, err := os.Lstat(filepath.Join(full, "f")); err != nil {
		t.Errorf("content gone: %v", err)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if removed, err := RemoveDir(empty); !removed || err != nil {
		t.Errorf("RemoveDir = %v, %v; want true, nil", removed, err)
	}
	if _, err := os.Lstat(empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory still there: %v", err)
	}
	if removed, err := RemoveDir(empty); removed || err != nil {
		t.Errorf("RemoveDir of a missing directory = %v, %v; want false, nil", removed, err)
	}
}

func TestStat(t *testing.T) {
	dir := tempDir(t)
	file := filepath.Join(dir, "file")
	mustWrite(t, file, "12345")
	if err := unix.Chmod(file, 0o4710); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()

	tests := []struct {
		path string
		want Info
	}{
		{filepath.Join(dir, "missing"), Info{}},
		{filepath.Join(dir, "missing", "deeper"), Info{}},
		{file, Info{Exists: true, IsRegular: true, Mode: 0o4710, UID: uid, GID: gid, Size: 5}},
		{link, Info{Exists: true, IsSymlink: true, Mode: 0o777, UID: uid, GID: gid, Size: int64(len(file))}},
	}
	for _, tt := range tests {
		got, err := Stat(tt.path)
		if err != nil || got != tt.want {
			t.Errorf("Stat(%s) = %+v, %v; want %+v", tt.path, got, err, tt.want)
		}
	}

	got, err := Stat(dir)
	if err != nil || !got.Exists || !got.IsDir || got.IsRegular || got.IsSymlink {
		t.Errorf("Stat(dir) = %+v, %v", got, err)
	}
}

func TestReadFile(t *testing.T) {
	dir := tempDir(t)
	file := filepath.Join(dir, "file")
	mustWrite(t, file, "0123456789")

	if got, err := ReadFile(file, 10); err != nil || string(got) != "0123456789" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	if got, err := ReadFile(file, 9); err == nil {
		t.Errorf("ReadFile over max = %q, want an error", got)
	}
	if _, err := ReadFile(dir, 1<<20); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: got %v, want ErrNotExist", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(link, 100)
	wantSymlinkErr(t, "ReadFile", err)
}

func TestChmodChown(t *testing.T) {
	withUmask(t)
	dir := tempDir(t)
	file := filepath.Join(dir, "file")
	mustWrite(t, file, "")

	if err := Chmod(file, 0o4751); err != nil {
		t.Fatal(err)
	}
	if got := perm(t, file); got != 0o4751 {
		t.Errorf("mode = %#o, want 04751", got)
	}
	if err := Chown(file, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	if got := perm(t, file); got != 0o4751 {
		t.Errorf("no-op Chown changed mode to %#o", got)
	}
	if err := Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	if got := perm(t, dir); got != 0o711 {
		t.Errorf("directory mode = %#o, want 0711", got)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	wantSymlinkErr(t, "Chmod", Chmod(link, 0o777))
	wantSymlinkErr(t, "Chown", Chown(link, os.Getuid(), os.Getgid()))
	if got := perm(t, file); got != 0o4751 {
		t.Errorf("symlink target's mode changed to %#o", got)
	}
}

func TestRejectsUncleanPaths(t *testing.T) {
	for _, p := range []string{"relative/x", "/a/../b", "/a/", "/"} {
		if _, err := Stat(p); err == nil {
			t.Errorf("Stat(%q) succeeded", p)
		}
	}
}

func TestSum(t *testing.T) {
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := Sum([]byte("abc")); got != want {
		t.Errorf("Sum = %s", got)
	}
}

func TestSumFile(t *testing.T) {
	dir := tempDir(t)
	file := filepath.Join(dir, "file")
	mustWrite(t, file, "abc")
	if got, err := SumFile(file); err != nil || got != Sum([]byte("abc")) {
		t.Errorf("SumFile = %s, %v; want %s", got, err, Sum([]byte("abc")))
	}
	// More than one chunk.
	big := strings.Repeat("0123456789abcdef", 40000)
	mustWrite(t, file, big)
	if got, err := SumFile(file); err != nil || got != Sum([]byte(big)) {
		t.Errorf("SumFile of %d bytes = %s, %v", len(big), got, err)
	}
	if _, err := SumFile(dir); err == nil {
		t.Error("SumFile of a directory succeeded")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	_, err := SumFile(link)
	wantSymlinkErr(t, "SumFile", err)
}
