//go:build malgo && cgo

package client

import (
	"testing"
	"time"
)

// The sound device opens (miniaudio falls back to its null backend on a
// machine without sound hardware) or fails with a clear error; it never
// crashes, and frames pass through its queues while it runs.
func TestSoundDevice(t *testing.T) {
	d, err := openDevice(8000)
	if err != nil {
		t.Logf("no sound device here: %v", err)
		return
	}
	frame := make([]int16, 160)
	for i := range 25 {
		frame[0] = int16(i)
		if err := d.Write(frame); err != nil {
			t.Fatal(err)
		}
		d.Fill(frame)
		time.Sleep(20 * time.Millisecond)
	}
	d.mu.Lock()
	queued := len(d.playback)
	d.mu.Unlock()
	if queued > maxQueue {
		t.Errorf("playback queue %d > %d", queued, maxQueue)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
