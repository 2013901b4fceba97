package mixer

import (
	"bytes"
	"testing"
)

// TestPromptOnlyInOneEar: a leg playing a prompt hears its mix plus the
// prompt; the others hear the plain mix; the prompt ends by itself.
func TestPromptOnlyInOneEar(t *testing.T) {
	e := newTestEngine(t, nil)
	c := newCapture()
	m := newMixer(e.frame, e.cfg)
	m.write = c.write
	r := newRoom("r", e.frame)
	var legs []*Leg
	for i, v := range []int16{2000, 0, 0} {
		l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*i)), Codec: PCMU()})
		feed(l, e.frame, v)
		legs = append(legs, l)
	}
	cue := make([]int16, e.frame+e.frame/2) // one and a half frames
	for i := range cue {
		cue[i] = 1000
	}
	legs[1].Play(cue)
	m.mixRoom(r, legs)
	want := func(l *Leg, v []int16) {
		t.Helper()
		p, ok := c.last(l)
		if !ok {
			t.Fatal("no packet")
		}
		enc := make([]byte, len(v))
		PCMU().kind().encode(enc, v)
		if !bytes.Equal(p.Payload, enc) {
			t.Fatalf("payload %x…, want %x…", p.Payload[:4], enc[:4])
		}
	}
	flat := func(v int16, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	want(legs[0], flat(0, e.frame))    // the talker hears nobody, and no prompt
	want(legs[1], flat(3000, e.frame)) // talker 2000 + prompt 1000
	want(legs[2], flat(2000, e.frame)) // the plain mix
	for _, l := range legs {
		feed(l, e.frame, 0)
	}
	m.mixRoom(r, legs)
	half := append(flat(1000, e.frame/2), flat(0, e.frame/2)...)
	want(legs[1], half)
	want(legs[2], flat(0, e.frame))
	for _, l := range legs {
		feed(l, e.frame, 0)
	}
	m.mixRoom(r, legs)
	want(legs[1], flat(0, e.frame)) // over
}

func TestTonePattern(t *testing.T) {
	s := TonePattern(8000, ToneStep{Hz: 440, DurationMs: 100}, ToneStep{DurationMs: 50}, ToneStep{Hz: 880, DurationMs: 100})
	if len(s) != 2000 {
		t.Fatalf("%d samples", len(s))
	}
	if s[0] != 0 || s[403] == 0 || s[900] != 0 || s[1200] != 0 || s[1403] == 0 {
		t.Fatalf("shape %d %d %d %d %d", s[0], s[403], s[900], s[1200], s[1403])
	}
	if n := len(TonePattern(8000, ToneStep{Hz: 1, DurationMs: 60000})); n != maxPrompt {
		t.Fatalf("unbounded: %d", n)
	}
}
