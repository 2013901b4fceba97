package mixer

import (
	"math/bits"
)

// Jitter-buffer tuning, in frames (one frame is one packetisation interval).
const (
	jbMinDepth     = 1
	jbInitDepth    = 2
	jbMaxDepth     = 8
	jbShrinkWindow = 250 // pops (5 s at 20 ms) without late packets before the depth may shrink
	jbPLCFrames    = 3   // concealed frames (each 6 dB quieter) before silence
	jbMaxPacket    = 6   // largest accepted packet, in frames (120 ms at 20 ms)
	jbLateResync   = 3   // consecutive pop intervals with only late packets → resync
	jbBehindResync = 50  // a packet more than this many frames behind is a timestamp jump
)

// frameKind says what pop produced.
type frameKind uint8

const (
	frameSilent    frameKind = iota // nothing to play: not started yet, or loss beyond concealment
	frameAudio                      // received audio (missing samples of a partial frame are zero)
	frameConcealed                  // packet-loss concealment: the last frame repeated, faded
)

// putResult says what put did with a packet.
type putResult uint8

const (
	putOK        putResult = iota
	putLate                // entirely behind the play-out point: dropped
	putDuplicate           // already buffered: dropped
	putInvalid             // empty or too large: dropped
)

// jitterBuffer turns packets that arrive with jitter, out of order, twice or
// not at all into one frame per pop. It is indexed by RTP timestamp, so
// reordering and duplicates need no sorting and any packet size that is a
// whole number of samples works; sequence numbers only feed statistics
// (rxStats). Samples are stored decoded in a ring of 2^k samples.
//
// Depth adapts: a late packet (its play-out time has passed) raises the
// target depth by one frame and stalls play-out for one frame; a window of
// jbShrinkWindow pops without late packets whose smallest lead still held
// depth frames lowers it again by skipping one frame. A packet too far ahead
// or behind (a timestamp jump), or a run of late-only intervals, resyncs.
//
// Not safe for concurrent use; the leg serialises put and pop.
type jitterBuffer struct {
	frame   int // samples per frame
	mask    uint32
	samples []int16
	filled  bitset  // set where samples holds a received sample
	last    []int16 // the last frame played, faded in place by concealment

	started bool
	playTS  uint32 // timestamp of the next sample to play
	highTS  uint32 // one past the newest buffered sample
	depth   int    // target lead in frames

	plcRun       int  // consecutive concealed frames
	haveLast     bool // last holds audio
	stall        int  // frames to conceal without advancing (depth growth)
	skip         int  // frames to drop (depth shrink)
	lateSincePop bool
	lateRun      int // consecutive pop intervals that saw late packets and no timely one

	windowPops int
	windowLate bool
	minLead    int32
	haveLead   bool

	// counters, cumulative
	late       uint64
	duplicates uint64
	resyncs    uint64
	concealed  uint64
}

func newJitterBuffer(frame int) jitterBuffer {
	need := (jbMaxDepth+2)*frame + (jbMaxPacket+1)*frame
	size := 1 << bits.Len(uint(need))
	return jitterBuffer{
		frame:   frame,
		mask:    uint32(size - 1),
		samples: make([]int16, size),
		filled:  make(bitset, size/64),
		last:    make([]int16, frame),
		depth:   jbInitDepth,
	}
}

// reset forgets the stream (new SSRC): the next packet starts play-out anew.
// Depth and counters survive.
func (jb *jitterBuffer) reset() {
	jb.started = false
	jb.stall, jb.skip, jb.lateRun = 0, 0, 0
	jb.haveLead, jb.windowLate, jb.windowPops = false, false, 0
	jb.filled.clearAll()
}

// resync restarts play-out so that a packet with timestamp ts plays after
// depth-1 further frames.
func (jb *jitterBuffer) resync(ts uint32) {
	if jb.started {
		jb.resyncs++
	}
	jb.started = true
	jb.filled.clearAll()
	jb.playTS = ts - uint32((jb.depth-1)*jb.frame)
	jb.highTS = ts
	jb.stall, jb.skip, jb.lateRun = 0, 0, 0
	jb.lateSincePop = false
}

// put stores decoded samples that start at RTP timestamp ts.
func (jb *jitterBuffer) put(ts uint32, pcm []int16) putResult {
	n := len(pcm)
	if n == 0 || n > jbMaxPacket*jb.frame {
		return putInvalid
	}
	if !jb.started {
		jb.resync(ts)
	}
	off := int64(int32(ts - jb.playTS))
	switch {
	case off+int64(n) <= 0: // entirely in the past
		if -off > int64(jbBehindResync*jb.frame) { // timestamp jumped backwards
			jb.resync(ts)
			break
		}
		jb.windowLate = true
		if !jb.lateSincePop {
			jb.lateSincePop = true
			jb.lateRun++
			if jb.lateRun >= jbLateResync {
				jb.resync(ts) // the stream sits behind us for good: follow it
				break
			}
			jb.grow()
		}
		jb.late++
		return putLate
	case off < 0: // partly in the past: keep the rest
		pcm = pcm[-off:]
		ts = jb.playTS
		jb.late++
		jb.windowLate = true
		if !jb.lateSincePop {
			jb.lateSincePop = true
			jb.grow()
		}
	case off > int64((jbMaxDepth+2)*jb.frame): // a forward jump no jitter explains
		jb.resync(ts)
	}
	jb.lateRun = 0
	n = len(pcm)
	i0 := ts & jb.mask
	if jb.filled.has(int(i0)) && jb.filled.has(int((ts+uint32(n)-1)&jb.mask)) {
		jb.duplicates++
		return putDuplicate
	}
	first := min(n, len(jb.samples)-int(i0))
	copy(jb.samples[i0:], pcm[:first])
	jb.filled.set(int(i0), first)
	if first < n {
		copy(jb.samples, pcm[first:])
		jb.filled.set(0, n-first)
	}
	if end := ts + uint32(n); int32(end-jb.highTS) > 0 {
		jb.highTS = end
	}
	return putOK
}

