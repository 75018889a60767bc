package steps_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notifyctl/notifyctl/pkg/engine"
	"github.com/notifyctl/notifyctl/pkg/fsutil"
	"github.com/notifyctl/notifyctl/pkg/systemd"
)

// Log is the order of everything the fakes (and the reporter) saw, shared
// between them, so that a test can check the order across systemd, the
// accounts, the packages and the file steps.
type Log struct {
	mu      sync.Mutex
	entries []string
}

func (l *Log) add(s string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, s)
}

// Since returns the entries logged after the first n.
func (l *Log) Since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries[n:]...)
}

// Len is the number of entries so far.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// unitState is what the fake systemd knows of one unit.
type unitState struct {
	enabled      bool
	linked       bool   // systemd holds multi-user.target as wanting it (read on a reload)
	loaded       bool   // systemd has read a unit file for it
	loadedSum    string // the content it read
	fragmentPath string // the file it read it from
	active       string // ActiveState; "" is inactive
	invocation   string
	result       string
	execCode     int32
	execStatus   int32
	startedWith  string // the unit file content the running service started with
}

// fakeSystemd is a systemd.Manager over the unit files under Root. It keeps
// the unit's state as systemd would and refuses calls made in an order
// systemd would not honour: enabling a unit whose file is not on disk,
// starting a unit before a daemon-reload has followed the write of its file.
type fakeSystemd struct {
	mu   sync.Mutex
	root string
	log  *Log

	// Calls are the calls that change something, in order, such as
	// "enable demo.service", "reload", "reset-failed demo.service".
	Calls []string
	// Queries counts the calls that only read (State, UnitFileState).
	Queries int
	// Violations are the calls refused for their order.
	Violations []string
	// UnitWrites holds, for each unit, the moments (len(Calls) when the
	// fake noticed) at which its file on disk was written or removed.
	UnitWrites map[string][]int
	// Reloads holds the moments (index in Calls) of each daemon-reload.
	Reloads []int

	// ReloadErr, when set, is what StartReload's wait returns; systemd
	// has reloaded all the same (as when the reply is lost).
	ReloadErr error
	// ReloadTakes is how long StartReload's wait takes.
	ReloadTakes time.Duration

	// FailStarts is how many of the next start or restart jobs fail: the
	// main process exits with status 1 and the unit ends up failed.
	FailStarts int

	// NoLoadOnDemand is systemd before 246: a unit it has not read is not
	// read from disk when asked for, only by a daemon-reload.
	NoLoadOnDemand bool
	// JobsWait: a queued start or restart job waits (for another unit, as
	// it were) and leaves the unit inactive while the caller's queued
	// callback runs.
	JobsWait bool

	reloading bool // a StartReload not waited for yet

	units   map[string]*unitState
	lastSum map[string]string
	nextInv int
}

func newFakeSystemd(root string, log *Log) *fakeSystemd {
	return &fakeSystemd{root: root, log: log, UnitWrites: map[string][]int{}, units: map[string]*unitState{}, lastSum: map[string]string{}}
}

var _ systemd.Manager = (*fakeSystemd)(nil)

func (s *fakeSystemd) unitDir() string { return filepath.Join(s.root, "etc/systemd/system") }

// unitDirs are where the fake finds unit files, first match wins: the
// administrator's, then the packages'.
var unitDirs = []string{"/etc/systemd/system", "/usr/lib/systemd/system"}

// fragment is the unit file systemd would read for unit ("" when none) and
// the sum of its content.
func (s *fakeSystemd) fragment(unit string) (path, sum string) {
	for _, d := range unitDirs {
		if sum := s.sumAt(filepath.Join(d, unit)); sum != "" {
			return filepath.Join(d, unit), sum
		}
	}
	return "", ""
}

// sumAt is the sum of the file at a host path, "" when there is none.
func (s *fakeSystemd) sumAt(path string) string {
	b, err := os.ReadFile(filepath.Join(s.root, path))
	if err != nil {
		return ""
	}
	return fsutil.Sum(b)
}

// disk returns the sum of the unit file systemd would read for unit, ""
// when there is none.
func (s *fakeSystemd) disk(unit string) string {
	_, sum := s.fragment(unit)
	return sum
}

// load reads unit's file, as a daemon-reload or a load on demand does.
func (s *fakeSystemd) load(u *unitState, unit string) {
	u.fragmentPath, u.loadedSum = s.fragment(unit)
}

