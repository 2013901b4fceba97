package digest

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleGrowingDelay(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	th := NewThrottle(ThrottleOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 8 * time.Second, Now: clk.now})
	var got []time.Duration
	for range 7 {
		got = append(got, th.Fail("k"))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	if d := th.Blocked("k"); d != 8*time.Second {
		t.Fatalf("Blocked = %v", d)
	}
	if d := th.Blocked("other"); d != 0 {
		t.Fatalf("other key blocked %v", d)
	}
	clk.advance(8 * time.Second)
	if d := th.Blocked("k"); d != 0 {
		t.Fatalf("still blocked after the delay: %v", d)
	}
	th.Reset("k")
	if th.Fail("k") != 0 {
		t.Fatal("reset did not clear the failures")
	}
}

func TestThrottleForgetsAndIsBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	th := NewThrottle(ThrottleOptions{FreeFailures: -1, Forget: time.Minute, MaxKeys: 10, Now: clk.now})
	for i := range 100 {
		th.Fail(fmt.Sprint(i))
		clk.advance(time.Millisecond)
	}
	if n := th.Len(); n > 10 {
		t.Fatalf("%d keys held, bound 10", n)
	}
	if th.Blocked("99") == 0 {
		t.Fatal("the newest key was evicted")
	}
	clk.advance(2 * time.Minute)
	if th.Fail("99") != DefaultBaseDelay {
		t.Fatal("an old failure was not forgotten")
	}
}

func TestGuard(t *testing.T) {
	s, clk := newServer(t, Options{})
	g := NewGuard(s, ThrottleOptions{FreeFailures: 2, BaseDelay: 10 * time.Second, Now: clk.now})
	try := func(pass, src string) (Result, time.Duration) {
		h := answer(t, s.Challenge(false), "REFER", uri, "alice", pass, 1)
		_, res, d := g.Verify("REFER", []string{h}, accounts, src)
		return res, d
	}
	for i := range 2 {
		if res, _ := try("guess", "192.0.2.1"); res != Bad {
			t.Fatalf("guess %d: %v", i, res)
		}
	}
	// The third failure locks the user and the source.
	if res, _ := try("guess", "192.0.2.1"); res != Bad {
		t.Fatalf("guess 3: %v", res)
	}
	// Now even the right password gets no verdict, from anywhere.
	if res, d := try("wonderland", "192.0.2.1"); res != Throttled || d <= 0 {
		t.Fatalf("right password while the source is locked: %v %v", res, d)
	}
	if res, _ := try("wonderland", "198.51.100.7"); res != Throttled {
		t.Fatalf("right password for the locked user from elsewhere: %v", res)
	}
	clk.advance(11 * time.Second)
	if res, _ := try("wonderland", "198.51.100.7"); res != OK {
		t.Fatalf("after the delay: %v", res)
	}
	if u, src := g.Tracked(); u != 0 || src != 1 {
		t.Fatalf("tracked users %d sources %d after a success; want 0 and 1 (the guesser)", u, src)
	}
}
