package mixer

import (
	"math/rand/v2"
	"testing"
)

// TestBitsetAgainstBools drives the jitter buffer's bitset and a []bool
// with the same random ranges (crossing word edges) and compares.
func TestBitsetAgainstBools(t *testing.T) {
	const size = 512
	b := make(bitset, size/64)
	ref := make([]bool, size)
	r := rand.New(rand.NewPCG(1, 2))
	for step := range 5000 {
		i := r.IntN(size)
		n := 1 + r.IntN(size-i)
		switch r.IntN(3) {
		case 0:
			b.set(i, n)
			for j := i; j < i+n; j++ {
				ref[j] = true
			}
		case 1:
			b.clear(i, n)
			for j := i; j < i+n; j++ {
				ref[j] = false
			}
		case 2:
			want := 0
			for j := i; j < i+n; j++ {
				if ref[j] {
					want++
				}
			}
			if got := b.count(i, n); got != want {
				t.Fatalf("step %d: count(%d, %d) = %d, want %d", step, i, n, got, want)
			}
		}
		if k := r.IntN(size); b.has(k) != ref[k] {
			t.Fatalf("step %d: has(%d) = %v", step, k, b.has(k))
		}
	}
}