// observe notes every unit file written or removed since the last call,
// and a call made while a daemon-reload is under way.
func (s *fakeSystemd) observe() {
	if s.reloading {
		s.Violations = append(s.Violations, "systemd called while a daemon-reload was under way")
	}
	names := map[string]bool{}
	entries, _ := os.ReadDir(s.unitDir())
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".service") {
			names[e.Name()] = true
		}
	}
	for n := range s.lastSum {
		names[n] = true
	}
	for n := range names {
		if sum := s.disk(n); sum != s.lastSum[n] {
			s.lastSum[n] = sum
			s.UnitWrites[n] = append(s.UnitWrites[n], len(s.Calls))
		}
	}
}

func (s *fakeSystemd) unit(name string) *unitState {
	u, ok := s.units[name]
	if !ok {
		u = &unitState{}
		s.units[name] = u
	}
	return u
}

// asked is a unit asked for by name (its state, a job): one systemd has not
// read, it reads from disk then, as systemd 246 and later do.
func (s *fakeSystemd) asked(name string) *unitState {
	u := s.unit(name)
	if !u.loaded && s.disk(name) != "" && !s.NoLoadOnDemand {
		u.loaded = true
		s.load(u, name)
	}
	return u
}

// EnablingUnread says whether an enable or disable changed a unit's links
// since the last daemon-reload: systemd's dependencies in memory are not
// what the links say.
func (s *fakeSystemd) EnablingUnread() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.units {
		if u.enabled != u.linked {
			return true
		}
	}
	return false
}

// Unlinked implements systemd.Manager: the fake holds a unit's links, all
// of them, from the reload after its enable on.
func (s *fakeSystemd) Unlinked(ctx context.Context, unit string, by []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe()
	s.Queries++
	if u := s.asked(unit); u.loaded && u.linked {
		return nil, nil
	}
	return by, nil
}

// call records a call that changes something.
func (s *fakeSystemd) call(c string) {
	s.observe()
	s.Calls = append(s.Calls, c)
	s.log.add(c)
}

func (s *fakeSystemd) refuse(format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	s.Violations = append(s.Violations, msg)
	return errors.New("fake systemd: " + msg)
}

// State implements systemd.Manager.
func (s *fakeSystemd) State(ctx context.Context, unit string) (systemd.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe()
	s.Queries++
	u := s.asked(unit)
	st := systemd.State{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
	if u.loaded {
		st.LoadState = "loaded"
		// As systemd: the file it read changed, not whether another
		// now comes first.
		st.NeedDaemonReload = s.sumAt(u.fragmentPath) != u.loadedSum
		st.FragmentPath = u.fragmentPath
		st.Type = "notify"
		st.Result = "success"
	}
	switch u.active {
	case "active":
		st.ActiveState, st.SubState = "active", "running"
		st.MainPID = 4242
	case "failed":
		st.ActiveState, st.SubState = "failed", "failed"
	case "activating":
		st.ActiveState, st.SubState = "activating", "start"
	}
	if u.result != "" {
		st.Result = u.result
	}
	st.InvocationID = u.invocation
	st.ExecMainCode, st.ExecMainStatus = u.execCode, u.execStatus
	return st, nil
}

// Peek implements systemd.Manager: the fake's State costs nothing.
func (s *fakeSystemd) Peek(ctx context.Context, unit string) (systemd.State, error) {
	return s.State(ctx, unit)
}

// UnitFileState implements systemd.Manager.
func (s *fakeSystemd) UnitFileState(ctx context.Context, unit string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe()
	s.Queries++
	if s.disk(unit) == "" {
		return "", nil
	}
	if s.unit(unit).enabled {
		return "enabled", nil
	}
	return "disabled", nil
}

// Enable implements systemd.Manager.
func (s *fakeSystemd) Enable(ctx context.Context, unit string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("enable " + unit)
	if s.disk(unit) == "" {
		return false, s.refuse("enable %s: the unit file is not on disk", unit)
	}
	u := s.unit(unit)
	changed := !u.enabled
	u.enabled = true
	return changed, nil
}

// Disable implements systemd.Manager.
func (s *fakeSystemd) Disable(ctx context.Context, unit string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("disable " + unit)
	if s.disk(unit) == "" {
		return false, s.refuse("disable %s: the unit file is not on disk", unit)
	}
	u := s.unit(unit)
	changed := u.enabled
	u.enabled = false
	return changed, nil
}

// Reload implements systemd.Manager.
func (s *fakeSystemd) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("reload")
	s.Reloads = append(s.Reloads, len(s.Calls)-1)
	names := map[string]bool{}
	for n := range s.units {
		names[n] = true
	}
	for n := range s.lastSum {
		names[n] = true
	}
	for n := range names {
		u := s.unit(n)
		s.load(u, n)
		// A running unit stays loaded even when its file is gone.
		u.loaded = u.loadedSum != "" || u.active == "active"
		u.linked = u.enabled
	}
	return nil
}

