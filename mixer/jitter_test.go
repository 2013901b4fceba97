package mixer

import (
	"testing"
)

const tf = 160 // test frame: 20 ms at 8 kHz

// jbBase sits just below 2^32 so the scenarios also cross the timestamp wrap.
const jbBase = uint32(1<<32 - 3*tf)

type jbOp struct {
	pop   bool
	idx   int   // put: frame index (ts = jbBase + idx*tf)
	n     int   // put: samples (default tf)
	val   int16 // put: sample value; pop: expected first sample
	res   putResult
	kind  frameKind
	check func(t *testing.T, jb *jitterBuffer)
}

func put(idx int, v int16) jbOp                    { return jbOp{idx: idx, val: v, res: putOK} }
func putR(idx int, v int16, r putResult) jbOp      { return jbOp{idx: idx, val: v, res: r} }
func putN(idx, n int, v int16) jbOp                { return jbOp{idx: idx, n: n, val: v, res: putOK} }
func pop(k frameKind, v int16) jbOp                { return jbOp{pop: true, kind: k, val: v} }
func check(f func(*testing.T, *jitterBuffer)) jbOp { return jbOp{check: f} }

func depthIs(d int) jbOp {
	return check(func(t *testing.T, jb *jitterBuffer) {
		t.Helper()
		if jb.depth != d {
			t.Errorf("depth = %d, want %d", jb.depth, d)
		}
	})
}

func run(t *testing.T, jb *jitterBuffer, ops []jbOp) {
	t.Helper()
	out := make([]int16, tf)
	for i, op := range ops {
		switch {
		case op.check != nil:
			op.check(t, jb)
		case op.pop:
			k := jb.pop(out)
			if k != op.kind || out[0] != op.val {
				t.Fatalf("op %d: pop = (%d, %d), want (%d, %d)", i, k, out[0], op.kind, op.val)
			}
		default:
			n := op.n
			if n == 0 {
				n = tf
			}
			pcm := make([]int16, n)
			for j := range pcm {
				pcm[j] = op.val
			}
			if r := jb.put(jbBase+uint32(op.idx*tf), pcm); r != op.res {
				t.Fatalf("op %d: put(%d) = %d, want %d", i, op.idx, r, op.res)
			}
		}
	}
}

func TestJitterBuffer(t *testing.T) {
	S, A, C := frameSilent, frameAudio, frameConcealed
	tests := []struct {
		name                          string
		ops                           []jbOp
		late, dup, resyncs, concealed uint64
	}{
		{name: "nothing yet is silence", ops: []jbOp{pop(S, 0), pop(S, 0)}},
		{name: "in order, played depth-1 frames later", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), put(2, 12), pop(A, 11), put(3, 13), pop(A, 12), pop(A, 13),
		}},
		{name: "reorder", ops: []jbOp{
			put(0, 10), pop(S, 0), put(2, 12), put(1, 11), pop(A, 10), put(4, 14), put(3, 13), pop(A, 11), pop(A, 12), pop(A, 13), pop(A, 14),
		}},
		{name: "duplicates dropped", ops: []jbOp{
			put(0, 10), putR(0, 99, putDuplicate), pop(S, 0), put(1, 11), putR(1, 99, putDuplicate), putR(0, 99, putDuplicate), pop(A, 10), pop(A, 11),
		}, dup: 3},
		{name: "loss: concealment fading 6 dB per frame, then silence, then recovery", ops: []jbOp{
			put(0, 1000), pop(S, 0), put(1, 1000), pop(A, 1000), pop(A, 1000),
			pop(C, 500), pop(C, 250), pop(C, 125), pop(S, 0), pop(S, 0),
			put(7, 700), pop(A, 700), pop(C, 350),
		}, concealed: 4},
		{name: "single lost frame concealed between real ones", ops: []jbOp{
			put(0, 800), pop(S, 0), put(1, 801), pop(A, 800), put(3, 803), pop(A, 801), put(4, 804), pop(C, 400), pop(A, 803), pop(A, 804),
		}, concealed: 1},
		{name: "timestamp jump forward resyncs", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11),
			put(1000, 50), pop(C, 5), put(1001, 51), pop(A, 50), pop(A, 51),
		}, resyncs: 1, concealed: 1},
		{name: "timestamp jump backward resyncs", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11),
			put(-1000, 50), pop(C, 5), put(-999, 51), pop(A, 50), pop(A, 51),
		}, resyncs: 1, concealed: 1},
		{name: "late packet dropped, depth grows by one with a stalled frame", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11),
			pop(C, 5), // frame 2 missing at its time
			putR(2, 12, putLate), depthIs(3),
			put(3, 13), pop(C, 2), // the stall: play-out holds at frame 3
			put(4, 14), pop(A, 13), put(5, 15), pop(A, 14), pop(A, 15),
		}, late: 1, concealed: 2},
		{name: "several late packets in one interval grow depth once", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11), pop(C, 5), pop(C, 2),
			putR(2, 12, putLate), putR(3, 13, putLate), depthIs(3),
		}, late: 2, concealed: 2},
		{name: "stream stuck behind for three intervals resyncs", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11), pop(C, 5), pop(C, 2), pop(C, 1), pop(S, 0),
			putR(2, 12, putLate), pop(S, 0), putR(3, 13, putLate), pop(S, 0),
			put(4, 14), // the third interval: resync onto it (depth has grown to 4)
			depthIs(4), pop(S, 0), pop(S, 0), pop(S, 0), pop(A, 14),
		}, late: 2, resyncs: 1, concealed: 3},
		{name: "partly late packet keeps its timely part", ops: []jbOp{
			put(0, 10), pop(S, 0), put(1, 11), pop(A, 10), pop(A, 11), pop(C, 5),
			// frame 2 has been played (concealed); a 40 ms packet for frames 2-3 arrives
			putN(2, 2*tf, 23), depthIs(3), pop(C, 2) /* stall */, pop(A, 23),
		}, late: 1, concealed: 2},
		{name: "30 ms packets re-framed into 20 ms", ops: []jbOp{
			putN(0, 240, 7), pop(S, 0), pop(A, 7),
			check(func(t *testing.T, jb *jitterBuffer) {
				// frame 1 holds the packet's last 80 samples and nothing else yet
				out := make([]int16, tf)
				if k := jb.pop(out); k != frameAudio || out[79] != 7 || out[80] != 0 {
					t.Errorf("partial frame: kind %d, out[79]=%d out[80]=%d", k, out[79], out[80])
				}
			}),
		}},
		{name: "oversized and empty packets rejected", ops: []jbOp{
			{idx: 0, n: jbMaxPacket*tf + 1, res: putInvalid},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jb := newJitterBuffer(tf)
			run(t, &jb, tc.ops)
			if jb.late != tc.late || jb.duplicates != tc.dup || jb.resyncs != tc.resyncs || jb.concealed != tc.concealed {
				t.Errorf("late/dup/resyncs/concealed = %d/%d/%d/%d, want %d/%d/%d/%d",
					jb.late, jb.duplicates, jb.resyncs, jb.concealed, tc.late, tc.dup, tc.resyncs, tc.concealed)
			}
		})
	}
}

