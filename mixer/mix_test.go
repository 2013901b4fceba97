package mixer

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

type mixIn struct {
	v     int16
	muted bool
	dir   Direction
	codec Codec
}

func TestMixMinus(t *testing.T) {
	u, a := PCMU(), PCMA()
	const none = int16(-1) // no packet expected
	tests := []struct {
		name        string
		maxSpeakers int
		in          []mixIn
		want        []int16 // what each leg hears, or none
		encodes     int
	}{
		{"three talkers hear the other two", 0,
			[]mixIn{{v: 1000, codec: u}, {v: 2000, codec: u}, {v: 3000, codec: a}},
			[]int16{5000, 4000, 3000}, 3},
		{"a lone talker hears silence", 0,
			[]mixIn{{v: 1000, codec: u}, {v: 0, codec: u}},
			[]int16{0, 1000}, 2},
		{"positive saturation", 0,
			[]mixIn{{v: 30000, codec: u}, {v: 20000, codec: u}, {v: 10000, codec: u}, {v: 0, codec: u}},
			[]int16{30000, 32767, 32767, 32767}, 4},
		{"negative saturation", 0,
			[]mixIn{{v: -30000, codec: a}, {v: -20000, codec: a}, {v: -10000, codec: a}, {v: 0, codec: a}},
			[]int16{-30000, -32768, -32768, -32768}, 4},
		{"muted input absent from every output", 0,
			[]mixIn{{v: 1000, codec: u, muted: true}, {v: 2000, codec: u}, {v: 3000, codec: u}},
			[]int16{5000, 3000, 2000}, 3},
		{"below the gate does not contribute", 0,
			[]mixIn{{v: 100, codec: u}, {v: 2000, codec: u}, {v: 3000, codec: u}},
			[]int16{5000, 3000, 2000}, 3},
		{"recvonly contributes but is sent nothing", 0,
			[]mixIn{{v: 1000, codec: u, dir: RecvOnly}, {v: 2000, codec: u}, {v: 0, codec: u}},
			[]int16{none, 1000, 3000}, 2},
		{"sendonly hears the mix but does not contribute", 0,
			[]mixIn{{v: 1000, codec: u, dir: SendOnly}, {v: 2000, codec: u}, {v: 4000, codec: u}},
			[]int16{6000, 4000, 2000}, 3},
		{"inactive neither", 0,
			[]mixIn{{v: 1000, codec: u, dir: Inactive}, {v: 2000, codec: u}, {v: 4000, codec: u}},
			[]int16{none, 4000, 2000}, 2},
		{"top-2 of three talkers", 2,
			[]mixIn{{v: 1000, codec: u}, {v: 3000, codec: u}, {v: 2000, codec: a}, {v: 0, codec: a}},
			[]int16{5000, 2000, 3000, 5000}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, func(c *Config) { c.MaxSpeakers = tc.maxSpeakers })
			c := newCapture()
			m := newMixer(e.frame, e.cfg)
			m.write = c.write
			r := newRoom("r", e.frame)
			var legs []*Leg
			for i, in := range tc.in {
				l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*i)), Codec: in.codec, Direction: in.dir})
				l.SetMuted(in.muted)
				feed(l, e.frame, in.v)
				legs = append(legs, l)
			}
			m.mixRoom(r, legs)
			for i, l := range legs {
				p, ok := c.last(l)
				if tc.want[i] == none {
					if ok {
						t.Errorf("leg %d was sent a packet", i)
					}
					continue
				}
				if !ok {
					t.Fatalf("leg %d got no packet", i)
				}
				want := encodeConst(tc.in[i].codec.kind(), tc.want[i], e.frame)
				if !bytes.Equal(p.Payload, want) {
					t.Errorf("leg %d payload %x…, want the encoding of %d (%x…)", i, p.Payload[:4], tc.want[i], want[:4])
				}
				if p.PayloadType != tc.in[i].codec.PayloadType {
					t.Errorf("leg %d payload type %d", i, p.PayloadType)
				}
			}
			if r.encodes != tc.encodes {
				t.Errorf("encodes = %d, want %d", r.encodes, tc.encodes)
			}
		})
	}
}

