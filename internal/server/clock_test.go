package server

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// testClock is a server's clock that the test moves (Config.Now,
// Config.AfterFunc, hooks' After): a timer fires when Add or Set moves the
// clock past it, its function run before Add or Set returns, so a test
// drives time instead of waiting for it.
type testClock struct {
	mu     sync.Mutex // guards now, timers and armed
	now    time.Time
	timers map[*clockTimer]bool
	armed  chan struct{} // closed (and replaced) when a timer is set
}

type clockTimer struct {
	at time.Time
	f  func()
}

// newTestClock starts at a fixed time, 2 March 2026, 09:00 UTC.
func newTestClock() *testClock { return clockAt(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

// newTimerClock starts at the real time, to the second.
func newTimerClock() *testClock { return clockAt(time.Now().UTC().Truncate(time.Second)) }

func clockAt(t time.Time) *testClock {
	return &testClock{now: t, timers: map[*clockTimer]bool{}, armed: make(chan struct{})}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc runs f once the clock has moved d on (at once when d <= 0);
// stop cancels it, and reports whether it had not run.
func (c *testClock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	if d <= 0 {
		go f() // as time.AfterFunc does: never on the caller's goroutine
		return func() bool { return false }
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &clockTimer{at: c.now.Add(d), f: f}
	c.timers[t] = true
	close(c.armed)
	c.armed = make(chan struct{})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		pending := c.timers[t]
		delete(c.timers, t)
		return pending
	}
}

// waitTimer waits until a timer due within d of the clock's time is set
// (something waits on the clock: a debounce, a retry), failing the test
// after 10 s: the test then moves the clock knowing that it fires one.
func (c *testClock) waitTimer(t testing.TB, d time.Duration) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		by, armed := c.now.Add(d), c.armed
		for tm := range c.timers {
			if !tm.at.After(by) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		select {
		case <-armed:
		case <-timeout:
			t.Fatalf("waited 10 s for a timer due within %s", d)
		}
	}
}

// After returns a channel that receives the time once the clock has moved
// d on.
func (c *testClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.AfterFunc(d, func() { ch <- c.Now() })
	return ch
}

// Add moves the clock d on and runs the timers due, earliest first.
func (c *testClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t, if later, and runs the timers due, earliest
// first.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.now) {
		c.now = t
	}
	var due []*clockTimer
	for tm := range c.timers {
		if !tm.at.After(c.now) {
			due = append(due, tm)
			delete(c.timers, tm)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b *clockTimer) int { return a.at.Compare(b.at) })
	for _, tm := range due {
		tm.f()
	}
}
