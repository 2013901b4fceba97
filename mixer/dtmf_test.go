package mixer

import (
	"testing"
)

// ev is one telephone-event packet: timestamp, event code, E bit, duration.
type ev struct {
	ts    uint32
	event uint8
	end   bool
	dur   uint16
}

func (e ev) payload() []byte {
	b := []byte{e.event, 10, byte(e.dur >> 8), byte(e.dur)}
	if e.end {
		b[1] |= 0x80
	}
	return b
}

// press returns the packets of one RFC 4733 event as a sender emits them:
// updates every 20 ms, then the end packet three times.
func press(ts uint32, event uint8, updates int) []ev {
	var out []ev
	for i := 1; i <= updates; i++ {
		out = append(out, ev{ts, event, false, uint16(160 * i)})
	}
	for range 3 {
		out = append(out, ev{ts, event, true, uint16(160 * (updates + 1))})
	}
	return out
}

func cat(parts ...[]ev) []ev {
	var out []ev
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDTMFDecoder(t *testing.T) {
	onlyUpdates := func(p []ev) []ev { return p[:len(p)-3] }
	tests := []struct {
		name  string
		pkts  []ev
		flush bool // a timeout after the packets
		want  string
	}{
		{"single digit, end sent 3 times", press(1000, 5, 4), false, "5"},
		{"two consecutive digits", cat(press(1000, 1, 4), press(3000, 2, 4)), false, "12"},
		{"same digit twice", cat(press(1000, 5, 3), press(2000, 5, 3)), false, "55"},
		{"end packets of the first lost", cat(onlyUpdates(press(1000, 1, 4)), press(3000, 2, 4)), false, "12"},
		{"end packets of the last lost, then timeout", onlyUpdates(press(1000, 7, 4)), true, "7"},
		{"end packets lost, no timeout yet", onlyUpdates(press(1000, 7, 4)), false, ""},
		{"only end packets arrive", press(1000, 9, 0), false, "9"},
		{"straggler of an older event ignored", cat(press(1000, 1, 2), press(3000, 2, 2), []ev{{1000, 1, false, 160}}), false, "12"},
		{"update reordered after end ignored", cat(press(1000, 3, 2), []ev{{1000, 3, false, 320}}), false, "3"},
		{"symbols", cat(press(100, 10, 1), press(200, 11, 1), press(300, 12, 1), press(400, 13, 1), press(500, 14, 1), press(600, 15, 1)), false, "*#ABCD"},
		{"non-DTMF event (flash) gives no digit", cat(press(100, 16, 2), press(300, 0, 2)), false, "0"},
		{"timestamp wrap between events", cat(press(0xffffff00, 4, 2), press(0x100, 6, 2)), false, "46"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d dtmfDecoder
			got := ""
			for _, p := range tc.pkts {
				ds, err := d.feed(p.ts, p.payload())
				if err != nil {
					t.Fatal(err)
				}
				for i := range ds.n {
					got += string(ds.d[i])
				}
			}
			if tc.flush {
				if r := d.flush(); r != 0 {
					got += string(r)
				}
				if d.flush() != 0 {
					t.Error("second flush reported again")
				}
			}
			if got != tc.want {
				t.Fatalf("digits %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDTMFDecoderShortPayload(t *testing.T) {
	var d dtmfDecoder
	if _, err := d.feed(1, []byte{1, 2, 3}); err == nil {
		t.Fatal("3-byte payload accepted")
	}
}

func TestDTMFFlushOnAudio(t *testing.T) {
	var d dtmfDecoder
	d.feed(1000, ev{1000, 8, false, 160}.payload())
	if d.flushBefore(1000) != 0 {
		t.Fatal("audio at the event's own timestamp ended it")
	}
	if r := d.flushBefore(1800); r != '8' {
		t.Fatalf("flushBefore = %q", r)
	}
	if ds, _ := d.feed(1000, ev{1000, 8, true, 640}.payload()); ds.n != 0 {
		t.Fatal("late end packet reported the digit again")
	}
}