func TestJitterBufferEmptyPut(t *testing.T) {
	jb := newJitterBuffer(tf)
	if r := jb.put(5, nil); r != putInvalid {
		t.Fatalf("put(empty) = %d", r)
	}
}

// TestJitterBufferShrink: a window of in-phase arrivals with spare lead
// lowers the depth and skips one frame; at the minimum depth it stays.
func TestJitterBufferShrink(t *testing.T) {
	jb := newJitterBuffer(tf)
	out := make([]int16, tf)
	pcm := make([]int16, tf)
	var played []int16
	for i := range 3 * jbShrinkWindow {
		for j := range pcm {
			pcm[j] = int16(i + 1)
		}
		if r := jb.put(jbBase+uint32(i*tf), pcm); r != putOK {
			t.Fatalf("put %d = %d", i, r)
		}
		if k := jb.pop(out); k == frameAudio {
			played = append(played, out[0])
		}
	}
	if jb.depth != jbMinDepth {
		t.Fatalf("depth = %d, want %d", jb.depth, jbMinDepth)
	}
	skips := 0
	for i := 1; i < len(played); i++ {
		switch played[i] - played[i-1] {
		case 1:
		case 2:
			skips++
		default:
			t.Fatalf("play-out jumped from %d to %d", played[i-1], played[i])
		}
	}
	if skips != jbInitDepth-jbMinDepth {
		t.Fatalf("skipped %d frames, want %d", skips, jbInitDepth-jbMinDepth)
	}
}

// TestJitterBufferJitterKeepsDepth: alternating early/late arrival (one
// frame of jitter) grows the depth once and then holds it: no further late
// packets and no shrink below what the jitter needs.
func TestJitterBufferJitterKeepsDepth(t *testing.T) {
	jb := newJitterBuffer(tf)
	jb.depth = jbMinDepth
	out := make([]int16, tf)
	pcm := make([]int16, tf)
	for j := range pcm {
		pcm[j] = 1000
	}
	// Even frames arrive on time, odd ones one tick late (together with the
	// next even one): one frame of jitter.
	feed := func(tick int) {
		if tick%2 == 0 {
			if tick > 0 {
				jb.put(jbBase+uint32((tick-1)*tf), pcm)
			}
			jb.put(jbBase+uint32(tick*tf), pcm)
		}
	}
	for tick := range 4 * jbShrinkWindow {
		feed(tick)
		jb.pop(out)
	}
	lateAfterWarmup := jb.late
	depth := jb.depth
	for tick := 4 * jbShrinkWindow; tick < 8*jbShrinkWindow; tick++ {
		feed(tick)
		if k := jb.pop(out); k != frameAudio {
			t.Fatalf("tick %d: frame kind %d in steady state (depth %d)", tick, k, jb.depth)
		}
	}
	if jb.late != lateAfterWarmup || jb.depth != depth || depth < 2 {
		t.Fatalf("late %d→%d, depth %d→%d", lateAfterWarmup, jb.late, depth, jb.depth)
	}
}

// TestJitterBufferDepthBounded: a stream arriving later and later never
// pushes the depth past jbMaxDepth.
func TestJitterBufferDepthBounded(t *testing.T) {
	jb := newJitterBuffer(tf)
	out := make([]int16, tf)
	pcm := make([]int16, tf)
	ts := jbBase
	for tick := range 400 {
		jb.pop(out)
		if tick%3 != 0 { // the sender falls behind: 2 packets per 3 ticks
			jb.put(ts, pcm)
			ts += tf
		}
		if jb.depth > jbMaxDepth || jb.depth < jbMinDepth {
			t.Fatalf("depth %d out of bounds", jb.depth)
		}
	}
	if jb.depth != jbMaxDepth {
		t.Fatalf("depth = %d, want it to reach %d", jb.depth, jbMaxDepth)
	}
}
