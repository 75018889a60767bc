// Package journal records what install did to a host, so that uninstall can
// undo exactly that and nothing else.
//
// A journal is an append-only file of JSON records, one per line, fsynced one
// at a time. For every step that changes the host, an intent record (what the
// step is about to do and what existed before) is written before the step acts,
// and an outcome record (done or failed) after. A crash at any moment therefore
// leaves a journal that names every change that may have happened. A record
// torn by a crash (the last line, without its newline) is ignored on read.
//
// Contents that a step replaces are kept beside the journal, in backup/, and
// written before the intent that names them.
package journal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/notifyctl/notifyctl/pkg/failpoint"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
)

// Root is where journals live, one directory per plan.
const Root = "/var/lib/notifyctl"

// Ops of a record.
const (
	OpIntent = "intent" // the step is about to act; Before says what existed
	OpDone   = "done"   // the step's action completed
	OpFailed = "failed" // the step's action failed (it may have partly happened)
	OpUndone = "undone" // the change was undone (by rollback or uninstall)
)

// Record is one line of the journal.
type Record struct {
	Seq    int             `json:"seq"`
	Op     string          `json:"op"`
	Run    string          `json:"run,omitempty"`    // intent: the run that made it
	Time   time.Time       `json:"time"`             // when the record was written
	Step   string          `json:"step,omitempty"`   // intent: the step kind, such as "file"
	Key    string          `json:"key,omitempty"`    // intent: the resource, such as a path
	Action string          `json:"action,omitempty"` // intent: create, update, ...
	Before json.RawMessage `json:"before,omitempty"` // intent: the state before, as the step records it
	Error  string          `json:"error,omitempty"`  // failed: why
	Ref    int             `json:"ref,omitempty"`    // done, failed, undone: the intent's Seq
	// Sum chains the records: a hash of the previous record's Sum and of this
	// record without its Sum. A record edited, removed or inserted by hand
	// breaks the chain from there on.
	Sum string `json:"sum"`
}

// chain computes the Sum of r following a record whose Sum is prev.
func chain(prev string, r Record) string {
	r.Sum = ""
	b, _ := json.Marshal(r)
	h := sha256.Sum256(append([]byte(prev+"\n"), b...))
	return hex.EncodeToString(h[:8])
}

// Entry is an intent with what became of it.
type Entry struct {
	Record
	Outcome string // "", OpDone or OpFailed: "" means unknown (the run died while acting)
	Undone  bool
}

// Journal is an open journal file.
type Journal struct {
	dir  string
	f    *os.File
	next int
	recs []Record
	// broken is the first line whose Sum does not follow from the records
	// before it (0: the chain holds).
	broken int
	// readOnly journals are only read: nothing is cut, nothing appended.
	readOnly bool
}

func (j *Journal) lastSum() string {
	if len(j.recs) == 0 {
		return ""
	}
	return j.recs[len(j.recs)-1].Sum
}

// Broken returns the first line that was changed by hand, or 0.
func (j *Journal) Broken() int { return j.broken }

// TrustedSeq returns the Seq of the last record before the first line changed
// by hand (0 when that is the first line), or -1 when the chain holds.
func (j *Journal) TrustedSeq() int {
	if j.broken == 0 {
		return -1
	}
	if j.broken == 1 {
		return 0
	}
	return j.recs[j.broken-2].Seq
}

// Dir is the journal directory of a plan.
func Dir(plan string) string { return filepath.Join(Root, plan) }

// RemoveEmptyRoot removes the journals' root if no plan is left in it: an
// install killed right after creating it left it empty.
func RemoveEmptyRoot() error {
	_, err := fsutil.RemoveDir(Root)
	if errors.Is(err, fsutil.ErrNotEmpty) {
		return nil
	}
	return err
}

// Exists says whether a plan has a journal directory (a run killed right
// after creating it may have left it without a journal file).
func Exists(plan string) (bool, error) {
	info, err := fsutil.Stat(Dir(plan))
	if err != nil {
		return false, err
	}
	return info.Exists, nil
}

