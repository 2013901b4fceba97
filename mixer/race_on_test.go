//go:build race

package mixer

// raceEnabled: sync.Pool drops items at random under the race detector,
// so allocation counts through x/net's pooled batches are meaningless.
const raceEnabled = true
