package runner

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The program Run runs in these tests is this test binary, which TestMain
// turns into testChild when $RUNNER_TEST_CHILD is set.
func TestMain(m *testing.M) {
	if mode := os.Getenv("RUNNER_TEST_CHILD"); mode != "" {
		testChild(mode)
	}
	os.Exit(m.Run())
}

// testChild behaves as $RUNNER_TEST_CHILD says, after $RUNNER_TEST_DELAY:
//
//	serve: serve HTTP on 127.0.0.1:$RUNNER_TEST_PORT until SIGTERM, then exit 0
//	exit:  exit with status $RUNNER_TEST_EXIT
//	sleep: sleep until killed
//
// It records its environment, its PID, when it started listening and which
// signals it got as files in $RUNNER_TEST_DIR.
func testChild(mode string) {
	dir := os.Getenv("RUNNER_TEST_DIR")
	record := func(name, content string) {
		tmp := filepath.Join(dir, "."+name)
		err := os.WriteFile(tmp, []byte(content), 0o644)
		if err == nil {
			err = os.Rename(tmp, filepath.Join(dir, name))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(100)
		}
	}
	record("env", strings.Join(os.Environ(), "\n"))
	record("pid", strconv.Itoa(os.Getpid()))
	sigs := make(chan os.Signal, 1)
	if mode == "serve" {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	}
	delay, _ := time.ParseDuration(os.Getenv("RUNNER_TEST_DELAY")) // unset: none
	time.Sleep(delay)

	switch mode {
	case "exit":
		code, _ := strconv.Atoi(os.Getenv("RUNNER_TEST_EXIT"))
		os.Exit(code)
	case "sleep":
		time.Sleep(time.Hour)
	case "serve":
		ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("RUNNER_TEST_PORT"))
		listening := time.Now()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(101)
		}
		go http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		record("listening", strconv.FormatInt(listening.UnixNano(), 10))
		for sig := range sigs {
			if sig == syscall.SIGHUP {
				record("hup", "")
				continue
			}
			record("term", "")
			os.Exit(0)
		}
	}
	os.Exit(102)
}

// killedByTERM is what Run returns for a program that SIGTERM killed.
const killedByTERM = 128 + int(syscall.SIGTERM)

// useChild makes testChild in mode the program to run, with the given
// RUNNER_TEST_* settings ("DELAY=1s"), and returns its command and the
// directory it records into.
func useChild(t *testing.T, mode string, settings ...string) (command []string, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	t.Setenv("RUNNER_TEST_CHILD", mode)
	t.Setenv("RUNNER_TEST_DIR", dir)
	// Under -race, a program exiting 0 would otherwise linger for 1s.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	for _, s := range settings {
		name, value, _ := strings.Cut(s, "=")
		t.Setenv("RUNNER_TEST_"+name, value)
	}
	return []string{exe}, dir
}

// waitFile returns the content of path once it exists.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", filepath.Base(path))
		}
	}
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// A datagram is one notification, and when it arrived.
type datagram struct {
	at   time.Time
	text string
}

// has reports whether one of d's lines starts with prefix.
func (d datagram) has(prefix string) bool {
	return slices.ContainsFunc(strings.Split(d.text, "\n"), func(line string) bool {
		return strings.HasPrefix(line, prefix)
	})
}

// notifySocket plays systemd's side of NOTIFY_SOCKET.
type notifySocket struct {
	mu  sync.Mutex
	got []datagram
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	n := &notifySocket{}
	go func() {
		buf := make([]byte, 4096)
		for {
			size, err := conn.Read(buf)
			if err != nil {
				return
			}
			d := datagram{time.Now(), string(buf[:size])}
			n.mu.Lock()
			n.got = append(n.got, d)
			n.mu.Unlock()
		}
	}()
	return n
}

// with returns the datagrams received so far that have a line starting with
// prefix.
func (n *notifySocket) with(prefix string) []datagram {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ds []datagram
	for _, d := range n.got {
		if d.has(prefix) {
			ds = append(ds, d)
		}
	}
	return ds
}