// StartReload implements systemd.Manager: the fake reads the unit files at
// once, as systemd does when asked, but the reload counts as under way until
// it is waited for: any other call before that is a violation, since its
// answer would depend on how far systemd got.
func (s *fakeSystemd) StartReload(ctx context.Context) func() error {
	err := s.Reload(ctx)
	if s.ReloadErr != nil {
		err = s.ReloadErr
	}
	s.mu.Lock()
	s.reloading = true
	s.mu.Unlock()
	return func() error {
		time.Sleep(s.ReloadTakes)
		s.mu.Lock()
		s.reloading = false
		s.mu.Unlock()
		return err
	}
}

// queue checks a start or restart as systemd does when asked to queue it.
// noop is a start of an active unit: there is nothing to run.
func (s *fakeSystemd) queue(verb, unit string) (noop bool, err error) {
	s.call(verb + " " + unit)
	u := s.asked(unit)
	switch sum := s.disk(unit); {
	case sum == "" && !u.loaded:
		return false, s.refuse("%s %s: unit not found", verb, unit)
	case !u.loaded:
		return false, s.refuse("%s %s: the unit file was written but systemd was not reloaded", verb, unit)
	case sum != u.loadedSum:
		return false, s.refuse("%s %s: the unit file changed since the last daemon-reload", verb, unit)
	}
	return verb == "start" && u.active == "active", nil
}

// finish ends a queued job whose process started from the unit as read then.
func (s *fakeSystemd) finish(unit, startedWith string) string {
	u := s.unit(unit)
	s.nextInv++
	u.invocation = fmt.Sprintf("%032x", s.nextInv)
	if s.FailStarts > 0 {
		s.FailStarts--
		u.active, u.result, u.execCode, u.execStatus = "failed", "exit-code", 1, 1
		return "failed"
	}
	u.active, u.result, u.execCode, u.execStatus = "active", "success", 0, 0
	u.startedWith = startedWith
	return "done"
}

// queuedJob queues a start or restart, calls queued while its process runs
// (the unit activating; inactive still when JobsWait), then ends the job;
// a caller whose ctx ended by then has not waited for the result.
func (s *fakeSystemd) queuedJob(ctx context.Context, verb, unit string, queued func()) (string, error) {
	s.mu.Lock()
	noop, err := s.queue(verb, unit)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	u := s.unit(unit)
	startedWith := u.loadedSum
	if !noop && !s.JobsWait {
		u.active = "activating"
	}
	s.mu.Unlock()
	if queued != nil {
		queued()
	}
	if noop {
		return "done", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.finish(unit, startedWith)
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("%s %s: %w", verb, unit, err)
	}
	return res, nil
}

// Start implements systemd.Manager.
func (s *fakeSystemd) Start(ctx context.Context, unit string, queued func()) (string, error) {
	return s.queuedJob(ctx, "start", unit, queued)
}

// Restart implements systemd.Manager.
func (s *fakeSystemd) Restart(ctx context.Context, unit string, queued func()) (string, error) {
	return s.queuedJob(ctx, "restart", unit, queued)
}

// Stop implements systemd.Manager.
func (s *fakeSystemd) Stop(ctx context.Context, unit string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("stop " + unit)
	u := s.unit(unit)
	if u.active == "active" {
		u.active = ""
	}
	if !u.loaded {
		return "", s.refuse("stop %s: unit not loaded", unit)
	}
	return "done", nil
}

// ResetFailed implements systemd.Manager.
func (s *fakeSystemd) ResetFailed(ctx context.Context, unit string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("reset-failed " + unit)
	u := s.unit(unit)
	if u.active == "failed" {
		u.active, u.result = "", "success"
	}
	return nil
}

// Active says whether the fake runs unit.
func (s *fakeSystemd) Active(unit string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unit(unit).active == "active"
}

// Enabled says whether unit is enabled.
func (s *fakeSystemd) Enabled(unit string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unit(unit).enabled
}

// Loaded says whether systemd has a unit file for unit.
func (s *fakeSystemd) Loaded(unit string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unit(unit).loaded
}

