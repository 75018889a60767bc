//go:build e2e

package e2e

// Benchmarks on a real systemd test host, run by `make bench`. Each prints the
// median of several runs next to the first seed's own approach measured in the
// same run, on the same host kind. They are measurements, not pass/fail tests.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchRuns is how many runs each median is of: NOTIFYCTL_BENCH_RUNS, or 7.
var benchRuns = func() int {
	if n, err := strconv.Atoi(os.Getenv("NOTIFYCTL_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 7
}()

// copyTestdata copies testdata/NAME into the host at dir; the seed's set-up
// runs notifydemo's own app.py, copied from the shipped plan.
func (h *Host) copyTestdata(name, dir string) {
	h.t.Helper()
	h.copyDir(filepath.Join("testdata", name), dir)
	if name == "seedwrapper" {
		root, err := repoRoot()
		if err != nil {
			h.t.Fatal(err)
		}
		app, err := os.ReadFile(filepath.Join(root, "plans", "notifydemo", "app.py"))
		if err != nil {
			h.t.Fatal(err)
		}
		h.WriteFile(dir+"/app.py", app, 0o644)
	}
}

// timed runs a shell command inside the host and returns its wall time as
// measured there (bash's own clock, without the cost of entering the host).
func (h *Host) timed(command string) time.Duration {
	h.t.Helper()
	_, stderr, code := h.Run("bash", "-c", "TIMEFORMAT=%R; time { "+command+" >/dev/null 2>&1; }")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	secs, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	if code != 0 || err != nil {
		h.t.Fatalf("%s: exit %d, %s", command, code, stderr)
	}
	return time.Duration(secs * float64(time.Second))
}

// appAlone is how long notifydemo's app.py, started by hand, takes to answer
// /health (testdata/seedwrapper/apptime.py, copied to /root/seed).
func (h *Host) appAlone() time.Duration {
	h.t.Helper()
	out := strings.TrimSpace(h.MustRun("python3", "/root/seed/apptime.py", "/root/seed/app.py"))
	v, err := strconv.ParseFloat(out, 64)
	if err != nil {
		h.t.Fatal(out)
	}
	return time.Duration(v * float64(time.Millisecond))
}

// restarts restarts unit n times and returns systemd's start-to-active times.
func (h *Host) restarts(unit string, n int) []time.Duration {
	var out []time.Duration
	for i := 0; i < n; i++ {
		h.MustRun("systemctl", "reset-failed", unit) // the start rate limit counts restarts
		h.MustRun("systemctl", "restart", unit)
		out = append(out, h.startToActive(unit))
	}
	return out
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkReadiness: how long after the app can first answer does systemd
// call the unit active, with notifyctl run and with the seed's shell wrapper.
func BenchmarkReadiness(b *testing.B) {
	h := NewHost(b)
	h.copyTestdata("seedwrapper", "/root/seed")
	var app []time.Duration
	for i := 0; i < benchRuns; i++ {
		app = append(app, h.appAlone())
	}
	h.notifyctlJSON(0, "install")
	hardened := h.restarts("notifydemo.service", benchRuns)
	h.notifyctlJSON(0, "uninstall")
	// The wrapper against the seed's, both without the sandbox (whose set-up
	// is systemd's time, before the app starts), as the app alone runs.
	dir := h.unhardenedPlan("/root/plan")
	h.notifyctlJSON(0, "install", dir)
	ours := h.restarts("notifydemo.service", benchRuns)
	h.notifyctlJSON(0, "uninstall", dir)
	h.notifyctlJSON(0, "install", "/root/seed")
	seed := h.restarts("notifydemo.service", benchRuns)

	appMs := median(app)
	fmt.Printf("\nreadiness, medians of %d restarts on a test host\n", benchRuns)
	fmt.Printf("  %-34s %8s %12s\n", "", "active", "lag")
	fmt.Printf("  %-34s %6.0f ms %12s\n", "app alone: first healthy answer", ms(appMs), "")
	fmt.Printf("  %-34s %6.0f ms %9.0f ms\n", "notifyctl run (NotifyAccess=main)", ms(median(ours)), ms(median(ours)-appMs))
	fmt.Printf("  %-34s %6.0f ms %9.0f ms\n", "seed's run.sh (NotifyAccess=all)", ms(median(seed)), ms(median(seed)-appMs))
	fmt.Printf("  %-34s %6.0f ms %12s\n\n", "notifyctl run, strict sandbox", ms(median(hardened)), "")
	b.ReportMetric(ms(median(ours)-appMs), "ms-lag-notifyctl")
	b.ReportMetric(ms(median(seed)-appMs), "ms-lag-seed")
}

// BenchmarkCommands: whole commands on a fresh host, notifyctl against the
// seed's shell steps.
func BenchmarkCommands(b *testing.B) {
	h := NewHost(b)
	h.copyTestdata("seedwrapper", "/root/seed")
	var install, rerun, uninstall, seedInstall, seedUninstall []time.Duration
	// Each install's service start as systemd times it (from leaving
	// inactive to active), the rest of the install, and whether systemd's
	// last reload began during that start.
	var startInInstall, besideStart []time.Duration
	overlapped := 0
	for i := 0; i < benchRuns; i++ {
		t := h.timed("notifyctl install")
		install = append(install, t)
		left := h.propInt("notifydemo.service", "InactiveExitTimestampMonotonic")
		active := h.propInt("notifydemo.service", "ActiveEnterTimestampMonotonic")
		reloaded := h.propInt("", "UnitsLoadTimestampMonotonic")
		d := time.Duration(active-left) * time.Microsecond
		startInInstall = append(startInInstall, d)
		besideStart = append(besideStart, t-d)
		if left < reloaded && reloaded < active {
			overlapped++
		}
		rerun = append(rerun, h.timed("notifyctl install"))
		uninstall = append(uninstall, h.timed("notifyctl uninstall"))
	}
	for i := 0; i < benchRuns; i++ {
		seedInstall = append(seedInstall, h.timed("/root/seed/seed-install.sh"))
		seedUninstall = append(seedUninstall, h.timed("/root/seed/seed-uninstall.sh"))
	}
	// What no installer can go below on this host: systemd's daemon-reload
	// and the app's own start. Machines differ by a factor of 2 or 3 here,
	// so these say what the install figures are worth.
	var reload, app []time.Duration
	for i := 0; i < benchRuns; i++ {
		reload = append(reload, h.timed("systemctl daemon-reload"))
		app = append(app, h.appAlone())
	}
	// The installed service's own start, as systemd times it: its sandbox,
	// the wrapper and the app, up to READY=1, with nothing else running.
	h.MustRun("notifyctl", "install")
	var start []time.Duration
	for i := 0; i < benchRuns; i++ {
		h.MustRun("systemctl", "reset-failed", "notifydemo.service") // the start rate limit counts restarts
		h.MustRun("systemctl", "restart", "notifydemo.service")
		// From leaving inactive (the start job runs) to active.
		start = append(start, time.Duration(h.propInt("notifydemo.service", "ActiveEnterTimestampMonotonic")-
			h.propInt("notifydemo.service", "InactiveExitTimestampMonotonic"))*time.Microsecond)
	}
	h.MustRun("notifyctl", "uninstall")
	fmt.Printf("\nnotifydemo on a test host, medians of %d runs\n", benchRuns)
	fmt.Printf("  %-22s %10s %10s %10s\n", "", "install", "rerun", "uninstall")
	fmt.Printf("  %-22s %7.0f ms %7.0f ms %7.0f ms\n", "notifyctl", ms(median(install)), ms(median(rerun)), ms(median(uninstall)))
	fmt.Printf("  %-22s %7.0f ms %10s %7.0f ms\n", "seed's shell steps", ms(median(seedInstall)), "fails", ms(median(seedUninstall)))
	fmt.Printf("  on this host, a daemon-reload alone takes %.0f ms and the app alone answers after %.0f ms\n", ms(median(reload)), ms(median(app)))
	fmt.Printf("  the installed service starts (sandbox, wrapper, app) in %.0f ms alone, in %.0f ms during an install,\n", ms(median(start)), ms(median(startInInstall)))
	fmt.Printf("  whose daemon-reload began during that start in %d of %d runs\n", overlapped, benchRuns)
	// Per run: the install's wall time less its service's start. The
	// uninstall figure is a difference of medians, the stop job included.
	fmt.Printf("  notifyctl's own share, about: install %.0f ms besides the service's start, uninstall %.0f ms beyond a reload alone\n\n", ms(median(besideStart)), ms(median(uninstall)-median(reload)))
	b.ReportMetric(ms(median(install)), "ms-install")
	b.ReportMetric(ms(median(rerun)), "ms-rerun")
	b.ReportMetric(ms(median(uninstall)), "ms-uninstall")
	b.ReportMetric(ms(median(reload)), "ms-daemon-reload")
	b.ReportMetric(ms(median(app)), "ms-app-alone")
	b.ReportMetric(ms(median(start)), "ms-service-start")
	b.ReportMetric(ms(median(startInInstall)), "ms-service-start-in-install")
	b.ReportMetric(ms(median(besideStart)), "ms-install-own")
	b.ReportMetric(ms(median(uninstall)-median(reload)), "ms-uninstall-own")
}
