package mixer

// The exported pieces below let an RTP endpoint outside the mixer (the
// bundled client, client/) reuse the mixer's G.711 codec, its adaptive
// jitter buffer and its RFC 4733 event codes instead of copying them.

// Decode converts len(src) payload bytes of c into samples in dst
// (len(dst) >= len(src)); an unsupported codec gives silence.
func (c Codec) Decode(dst []int16, src []byte) { c.kind().decode(dst, src) }

// Encode converts the samples of src into len(src) payload bytes of c in
// dst (len(dst) >= len(src)). It does nothing for an unsupported codec.
func (c Codec) Encode(dst []byte, src []int16) { c.kind().encode(dst, src) }

// JitterBuffer is the mixer's adaptive jitter buffer for one receiving
// stream: packets go in by RTP timestamp (reordered, duplicated, late or
// lost), one frame comes out per Pop, with packet-loss concealment. Not
// safe for concurrent use.
type JitterBuffer struct{ jb jitterBuffer }

// NewJitterBuffer returns a jitter buffer for frames of frame samples.
func NewJitterBuffer(frame int) *JitterBuffer {
	return &JitterBuffer{jb: newJitterBuffer(frame)}
}

// Put stores decoded samples that start at RTP timestamp ts; it reports
// false when the packet was dropped (late, duplicate or too large).
func (b *JitterBuffer) Put(ts uint32, pcm []int16) bool { return b.jb.put(ts, pcm) == putOK }

// Pop writes the next frame into out (len(out) == frame) and reports
// whether it holds received or concealed audio (false: silence).
func (b *JitterBuffer) Pop(out []int16) bool { return b.jb.pop(out) != frameSilent }

// Reset forgets the stream (a new SSRC); the next packet starts play-out
// anew.
func (b *JitterBuffer) Reset() { b.jb.reset() }

// DTMFEvent returns the RFC 4733 §3.2 event code of a DTMF digit
// (0-9, *, #, A-D).
func DTMFEvent(digit rune) (uint8, bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return uint8(digit - '0'), true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return uint8(12 + digit - 'A'), true
	}
	return 0, false
}