// CallsSince returns the calls made after the first n.
func (s *fakeSystemd) CallsSince(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Calls[n:]...)
}

// account is a user of the fake accounts.
type account struct {
	uid, gid                    int
	group, home, shell, comment string
}

// fakeAccounts holds users and groups in memory. As root, each gets its own
// id (files are chowned to them for real); otherwise every id is the current
// process's, so that chown still works.
type fakeAccounts struct {
	mu     sync.Mutex
	log    *Log
	Calls  []string
	Users  map[string]account
	Groups map[string]int

	// AddUserErr makes AddUser fail (after nothing was created).
	AddUserErr error

	nextUID, nextGID int
}

func newFakeAccounts(log *Log) *fakeAccounts {
	a := &fakeAccounts{log: log, Users: map[string]account{}, Groups: map[string]int{}, nextUID: 5000, nextGID: 4000}
	uid, gid := 0, 0
	if os.Geteuid() != 0 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	a.Groups["root"] = gid
	a.Users["root"] = account{uid: uid, gid: gid, group: "root", home: "/root", shell: "/bin/sh"}
	return a
}

func (a *fakeAccounts) id(next *int, own int) int {
	if os.Geteuid() != 0 {
		return own
	}
	*next++
	return *next - 1
}

func (a *fakeAccounts) record(c string) {
	a.Calls = append(a.Calls, c)
	a.log.add(c)
}

// User implements steps.Accounts.
func (a *fakeAccounts) User(name string) (int, int, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.Users[name]
	return u.uid, u.gid, ok, nil
}

// Group implements steps.Accounts.
func (a *fakeAccounts) Group(name string) (int, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gid, ok := a.Groups[name]
	return gid, ok, nil
}

// AddGroup implements steps.Accounts.
func (a *fakeAccounts) AddGroup(ctx context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record("groupadd " + name)
	if _, ok := a.Groups[name]; ok {
		return fmt.Errorf("groupadd: group '%s' already exists", name)
	}
	a.Groups[name] = a.id(&a.nextGID, os.Getgid())
	return nil
}

// AddUser implements steps.Accounts.
func (a *fakeAccounts) AddUser(ctx context.Context, name, group, home, shell, comment string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record("useradd " + name)
	return a.addUser(name, group, false, home, shell, comment)
}

// AddUserGroup implements steps.Accounts.
func (a *fakeAccounts) AddUserGroup(ctx context.Context, name, home, shell, comment string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record("useradd --user-group " + name)
	return a.addUser(name, name, true, home, shell, comment)
}

// addUser is useradd: with newGroup (--user-group) it makes the group too,
// which must not exist yet; without, the group must exist. Nothing is made
// when it fails.
func (a *fakeAccounts) addUser(name, group string, newGroup bool, home, shell, comment string) error {
	if a.AddUserErr != nil {
		return a.AddUserErr
	}
	if _, ok := a.Users[name]; ok {
		return fmt.Errorf("useradd: user '%s' already exists", name)
	}
	gid, ok := a.Groups[group]
	switch {
	case newGroup && ok:
		return fmt.Errorf("useradd: group %s exists - if you want to add this user to that group, use -g", group)
	case newGroup:
		gid = a.id(&a.nextGID, os.Getgid())
		a.Groups[group] = gid
	case !ok:
		return fmt.Errorf("useradd: group '%s' does not exist", group)
	}
	a.Users[name] = account{uid: a.id(&a.nextUID, os.Getuid()), gid: gid, group: group, home: home, shell: shell, comment: comment}
	return nil
}

// DelUser implements steps.Accounts. Like userdel with USERGROUPS_ENAB,
// withGroup also deletes the group named like the user, its primary group.
func (a *fakeAccounts) DelUser(ctx context.Context, name string, withGroup bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record("userdel " + name)
	u, ok := a.Users[name]
	if !ok {
		return fmt.Errorf("userdel: user '%s' does not exist", name)
	}
	delete(a.Users, name)
	if withGroup && u.group == name {
		delete(a.Groups, name)
	}
	return nil
}

// DelGroup implements steps.Accounts. Like groupdel, it refuses to delete a
// user's primary group.
func (a *fakeAccounts) DelGroup(ctx context.Context, name string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.record("groupdel " + name)
	if _, ok := a.Groups[name]; !ok {
		return fmt.Errorf("groupdel: group '%s' does not exist", name)
	}
	for u, acc := range a.Users {
		if acc.group == name {
			return fmt.Errorf("groupdel: cannot remove the primary group of user '%s'", u)
		}
	}
	delete(a.Groups, name)
	return nil
}

