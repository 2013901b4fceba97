// Package testwait is the one wait-until helper of the bridge's tests: a
// test waits for the state it needs, never for a guessed time.
package testwait

import (
	"testing"
	"time"
)

// Poll is how often Until checks its condition.
const Poll = 10 * time.Millisecond

// Until checks cond every Poll until it holds, and fails the test (naming
// what it waited for and for how long) when d passes first.
func Until(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(Poll)
	}
}