// wait returns the first datagram with a line starting with prefix, waiting
// up to 5s for it.
func (n *notifySocket) wait(t *testing.T, prefix string) datagram {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ds := n.with(prefix); len(ds) > 0 {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", prefix)
		}
	}
}

// running is a run in progress.
type running struct {
	cancel context.CancelFunc
	sigs   chan os.Signal
	done   chan struct{}
	code   int   // set when done is closed
	err    error // likewise
	mu     sync.Mutex
	logs   []string
}

func start(t *testing.T, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, sigs: make(chan os.Signal, 1), done: make(chan struct{})}
	cfg.Log = func(format string, args ...any) {
		r.mu.Lock()
		r.logs = append(r.logs, fmt.Sprintf(format, args...))
		r.mu.Unlock()
		t.Logf("log: "+format, args...)
	}
	go func() {
		defer close(r.done)
		r.code, r.err = run(ctx, cfg, r.sigs)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait waits up to 5s for Run to return.
func (r *running) wait(t *testing.T) (int, error) {
	t.Helper()
	select {
	case <-r.done:
		return r.code, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
		return 0, nil
	}
}

func (r *running) logged(substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.logs, func(l string) bool { return strings.Contains(l, substr) })
}

func TestReadyOnceTheProgramAnswers(t *testing.T) {
	for _, probe := range []string{"HTTP", "TCP"} {
		t.Run(probe, func(t *testing.T) {
			n := listenNotify(t)
			port := freePort(t)
			command, dir := useChild(t, "serve", "DELAY=100ms", "PORT="+port)
			// READY=1 lags the program's first answer by up to one pause
			// between probes: cap the pause at what we can assert.
			cfg := Config{Command: command, MaxInterval: 20 * time.Millisecond, Status: "serving"}
			if probe == "HTTP" {
				cfg.HTTP = "http://127.0.0.1:" + port + "/"
			} else {
				cfg.TCP = "127.0.0.1:" + port
			}
			r := start(t, cfg)

			ready := n.wait(t, "READY=1")
			ns, err := strconv.ParseInt(waitFile(t, filepath.Join(dir, "listening")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lag := ready.at.Sub(time.Unix(0, ns))
			t.Logf("READY=1 arrived %v after the program listened", lag)
			if lag < 0 {
				t.Errorf("READY=1 arrived %v before the program listened", -lag)
			}
			if lag > 50*time.Millisecond {
				t.Errorf("READY=1 arrived %v after the program listened, want <= 50ms", lag)
			}
			if !ready.has("STATUS=serving") {
				t.Errorf("READY=1 came without STATUS=serving: %q", ready.text)
			}

			r.cancel()
			if code, err := r.wait(t); code != 0 || err != nil {
				t.Errorf("Run = %d, %v; want 0, nil", code, err)
			}
			n.wait(t, "STOPPING=1")
		})
	}
}

func TestNotReadyWhileTheProgramDoesNotAnswer(t *testing.T) {
	defer func(d time.Duration) { statusInterval = d }(statusInterval)
	statusInterval = 50 * time.Millisecond
	n := listenNotify(t)
	command, _ := useChild(t, "sleep")
	target := "http://127.0.0.1:" + freePort(t) + "/"
	r := start(t, Config{Command: command, HTTP: target, ExtendTimeout: 200 * time.Millisecond})

	time.Sleep(500 * time.Millisecond)
	r.cancel()
	if code, err := r.wait(t); code != killedByTERM || err != nil {
		t.Errorf("Run = %d, %v; want %d (SIGTERM), nil", code, err, killedByTERM)
	}
	if ds := n.with("READY=1"); len(ds) > 0 {
		t.Errorf("got READY=1 from a program that never answered: %q", ds[0].text)
	}
	n.wait(t, "STOPPING=1")

	// The start timeout is extended by less and less, until 200ms have
	// passed; the status reports go on.
	statuses := n.with("STATUS=starting: waiting for " + target)
	if len(statuses) < 3 {
		t.Fatalf("got %d STATUS=starting messages in 500ms, want several", len(statuses))
	}
	left := 200 * time.Millisecond
	for i, d := range statuses {
		usec := -1
		for _, line := range strings.Split(d.text, "\n") {
			if v, ok := strings.CutPrefix(line, "EXTEND_TIMEOUT_USEC="); ok {
				usec, _ = strconv.Atoi(v)
			}
		}
		switch {
		case usec == -1 && i == 0:
			t.Errorf("first status without EXTEND_TIMEOUT_USEC: %q", d.text)
		case usec == -1:
			left = 0
		case time.Duration(usec)*time.Microsecond >= left:
			t.Errorf("status %d extends by %dus, want less than %v: %q", i, usec, left, d.text)
		default:
			left = time.Duration(usec) * time.Microsecond
		}
	}
	if left != 0 {
		t.Errorf("the last status still extends the timeout: %q", statuses[len(statuses)-1].text)
	}
}

func TestExitBeforeReady(t *testing.T) {
	// A probe target that takes connections but never answers: the probe
	// in flight when the program exits must not hold Run up.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tt := range []struct{ exit, want int }{{3, 3}, {0, 1}} {
		t.Run(fmt.Sprint("exit ", tt.exit), func(t *testing.T) {
			n := listenNotify(t)
			command, _ := useChild(t, "exit", "DELAY=50ms", fmt.Sprint("EXIT=", tt.exit))
			began := time.Now()
			r := start(t, Config{Command: command, HTTP: "http://" + ln.Addr().String() + "/", ProbeTimeout: time.Minute})
			code, err := r.wait(t)
			if took := time.Since(began); took > time.Second {
				t.Errorf("Run took %v to notice the exit", took)
			}
			if code != tt.want || err != nil {
				t.Errorf("Run = %d, %v; want %d, nil", code, err, tt.want)
			}
			if msg := fmt.Sprintf("exited with status %d before it was ready", tt.exit); !r.logged(msg) {
				t.Errorf("no %q in the log", msg)
			}
			if ds := n.with("READY=1"); len(ds) > 0 {
				t.Errorf("got READY=1: %q", ds[0].text)
			}
		})
	}
}

func TestReadyWithoutProbe(t *testing.T) {
	n := listenNotify(t)
	command, _ := useChild(t, "sleep")
	r := start(t, Config{Command: command})
	n.wait(t, "READY=1")
	r.cancel()
	if code, _ := r.wait(t); code != killedByTERM {
		t.Errorf("Run = %d, want %d (SIGTERM)", code, killedByTERM)
	}
}

func TestProgramEnvironment(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("KeepNotifySocket=", keep), func(t *testing.T) {
			listenNotify(t)
			t.Setenv("WATCHDOG_USEC", "60000000")
			t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
			command, dir := useChild(t, "sleep")
			start(t, Config{Command: command, KeepNotifySocket: keep})

			env := strings.Split(waitFile(t, filepath.Join(dir, "env")), "\n")
			has := func(name string) bool {
				return slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
			}
			if !has("RUNNER_TEST_CHILD") {
				t.Fatalf("the program did not get our environment: %q", env)
			}
			if has("NOTIFY_SOCKET") != keep {
				t.Errorf("NOTIFY_SOCKET passed on: %v, want %v", has("NOTIFY_SOCKET"), keep)
			}
			for _, name := range []string{"WATCHDOG_USEC", "WATCHDOG_PID"} {
				if has(name) {
					t.Errorf("%s passed on", name)
				}
			}
		})
	}
}

