package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecondRunWaitsThenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := Acquire(context.Background(), path, "install demo", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var holder string
	_, err = Acquire(context.Background(), path, "uninstall demo", 200*time.Millisecond, func(h string) { holder = h })
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "install demo") {
		t.Fatalf("second Acquire: %v", err)
	}
	if !strings.Contains(holder, "notifyctl install demo") {
		t.Errorf("the waiting run was told %q, not who holds the lock", holder)
	}
	first.Release()
	second, err := Acquire(context.Background(), path, "uninstall demo", time.Second, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	second.Release()
}

func TestWaiterGetsTheLockWhenReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := Acquire(context.Background(), path, "install demo", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		first.Release()
	}()
	second, err := Acquire(context.Background(), path, "install demo", 10*time.Second, nil)
	if err != nil {
		t.Fatalf("the waiting run did not get the lock once released: %v", err)
	}
	second.Release()
}

// Held sees a lock another run holds, says who, and neither takes it nor
// creates the lock file.
func TestHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if _, held := Held(path); held {
		t.Fatal("held with no lock file")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Held created the lock file: %v", err)
	}
	l, err := Acquire(context.Background(), path, "install demo", time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	holder, held := Held(path)
	if !held || !strings.Contains(holder, "notifyctl install demo") {
		t.Errorf("Held = %q, %v while install holds it", holder, held)
	}
	l.Release()
	if _, held := Held(path); held {
		t.Error("held once released")
	}
	second, err := Acquire(context.Background(), path, "uninstall demo", 100*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("Held kept the lock: %v", err)
	}
	second.Release()
}

// Held never gets in the way of a run taking the lock: Acquire with no wait
// at all succeeds every time while another goroutine calls Held in a loop.
func TestHeldDoesNotBlockAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	done := make(chan struct{})
	seen := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				seen <- n
				return
			default:
				if _, held := Held(path); held {
					n++
				}
			}
		}
	}()
	for i := 0; i < 300; i++ {
		l, err := Acquire(context.Background(), path, "install demo", 0, nil)
		if err != nil {
			close(done)
			<-seen
			t.Fatalf("Acquire %d with no wait, while status looks: %v", i, err)
		}
		time.Sleep(100 * time.Microsecond)
		l.Release()
	}
	close(done)
	if n := <-seen; n == 0 {
		t.Error("Held never saw the lock held in 300 acquisitions")
	}
}