// Open opens (creating it with create) the journal of plan. It returns
// os.ErrNotExist when there is none and create is false.
func Open(plan string, create bool) (*Journal, error) {
	return OpenDir(Dir(plan), create)
}

// OpenDir is Open for a journal in dir (tests use their own directories).
func OpenDir(dir string, create bool) (*Journal, error) {
	file := filepath.Join(dir, "journal")
	if create {
		if _, err := fsutil.Mkdir(filepath.Dir(dir), 0o700, 0, 0); err != nil {
			return nil, fmt.Errorf("create journal directory: %w", err)
		}
		if _, err := fsutil.Mkdir(dir, 0o700, 0, 0); err != nil {
			return nil, fmt.Errorf("create journal directory: %w", err)
		}
		if _, err := fsutil.Mkdir(filepath.Join(dir, "backup"), 0o700, 0, 0); err != nil {
			return nil, fmt.Errorf("create journal directory: %w", err)
		}
	}
	info, err := fsutil.Stat(file)
	if err != nil {
		return nil, err
	}
	if info.IsSymlink {
		return nil, fmt.Errorf("%s: %w", file, fsutil.ErrSymlink)
	}
	flags := os.O_RDWR | os.O_APPEND | syscall.O_NOFOLLOW
	if create {
		flags |= os.O_CREATE
	}
	return open(dir, file, flags)
}

// OpenReadOnly opens a plan's journal to read it only, as status and
// previews do: it creates nothing, and leaves a torn last record alone (it
// may be one an install is writing right now).
func OpenReadOnly(plan string) (*Journal, error) { return OpenDirReadOnly(Dir(plan)) }

// OpenDirReadOnly is OpenReadOnly for a journal in dir.
func OpenDirReadOnly(dir string) (*Journal, error) {
	file := filepath.Join(dir, "journal")
	info, err := fsutil.Stat(file)
	if err != nil {
		return nil, err
	}
	if info.IsSymlink {
		return nil, fmt.Errorf("%s: %w", file, fsutil.ErrSymlink)
	}
	j, err := open(dir, file, os.O_RDONLY|syscall.O_NOFOLLOW)
	if err != nil {
		return nil, err
	}
	j.readOnly = true
	return j, nil
}

