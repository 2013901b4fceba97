package mixer

import "testing"

func TestExportedEndpointParts(t *testing.T) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(i * 100)
	}
	for _, c := range Codecs() {
		enc := make([]byte, 160)
		c.Encode(enc, src)
		dec := make([]int16, 160)
		c.Decode(dec, enc)
		for i := range src {
			if d := int(dec[i]) - int(src[i]); d > 600 || d < -600 {
				t.Fatalf("%s: sample %d: %d → %d", c, i, src[i], dec[i])
			}
		}
	}
	jb := NewJitterBuffer(160)
	out := make([]int16, 160)
	if jb.Pop(out) {
		t.Fatal("audio before any packet")
	}
	if !jb.Put(0, src) || jb.Put(0, src) {
		t.Fatal("put: first must be stored, the duplicate dropped")
	}
	got := false
	for range 4 {
		if jb.Pop(out) && out[1] == src[1] {
			got = true
		}
	}
	if !got {
		t.Fatal("the packet never played out")
	}
	for r, want := range map[rune]uint8{'0': 0, '9': 9, '*': 10, '#': 11, 'A': 12, 'D': 15} {
		if ev, ok := DTMFEvent(r); !ok || ev != want || dtmfDigit(ev) != r {
			t.Errorf("DTMFEvent(%q) = %d %v", r, ev, ok)
		}
	}
	if _, ok := DTMFEvent('x'); ok {
		t.Error("x is no DTMF digit")
	}
}