func TestSignalsAreForwarded(t *testing.T) {
	n := listenNotify(t)
	port := freePort(t)
	command, dir := useChild(t, "serve", "PORT="+port)
	r := start(t, Config{Command: command, TCP: "127.0.0.1:" + port})
	n.wait(t, "READY=1")

	r.sigs <- syscall.SIGHUP
	waitFile(t, filepath.Join(dir, "hup"))
	if ds := n.with("STOPPING=1"); len(ds) > 0 {
		t.Errorf("SIGHUP made Run send %q", ds[0].text)
	}

	r.sigs <- syscall.SIGTERM
	n.wait(t, "STOPPING=1")
	if code, err := r.wait(t); code != 0 || err != nil {
		t.Errorf("Run = %d, %v; want 0, nil", code, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "term")); err != nil {
		t.Errorf("the program did not get SIGTERM: %v", err)
	}
}

func TestWatchdogOnlyWhileTheProgramAnswers(t *testing.T) {
	n := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	port := freePort(t)
	command, dir := useChild(t, "serve", "PORT="+port)
	r := start(t, Config{Command: command, HTTP: "http://127.0.0.1:" + port + "/"})
	n.wait(t, "READY=1")
	pings := func(after time.Time) int {
		count := 0
		for _, d := range n.with("WATCHDOG=1") {
			if d.at.After(after) {
				count++
			}
		}
		return count
	}

	time.Sleep(600 * time.Millisecond)
	if got := pings(time.Time{}); got < 3 {
		t.Errorf("%d WATCHDOG=1 in 600ms with WATCHDOG_USEC=200000, want about 6", got)
	}

	pid, err := strconv.Atoi(waitFile(t, filepath.Join(dir, "pid")))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := func() { syscall.Kill(pid, syscall.SIGCONT) }
	t.Cleanup(cont)
	// A probe answered just before the stop may still be reported.
	frozen := time.Now().Add(100 * time.Millisecond)
	time.Sleep(600 * time.Millisecond)
	if got := pings(frozen); got > 0 {
		t.Errorf("%d WATCHDOG=1 while the program was stopped", got)
	}
	if !r.logged("watchdog: not pinging systemd") {
		t.Error("no watchdog message in the log")
	}

	cont()
	thawed := time.Now()
	for deadline := thawed.Add(5 * time.Second); pings(thawed) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no WATCHDOG=1 within 5s of SIGCONT")
		}
	}
	r.cancel()
	if code, err := r.wait(t); code != 0 || err != nil {
		t.Errorf("Run = %d, %v; want 0, nil", code, err)
	}
}