func open(dir, file string, flags int) (*Journal, error) {
	f, err := os.OpenFile(file, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{dir: dir, f: f, next: 1, readOnly: flags&(os.O_RDWR|os.O_WRONLY) == 0}
	if err := j.load(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// load reads every complete record. A torn last line is cut off so that the
// next record starts on a line of its own.
func (j *Journal) load() error {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	good := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		end := good + len(line) + 1
		if end > len(data) { // no newline: torn by a crash
			break
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			if end == len(data) {
				break // a torn record that happened to end the file
			}
			return fmt.Errorf("%s: line %d is not a journal record: %v", j.Path(), len(j.recs)+1, err)
		}
		if j.broken == 0 && r.Sum != chain(j.lastSum(), r) {
			j.broken = len(j.recs) + 1
		}
		j.recs = append(j.recs, r)
		if r.Seq >= j.next {
			j.next = r.Seq + 1
		}
		good = end
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: line %d: %w", j.Path(), len(j.recs)+1, err)
	}
	if good < len(data) && !j.readOnly {
		if err := j.f.Truncate(int64(good)); err != nil {
			return fmt.Errorf("cut torn journal record: %w", err)
		}
	}
	return nil
}

// Path is the journal file.
func (j *Journal) Path() string { return filepath.Join(j.dir, "journal") }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// append writes r durably and returns its sequence number.
func (j *Journal) append(r Record) (int, error) {
	if j.readOnly {
		return 0, fmt.Errorf("%s is open read-only", j.Path())
	}
	r.Seq = j.next
	r.Time = time.Now().UTC()
	r.Sum = chain(j.lastSum(), r)
	line, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	line = append(line, '\n')
	failpoint.Inject("journal.mid-record", func() { j.f.Write(line[:len(line)/2]) })
	if _, err := j.f.Write(line); err != nil {
		return 0, fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return 0, fmt.Errorf("sync journal: %w", err)
	}
	j.next++
	j.recs = append(j.recs, r)
	return r.Seq, nil
}

// Intent records that a step is about to change key. before is the step's own
// description of what existed; it is what undo restores.
func (j *Journal) Intent(run, step, key, action string, before any) (int, error) {
	b, err := json.Marshal(before)
	if err != nil {
		return 0, err
	}
	return j.append(Record{Op: OpIntent, Run: run, Step: step, Key: key, Action: action, Before: b})
}

// Done records that intent seq completed.
func (j *Journal) Done(seq int) error {
	_, err := j.append(Record{Op: OpDone, Ref: seq})
	return err
}

// Failed records that intent seq failed with err.
func (j *Journal) Failed(seq int, cause error) error {
	_, err := j.append(Record{Op: OpFailed, Ref: seq, Error: cause.Error()})
	return err
}

// Undone records that intent seq was undone.
func (j *Journal) Undone(seq int) error {
	_, err := j.append(Record{Op: OpUndone, Ref: seq})
	return err
}

// SaveBackup keeps content that a step is about to replace and returns the
// name to record in the intent. It is written (and synced) before the intent.
func (j *Journal) SaveBackup(content []byte) (string, error) {
	name := "backup/" + fsutil.Sum(content)
	if err := fsutil.WriteFile(filepath.Join(j.dir, name), content, 0o600, 0, 0); err != nil {
		return "", fmt.Errorf("keep previous content: %w", err)
	}
	return name, nil
}

// Backup reads content kept by SaveBackup and checks it is intact.
func (j *Journal) Backup(name string) ([]byte, error) {
	if filepath.Dir(name) != "backup" {
		return nil, fmt.Errorf("journal names a backup outside its directory: %q", name)
	}
	b, err := fsutil.ReadFile(filepath.Join(j.dir, name), 1<<30)
	if err != nil {
		return nil, err
	}
	if "backup/"+fsutil.Sum(b) != name {
		return nil, fmt.Errorf("backup %s is damaged", name)
	}
	return b, nil
}

// Entries returns the intents with their outcomes, in the order they were made.
func (j *Journal) Entries() []Entry {
	var out []Entry
	index := map[int]int{}
	for _, r := range j.recs {
		switch r.Op {
		case OpIntent:
			index[r.Seq] = len(out)
			out = append(out, Entry{Record: r})
		case OpDone, OpFailed:
			if i, ok := index[r.Ref]; ok {
				out[i].Outcome = r.Op
			}
		case OpUndone:
			if i, ok := index[r.Ref]; ok {
				out[i].Undone = true
			}
		}
	}
	return out
}

// Live returns the entries not yet undone.
func (j *Journal) Live() []Entry {
	var out []Entry
	for _, e := range j.Entries() {
		if !e.Undone {
			out = append(out, e)
		}
	}
	return out
}

// Remove deletes the journal directory of a plan once everything is undone,
// and the journals' root when no plan is left in it.
func (j *Journal) Remove() error {
	j.f.Close()
	backups, err := os.ReadDir(filepath.Join(j.dir, "backup"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, b := range backups {
		if err := fsutil.Remove(filepath.Join(j.dir, "backup", b.Name())); err != nil {
			return err
		}
	}
	if err := fsutil.Remove(filepath.Join(j.dir, "journal")); err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(j.dir, "backup"), j.dir, filepath.Dir(j.dir)} {
		if _, err := fsutil.RemoveDir(d); err != nil {
			if errors.Is(err, fsutil.ErrNotEmpty) {
				return nil // other plans are still there
			}
			return err
		}
	}
	return nil
}