// grow raises the target depth by one frame, paid for by one stalled frame.
func (jb *jitterBuffer) grow() {
	if jb.depth < jbMaxDepth {
		jb.depth++
		jb.stall++
	}
}

// pop writes the next frame into out (len(out) == frame).
func (jb *jitterBuffer) pop(out []int16) frameKind {
	if !jb.started {
		clear(out)
		return frameSilent
	}
	if lead := int32(jb.highTS - jb.playTS); lead > 0 {
		if !jb.haveLead || lead < jb.minLead {
			jb.minLead = lead
			jb.haveLead = true
		}
	}
	jb.lateSincePop = false
	jb.windowTick()
	if jb.stall > 0 {
		jb.stall--
		return jb.conceal(out)
	}
	for ; jb.skip > 0; jb.skip-- {
		jb.read(out)
	}
	if jb.read(out) == 0 {
		return jb.conceal(out)
	}
	copy(jb.last, out)
	jb.haveLast = true
	jb.plcRun = 0
	return frameAudio
}

// windowTick closes a shrink window every jbShrinkWindow pops.
func (jb *jitterBuffer) windowTick() {
	jb.windowPops++
	if jb.windowPops < jbShrinkWindow {
		return
	}
	if !jb.windowLate && jb.haveLead {
		f := int32(jb.frame)
		switch {
		case jb.depth > jbMinDepth && jb.minLead >= int32(jb.depth)*f:
			jb.depth--
			jb.skip++
		case jb.minLead >= int32(jb.depth+1)*f: // sender clock runs fast
			jb.skip++
		}
	}
	jb.windowPops, jb.windowLate, jb.haveLead = 0, false, false
}

// read copies the frame at playTS into out, clears it and advances; it
// returns how many samples were present (absent ones read as zero).
func (jb *jitterBuffer) read(out []int16) int {
	i0 := int(jb.playTS & jb.mask)
	first := min(len(out), len(jb.samples)-i0)
	got := jb.readSeg(out[:first], i0)
	if first < len(out) {
		got += jb.readSeg(out[first:], 0)
	}
	jb.playTS += uint32(len(out))
	return got
}

func (jb *jitterBuffer) readSeg(out []int16, i0 int) int {
	src := jb.samples[i0 : i0+len(out)]
	got := jb.filled.count(i0, len(out))
	switch got {
	case len(out):
		copy(out, src)
	case 0:
		clear(out)
	default:
		for i := range out {
			if jb.filled.has(i0 + i) {
				out[i] = src[i]
			} else {
				out[i] = 0
			}
		}
	}
	jb.filled.clear(i0, len(out))
	return got
}

// conceal repeats the last frame 6 dB quieter each time, then gives silence.
func (jb *jitterBuffer) conceal(out []int16) frameKind {
	if !jb.haveLast || jb.plcRun >= jbPLCFrames {
		clear(out)
		return frameSilent
	}
	jb.plcRun++
	jb.concealed++
	for i, s := range jb.last {
		jb.last[i] = s / 2
	}
	copy(out, jb.last)
	return frameConcealed
}

// bitset marks received samples, one bit each (a byte per sample made
// the jitter buffer of a leg 4 KB larger; cache misses are a large part of
// a tick).
type bitset []uint64

func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

func (b bitset) clearAll() { clear(b) }

func (b bitset) set(i, n int) {
	for n > 0 {
		w, off := i>>6, i&63
		k := min(n, 64-off)
		b[w] |= spanMask(off, k)
		i, n = i+k, n-k
	}
}

func (b bitset) clear(i, n int) {
	for n > 0 {
		w, off := i>>6, i&63
		k := min(n, 64-off)
		b[w] &^= spanMask(off, k)
		i, n = i+k, n-k
	}
}

func (b bitset) count(i, n int) int {
	c := 0
	for n > 0 {
		w, off := i>>6, i&63
		k := min(n, 64-off)
		c += bits.OnesCount64(b[w] & spanMask(off, k))
		i, n = i+k, n-k
	}
	return c
}

// spanMask has k bits set from bit off (k ≥ 1, off+k ≤ 64).
func spanMask(off, k int) uint64 {
	if k >= 64 {
		return ^uint64(0)
	}
	return (uint64(1)<<k - 1) << off
}