// TestMixMinusVaryingSamples checks sum−own sample by sample with tones.
func TestMixMinusVaryingSamples(t *testing.T) {
	e := newTestEngine(t, nil)
	c := newCapture()
	m := newMixer(e.frame, e.cfg)
	m.write = c.write
	r := newRoom("r", e.frame)
	in := make([][]int16, 3)
	var legs []*Leg
	for i := range in {
		in[i] = make([]int16, e.frame)
		for j := range in[i] {
			in[i][j] = int16((i + 1) * 1000 * ((j % 7) - 3))
		}
		l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*i)), Codec: PCMU()})
		feedPCM(l, in[i])
		legs = append(legs, l)
	}
	m.mixRoom(r, legs)
	for i, l := range legs {
		p, _ := c.last(l)
		want := make([]int16, e.frame)
		for j := range want {
			var s int32
			for k := range in {
				if k != i {
					s += int32(in[k][j])
				}
			}
			want[j] = saturate(s)
		}
		enc := make([]byte, e.frame)
		kindPCMU.encode(enc, want)
		if !bytes.Equal(p.Payload, enc) {
			t.Fatalf("leg %d: mix-minus mismatch", i)
		}
	}
}

// TestMixSharedEncoding: listeners with the same codec share one encoding.
func TestMixSharedEncoding(t *testing.T) {
	e := newTestEngine(t, nil)
	c := newCapture()
	m := newMixer(e.frame, e.cfg)
	m.write = c.write
	r := newRoom("r", e.frame)
	var talkers, listenersU, listenersA []*Leg
	mk := func(codec Codec, v int16) *Leg {
		l := newSocketlessLeg(e, LegParams{Remote: remote(uint16(20000 + 2*len(talkers) + 2*len(listenersU) + 2*len(listenersA) + 100)), Codec: codec})
		feed(l, e.frame, v)
		return l
	}
	talkers = append(talkers, mk(PCMU(), 1500), mk(PCMA(), -2500))
	for range 5 {
		listenersU = append(listenersU, mk(PCMU(), 0))
	}
	for range 3 {
		listenersA = append(listenersA, mk(PCMA(), 0))
	}
	all := append(append(append([]*Leg{}, talkers...), listenersU...), listenersA...)
	m.mixRoom(r, all)
	if r.encodes != 2+2 {
		t.Fatalf("encodes = %d, want 4 (two talkers, one per codec for listeners)", r.encodes)
	}
	for _, group := range [][]*Leg{listenersU, listenersA} {
		first, _ := c.last(group[0])
		for _, l := range group[1:] {
			p, _ := c.last(l)
			if !bytes.Equal(p.Payload, first.Payload) {
				t.Fatal("listeners with one codec got different payloads")
			}
		}
	}
	if &r.enc[kindPCMU][0] == &r.enc[kindPCMA][0] {
		t.Fatal("codecs share a buffer")
	}
}

// TestMixRTPHeaders: own SSRC, sequence +1, timestamp +frame every tick
// including silent ones, marker only on the first packet and after a
// pause in sending (hold).
func TestMixRTPHeaders(t *testing.T) {
	e := newTestEngine(t, nil)
	c := newCapture()
	m := newMixer(e.frame, e.cfg)
	m.write = c.write
	r := newRoom("r", e.frame)
	p := LegParams{Remote: remote(20000), Codec: PCMU()}
	l := newSocketlessLeg(e, p)
	other := newSocketlessLeg(e, LegParams{Remote: remote(20002), Codec: PCMU()})
	legs := []*Leg{l, other}
	tick := func() { m.mixRoom(r, legs) }
	for i := range 5 {
		if i < 2 {
			feed(other, e.frame, 3000)
		}
		tick()
	}
	p.Direction = Inactive
	if err := l.Update(p); err != nil {
		t.Fatal(err)
	}
	tick()
	tick()
	p.Direction = SendRecv
	l.Update(p)
	tick()
	tick()
	pk := c.pkts[l]
	if len(pk) != 7 {
		t.Fatalf("%d packets, want 7", len(pk))
	}
	for i, q := range pk {
		if q.SSRC != l.LocalSSRC() || q.PayloadType != 0 || q.Version != 2 {
			t.Fatalf("packet %d header %+v", i, q.Header)
		}
		wantMarker := i == 0 || i == 5
		if q.Marker != wantMarker {
			t.Errorf("packet %d marker %v", i, q.Marker)
		}
		if i == 0 {
			continue
		}
		if q.SequenceNumber != pk[i-1].SequenceNumber+1 {
			t.Errorf("packet %d seq %d after %d", i, q.SequenceNumber, pk[i-1].SequenceNumber)
		}
		wantTS := pk[i-1].Timestamp + uint32(e.frame)
		if i == 5 {
			wantTS += 2 * uint32(e.frame) // two ticks on hold
		}
		if q.Timestamp != wantTS {
			t.Errorf("packet %d ts %d, want %d", i, q.Timestamp, wantTS)
		}
	}
	// silence after the talker stopped is still sent as µ-law silence
	if last := pk[len(pk)-1]; !bytes.Equal(last.Payload, encodeConst(kindPCMU, 0, e.frame)) {
		t.Errorf("last payload not silence")
	}
	// the counts reach the leg at its next pull: one tick behind
	tick()
	if st := l.Stats(); st.PacketsSent != 7 || st.OctetsSent != 7*uint64(e.frame) {
		t.Errorf("stats sent %d/%d", st.PacketsSent, st.OctetsSent)
	}
}

