package main

import "testing"

func TestPortPairs(t *testing.T) {
	for _, c := range []struct{ lo, hi, want int }{
		{10000, 20000, 5000}, {10000, 10003, 2}, {10000, 10002, 1}, {10001, 10003, 1}, {10001, 10002, 0}, {10000, 10000, 0},
	} {
		if got := portPairs(c.lo, c.hi); got != c.want {
			t.Errorf("portPairs(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
}