// fakePackages is a package manager over an in-memory set of packages.
type fakePackages struct {
	mu        sync.Mutex
	log       *Log
	Calls     []string
	Installed map[string]bool
}

func newFakePackages(log *Log, installed ...string) *fakePackages {
	p := &fakePackages{log: log, Installed: map[string]bool{}}
	for _, n := range installed {
		p.Installed[n] = true
	}
	return p
}

// Missing implements steps.PackageManager.
func (p *fakePackages) Missing(ctx context.Context, names []string) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, n := range names {
		if !p.Installed[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Install implements steps.PackageManager.
func (p *fakePackages) Install(ctx context.Context, names []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := "apt install " + strings.Join(names, " ")
	p.Calls = append(p.Calls, c)
	p.log.add(c)
	for _, n := range names {
		p.Installed[n] = true
	}
	return nil
}

// Remove implements steps.PackageManager.
func (p *fakePackages) Remove(ctx context.Context, names []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := "apt remove " + strings.Join(names, " ")
	p.Calls = append(p.Calls, c)
	p.log.add(c)
	for _, n := range names {
		if !p.Installed[n] {
			return fmt.Errorf("apt remove: %s is not installed", n)
		}
		delete(p.Installed, n)
	}
	return nil
}

// List is the installed packages, sorted.
func (p *fakePackages) List() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n := range p.Installed {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// fakeLogLines are what the fake journal says the failed service logged.
var fakeLogLines = []string{"Traceback (most recent call last):", "ModuleNotFoundError: No module named 'flask'"}

// fakeLogs returns a Host.Logs that records the invocation asked for.
func fakeLogs(asked *[]string) func(ctx context.Context, invocationID string, n int) []string {
	return func(ctx context.Context, invocationID string, n int) []string {
		*asked = append(*asked, invocationID)
		if n < len(fakeLogLines) {
			return fakeLogLines[:n]
		}
		return fakeLogLines
	}
}

// fakeProbe is a Host.Probe that answers, or fails with *err.
func fakeProbe(log *Log, err *error) func(ctx context.Context, url string) error {
	return func(ctx context.Context, url string) error {
		log.add("probe " + url)
		return *err
	}
}

// reporter is an engine.Reporter that logs what it hears.
type reporter struct {
	log   *Log
	Notes []string
}

// Step implements engine.Reporter.
func (r *reporter) Step(name string, c engine.Change, applied bool, err error) {
	switch {
	case err != nil:
		r.log.add("failed " + name)
	case applied:
		r.log.add("applied " + name + " " + c.Action)
	case c.Changed():
		r.log.add("would " + name + " " + c.Action)
	}
}

// Undo implements engine.Reporter.
func (r *reporter) Undo(name string, err error) {
	if err != nil {
		r.log.add("undo failed " + name + ": " + err.Error())
		return
	}
	r.log.add("undone " + name)
}

// Note implements engine.Reporter.
func (r *reporter) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// noted says whether a note contains s.
func (r *reporter) noted(s string) bool {
	for _, n := range r.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// newFakeSystemdOn is a fake systemd over a new root with its unit directory.
func newFakeSystemdOn(t *testing.T) (root string, s *fakeSystemd) {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "etc/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, newFakeSystemd(root, &Log{})
}

// The fake refuses what systemd would not do, so that the tests of the step
// order mean something.
func TestFakeSystemdRefusesCallsOutOfOrder(t *testing.T) {
	root, s := newFakeSystemdOn(t)
	ctx := context.Background()
	s.NoLoadOnDemand = true
	unit := filepath.Join(root, "etc/systemd/system/x.service")

	if _, err := s.Enable(ctx, "x.service"); err == nil {
		t.Error("enable before the unit file exists was accepted")
	}
	if _, err := s.Start(ctx, "x.service", nil); err == nil {
		t.Error("start of an unknown unit was accepted")
	}
	if st, _ := s.UnitFileState(ctx, "x.service"); st != "" {
		t.Errorf("UnitFileState without a file = %q", st)
	}
	if err := os.WriteFile(unit, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.UnitFileState(ctx, "x.service"); st != "disabled" {
		t.Errorf("UnitFileState = %q, want disabled", st)
	}
	if _, err := s.Enable(ctx, "x.service"); err != nil {
		t.Errorf("enable: %v", err)
	}
	if _, err := s.Start(ctx, "x.service", nil); err == nil {
		t.Error("start before a daemon-reload was accepted")
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Start(ctx, "x.service", nil); err != nil || res != "done" {
		t.Errorf("start after reload = %q, %v", res, err)
	}
	if st, _ := s.State(ctx, "x.service"); !st.Active() || !st.Loaded() || st.NeedDaemonReload || st.InvocationID == "" {
		t.Errorf("state after start = %+v", st)
	}
	if err := os.WriteFile(unit, []byte("[Service]\nUser=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.State(ctx, "x.service"); !st.NeedDaemonReload {
		t.Error("a rewritten unit file does not need a daemon-reload")
	}
	if _, err := s.Restart(ctx, "x.service", nil); err == nil {
		t.Error("restart before a daemon-reload following the unit write was accepted")
	}
	s.Reload(ctx)
	s.FailStarts = 1
	if res, err := s.Restart(ctx, "x.service", nil); err != nil || res != "failed" {
		t.Errorf("failing restart = %q, %v", res, err)
	}
	st, _ := s.State(ctx, "x.service")
	if st.ActiveState != "failed" || st.Result != "exit-code" || st.ExecMainCode != 1 || st.ExecMainStatus != 1 {
		t.Errorf("state after a failed restart = %+v", st)
	}
	s.ResetFailed(ctx, "x.service")
	if st, _ := s.State(ctx, "x.service"); st.ActiveState != "inactive" {
		t.Errorf("state after reset-failed = %+v", st)
	}
	if len(s.Violations) != 4 {
		t.Errorf("violations %q, want 4", s.Violations)
	}
	equal(t, "calls", s.Calls, []string{
		"enable x.service", "start x.service", "enable x.service", "start x.service", "reload", "start x.service",
		"restart x.service", "reload", "restart x.service", "reset-failed x.service",
	})
	// The write was noticed at the first call after it, and again after the rewrite.
	equal(t, "unit writes", s.UnitWrites["x.service"], []int{2, 6})
	equal(t, "reloads", s.Reloads, []int{4, 7})

	a := newFakeAccounts(&Log{})
	if err := a.AddUser(ctx, "u", "g", "/", "/bin/false", ""); err == nil {
		t.Error("AddUser without its group was accepted")
	}
	if err := a.AddGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddUser(ctx, "u", "g", "/", "/bin/false", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.DelGroup(ctx, "g"); err == nil {
		t.Error("DelGroup of a user's primary group was accepted")
	}
}

// Like systemd 246 and later, the fake reads a unit it has not read when
// asked for it; one it has read, it reads again only on a daemon-reload,
// and it holds changed links only after one.
func TestFakeSystemdReadsNewUnitsOnDemand(t *testing.T) {
	root, s := newFakeSystemdOn(t)
	ctx := context.Background()
	unit := filepath.Join(root, "etc/systemd/system/x.service")
	if st, _ := s.Peek(ctx, "x.service"); st.Loaded() {
		t.Errorf("a unit with no file is %s", st.LoadState)
	}
	if err := os.WriteFile(unit, []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Peek(ctx, "x.service"); !st.Loaded() || st.NeedDaemonReload {
		t.Errorf("a new unit asked for: %+v", st)
	}
	if _, err := s.Enable(ctx, "x.service"); err != nil {
		t.Fatal(err)
	}
	if !s.EnablingUnread() {
		t.Error("an enable left no links unread")
	}
	queued := false
	if res, err := s.Start(ctx, "x.service", func() { queued = true }); err != nil || res != "done" || !queued {
		t.Errorf("start of a unit read on demand = %q, %v (queued called: %v)", res, err, queued)
	}
	if err := os.WriteFile(unit, []byte("[Service]\nUser=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Peek(ctx, "x.service"); !st.NeedDaemonReload {
		t.Error("a unit read once was read again without a reload")
	}
	if _, err := s.Restart(ctx, "x.service", nil); err == nil {
		t.Error("restart of a unit changed since it was read was accepted")
	}
	s.Reload(ctx)
	if s.EnablingUnread() {
		t.Error("links still unread after a reload")
	}
	if res, err := s.Restart(ctx, "x.service", nil); err != nil || res != "done" {
		t.Errorf("restart after the reload = %q, %v", res, err)
	}
	equal(t, "violations", s.Violations, []string{"restart x.service: the unit file changed since the last daemon-reload"})
}