// TestMixGateHangover: the gate stays open for the hangover after speech
// ends (the talker keeps getting mix-minus), then closes; Speaking events
// mark both edges; mute closes the gate at once.
func TestMixGateHangover(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.GateHangover = 100 * time.Millisecond })
	m := newMixer(e.frame, e.cfg)
	c := newCapture()
	m.write = c.write
	r := newRoom("r", e.frame)
	l := newSocketlessLeg(e, LegParams{Remote: remote(20000), Codec: PCMU()})
	listener := newSocketlessLeg(e, LegParams{Remote: remote(20002), Codec: PCMU()})
	legs := []*Leg{l, listener}
	var open []bool
	for i := range 12 {
		if i < 3 {
			feed(l, e.frame, 4000)
		}
		m.mixRoom(r, legs)
		open = append(open, l.mx.contrib)
	}
	// 3 loud frames, then 5 frames of hangover (100 ms / 20 ms), then closed.
	want := "111111110000"
	got := ""
	for _, o := range open {
		got += map[bool]string{true: "1", false: "0"}[o]
	}
	if got != want {
		t.Fatalf("gate %s, want %s", got, want)
	}
	if evs := drainEvents(l); fmt.Sprint(evs) != "[true false]" {
		t.Fatalf("speaking events %v", evs)
	}
	feed(l, e.frame, 4000)
	m.mixRoom(r, legs)
	l.SetMuted(true)
	feed(l, e.frame, 4000)
	m.mixRoom(r, legs)
	if l.mx.contrib {
		t.Fatal("muted leg still contributes during hangover")
	}
	if evs := drainEvents(l); fmt.Sprint(evs) != "[true false]" {
		t.Fatalf("speaking events around mute %v", evs)
	}
	if evs := drainEvents(listener); len(evs) != 0 {
		t.Fatalf("silent listener reported speaking %v", evs)
	}
}

func drainEvents(l *Leg) []bool {
	var out []bool
	for {
		select {
		case ev := <-l.events:
			if ev.kind == evSpeaking {
				out = append(out, ev.speaking)
			}
		default:
			return out
		}
	}
}

// TestMixSkip: missed ticks advance timestamps and drop input frames.
func TestMixSkip(t *testing.T) {
	e := newTestEngine(t, nil)
	m := newMixer(e.frame, e.cfg)
	c := newCapture()
	m.write = c.write
	r := newRoom("r", e.frame)
	l := newSocketlessLeg(e, LegParams{Remote: remote(20000), Codec: PCMU()})
	for range 4 {
		feed(l, e.frame, 1000)
	}
	m.mixRoom(r, []*Leg{l})
	m.skip([]*Leg{l}, 2)
	m.mixRoom(r, []*Leg{l})
	pk := c.pkts[l]
	if len(pk) != 2 || pk[1].Timestamp-pk[0].Timestamp != 3*uint32(e.frame) || !pk[1].Marker {
		t.Fatalf("after skip: %+v", pk)
	}
	l.mu.Lock()
	lead := l.jb.lead()
	l.mu.Unlock()
	if lead != 0 {
		t.Fatalf("jitter buffer lead %d after consuming 4 frames", lead)
	}
}
