package steps

import (
	"testing"
	"time"
)

// A pausable timeout does not count its pauses, and one whose time ran out
// while it was paused runs out as it resumes.
func TestPausable(t *testing.T) {
	fired := make(chan time.Time, 1)
	t0 := time.Now()
	p := newPausable(500*time.Millisecond, func() { fired <- time.Now() })
	defer p.stop()
	p.pause()
	time.Sleep(600 * time.Millisecond) // past the timeout, paused
	select {
	case <-fired:
		t.Fatal("the timeout ran out while paused")
	default:
	}
	p.resume()
	// Only lower bounds: a slow machine makes it later, never earlier.
	at := <-fired
	if d := at.Sub(t0); d < 1100*time.Millisecond {
		t.Errorf("ran out %v after the start, within the pause and the timeout", d)
	}

	// Paused with no time left: it runs out on resume, not never.
	fired2 := make(chan struct{}, 1)
	q := newPausable(time.Hour, func() { fired2 <- struct{}{} })
	defer q.stop()
	q.pause()
	q.left = 0
	q.resume()
	select {
	case <-fired2:
	case <-time.After(5 * time.Second):
		t.Error("a pausable with no time left did not run out on resume")
	}
}