func TestCommandNotFound(t *testing.T) {
	r := start(t, Config{Command: []string{"notifyctl-test-no-such-command"}})
	if code, err := r.wait(t); code != 1 || err == nil {
		t.Errorf("Run = %d, %v; want 1 and an error", code, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"command only", Config{Command: []string{"app"}}, true},
		{"HTTP", Config{Command: []string{"app"}, HTTP: "http://127.0.0.1:8080/health"}, true},
		{"HTTPS", Config{Command: []string{"app"}, HTTP: "https://localhost/"}, true},
		{"TCP", Config{Command: []string{"app"}, TCP: "127.0.0.1:8080"}, true},
		{"TCP IPv6", Config{Command: []string{"app"}, TCP: "[::1]:8080"}, true},
		{"no command", Config{HTTP: "http://127.0.0.1/"}, false},
		{"empty command", Config{Command: []string{""}}, false},
		{"both probes", Config{Command: []string{"app"}, HTTP: "http://127.0.0.1/", TCP: "127.0.0.1:80"}, false},
		{"HTTP without scheme", Config{Command: []string{"app"}, HTTP: "127.0.0.1:8080"}, false},
		{"HTTP other scheme", Config{Command: []string{"app"}, HTTP: "ftp://127.0.0.1/"}, false},
		{"HTTP without host", Config{Command: []string{"app"}, HTTP: "http:///health"}, false},
		{"TCP without port", Config{Command: []string{"app"}, TCP: "127.0.0.1"}, false},
		{"TCP empty port", Config{Command: []string{"app"}, TCP: "127.0.0.1:"}, false},
		{"negative timeout", Config{Command: []string{"app"}, ProbeTimeout: -time.Second}, false},
		{"negative interval", Config{Command: []string{"app"}, MaxInterval: -1}, false},
		{"negative extend", Config{Command: []string{"app"}, ExtendTimeout: -1}, false},
		{"multi-line status", Config{Command: []string{"app"}, Status: "ready\nREADY=1"}, false},
	} {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}
