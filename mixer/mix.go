package mixer

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// rtpWriter sends one marshalled RTP packet of leg l to dst. The engine's
// writes to the leg's socket; tests and benchmarks inject their own.
type rtpWriter func(l *Leg, pkt []byte, dst netip.AddrPort) error

func writeUDP(l *Leg, pkt []byte, dst netip.AddrPort) error {
	if l.rtpConn == nil {
		return nil
	}
	_, err := l.rtpConn.WriteToUDPAddrPort(pkt, dst)
	return err
}

// mixSlot is a leg's state in the mix, owned by the clock goroutine.
type mixSlot struct {
	in      []int16 // this tick's input frame
	out     []int16 // mix-minus scratch
	payload []byte  // this leg's own encoding (talkers only)
	tx      []byte  // marshalled packet
	hdr     rtp.Header

	energy   int64     // sum of squares of in
	hang     int       // gate hangover ticks left
	speaking bool      // gate state last reported
	contrib  bool      // in this tick's mix
	at       time.Time // this tick's time, set before pull

	// copied from the leg under its lock by pull
	send bool
	dst  netip.AddrPort
	kind codecKind
	pt   uint8

	sentLast bool // the previous tick sent a packet (else the next one has the marker)

	txs txStats // what send sent; published to Leg.tx by the next pull

	rxIn, rxDropped int // packets the leg received and dropped since the last pull
	rxStrangers     int // of them refused for their source (admit.go)

	cue   []int16 // this tick's frame of the leg's prompt (prompt.go)
	cueOn bool
}

func newMixSlot(frame int) mixSlot {
	return mixSlot{
		in:      make([]int16, frame),
		out:     make([]int16, frame),
		payload: make([]byte, frame),
		cue:     make([]int16, frame),
		tx:      make([]byte, 12+frame),
		hdr: rtp.Header{
			Version:        2,
			SequenceNumber: uint16(rand.Uint32()),
			Timestamp:      rand.Uint32(),
		},
	}
}

// room is a mix group. members is guarded by Engine.mu and replaced, never
// changed in place; live publishes it to the clock, which alone touches the
// scratch buffers.
type room struct {
	name    string
	members []*Leg
	live    atomic.Pointer[[]*Leg]

	sum      []int32
	full     []int16
	enc      [numKinds][]byte
	encValid [numKinds]bool
	sel      []*Leg
	encodes  int // encodings done by the last tick (tests)

	// set while a tick mixes the room (see Engine.mixShare)
	tickLegs []*Leg
	deferred bool
}

func newRoom(name string, frame int) *room {
	r := &room{name: name, sum: make([]int32, frame), full: make([]int16, frame)}
	for k := range r.enc {
		r.enc[k] = make([]byte, frame)
	}
	r.setMembers(nil)
	return r
}

func (r *room) setMembers(m []*Leg) {
	r.members = m
	r.live.Store(&m)
}

// mixer holds the per-tick mixing parameters, shared by all rooms.
type mixer struct {
	frame        int
	maxSpeakers  int
	gateEnergy   int64 // sum of squares over a frame at the speech threshold
	hangTicks    int
	write        rtpWriter
	now          time.Time
	sent         int          // packets sent during the current tick
	rxIn, rxDrop int          // packets received and dropped, published by this tick
	rxStranger   int          // of the dropped, refused for their source
	out          [2]sendBatch // shared mode: this worker's packets per family
}

// mixRoom runs one tick of one room: pull a frame from every leg, gate,
// pick the talkers (at most maxSpeakers, the loudest), sum them, and send
// every sending leg one packet: talkers get the sum minus their own frame,
// everyone else the full mix, encoded once per codec.
func (m *mixer) mixRoom(r *room, legs []*Leg) {
	m.prepRoom(r, legs)
	r.encValid = [numKinds]bool{}
	r.encodes = 0
	m.fanOut(r, legs, false)
}

// prepRoom is the first half of a room's tick: pull, gate, pick the
// talkers and sum them into r.sum.
func (m *mixer) prepRoom(r *room, legs []*Leg) {
	r.sel = r.sel[:0]
	for _, l := range legs {
		s := &l.mx
		s.at = m.now
		eligible, kind := l.pull(s)
		m.rxIn += s.rxIn
		m.rxDrop += s.rxDropped
		m.rxStranger += s.rxStrangers
		m.gate(l, s, eligible, kind == frameAudio)
		if s.contrib {
			r.sel = append(r.sel, l)
		}
	}
	if m.maxSpeakers > 0 && len(r.sel) > m.maxSpeakers {
		loudest(r.sel, m.maxSpeakers)
		for _, l := range r.sel[m.maxSpeakers:] {
			l.mx.contrib = false
		}
		r.sel = r.sel[:m.maxSpeakers]
	}

	sum := r.sum
	clear(sum)
	for _, l := range r.sel {
		in := l.mx.in[:len(sum)]
		for i := range sum {
			sum[i] += int32(in[i])
		}
	}
}

// prepShared encodes, before a room's fan-out is split over workers, the
// full mix once for every codec its sending listeners use, and counts the
// encodings the fan-out will do, so that fanOut(shared) only reads the
// room's buffers.
func (m *mixer) prepShared(r *room, legs []*Leg) {
	r.encValid = [numKinds]bool{}
	r.encodes = 0
	for i, v := range r.sum {
		r.full[i] = saturate(v)
	}
	for _, l := range legs {
		s := &l.mx
		if !s.send || !s.dst.IsValid() || s.kind == kindNone {
			continue
		}
		if s.contrib || s.cueOn {
			r.encodes++ // its own mix (minus its frame, plus its prompt)
			continue
		}
		if !r.encValid[s.kind] {
			s.kind.encode(r.enc[s.kind], r.full)
			r.encValid[s.kind] = true
			r.encodes++
		}
	}
}

// fanOut sends every sending leg of legs its packet: talkers the sum minus
// their own frame, everyone else the full mix encoded once per codec. With
// shared, prepShared has made the full mix's encodings and legs may be one
// chunk of the room, mixed concurrently with the room's other chunks.
func (m *mixer) fanOut(r *room, legs []*Leg, shared bool) {
	sum := r.sum
	fullDone := shared
	for _, l := range legs {
		s := &l.mx
		if !s.send || !s.dst.IsValid() || s.kind == kindNone {
			s.sentLast = false
			s.hdr.Timestamp += uint32(m.frame)
			continue
		}
		var payload []byte
		if s.cueOn {
			payload = withPrompt(s, sum)
			if !shared { // prepShared counted it: chunks run concurrently
				r.encodes++
			}
		} else if s.contrib {
			out := s.out[:len(sum)]
			in := s.in[:len(sum)]
			for i := range out {
				out[i] = saturate(sum[i] - int32(in[i]))
			}
			s.kind.encode(s.payload, out)
			if !shared {
				r.encodes++
			}
			payload = s.payload
		} else {
			if !fullDone {
				for i, v := range sum {
					r.full[i] = saturate(v)
				}
				fullDone = true
			}
			if !r.encValid[s.kind] { // never with shared: prepShared made them all
				s.kind.encode(r.enc[s.kind], r.full)
				r.encValid[s.kind] = true
				r.encodes++
			}
			payload = r.enc[s.kind]
		}
		m.send(l, s, payload)
	}
}

func saturate(v int32) int16 {
	return int16(min(max(v, -32768), 32767))
}

// pull takes the leg's next frame and a snapshot of what the tick needs
// under the leg's lock. It returns whether the frame may enter the mix and
// what kind of frame it is.
func (l *Leg) pull(s *mixSlot) (bool, frameKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.rxIn, s.rxDropped = l.takeCounts()
	s.rxStrangers = l.takeStrangers()
	l.tx.packets, l.tx.octets, l.tx.lastTS, l.tx.lastAt, l.tx.errors = s.txs.packets, s.txs.octets, s.txs.lastTS, s.txs.lastAt, s.txs.errors
	if !l.started || l.closed {
		s.send, s.cueOn = false, false
		clear(s.in)
		return false, frameSilent
	}
	kind := l.jb.pop(s.in)
	s.cueOn = l.takePrompt(s.cue)
	l.checkUnheard(s.at)
	s.send = l.params.Direction.Sends()
	s.dst = l.rtpDst()
	s.kind = l.kind
	s.pt = l.params.Codec.PayloadType
	return l.params.Direction.Receives() && !l.muted, kind
}

// gate is the energy gate with hangover: it opens on a received frame at
// or above the speech threshold and closes hangTicks frames after the last
// one. Concealed frames never re-arm it.
func (m *mixer) gate(l *Leg, s *mixSlot, eligible, real bool) {
	open := false
	if eligible {
		e := energy(s.in)
		s.energy = e
		switch {
		case real && e >= m.gateEnergy:
			s.hang = m.hangTicks
			open = true
		case s.hang > 0:
			s.hang--
			open = true
		}
	} else {
		s.energy, s.hang = 0, 0
	}
	if open != s.speaking {
		s.speaking = open
		l.emit(legEvent{kind: evSpeaking, speaking: open})
	}
	s.contrib = open
}

// energy is the sum of squares of a frame.
func energy(s []int16) int64 {
	var a, b, c, d int64
	for len(s) >= 4 {
		x := s[:4:4]
		x0, x1, x2, x3 := int32(x[0]), int32(x[1]), int32(x[2]), int32(x[3])
		a += int64(x0 * x0)
		b += int64(x1 * x1)
		c += int64(x2 * x2)
		d += int64(x3 * x3)
		s = s[4:]
	}
	for _, v := range s {
		a += int64(int32(v) * int32(v))
	}
	return a + b + c + d
}

// loudest moves the k legs with the most energy to the front of ls.
func loudest(ls []*Leg, k int) {
	for i := 0; i < k; i++ {
		best := i
		for j := i + 1; j < len(ls); j++ {
			if ls[j].mx.energy > ls[best].mx.energy {
				best = j
			}
		}
		ls[i], ls[best] = ls[best], ls[i]
	}
}

// send marshals and writes one RTP packet; sequence +1, timestamp +frame.
func (m *mixer) send(l *Leg, s *mixSlot, payload []byte) {
	s.hdr.Marker = !s.sentLast
	s.hdr.PayloadType = s.pt
	n, err := s.hdr.MarshalTo(s.tx)
	if err == nil {
		n += copy(s.tx[n:], payload)
		// No lock: the clock owns the slot, pull publishes s.txs to the
		// leg, and a leg closed since pull at worst refuses this write.
		pkt, serr := l.sealRTP(s.tx[:n])
		if serr == nil {
			var err error
			if l.sh != nil {
				err = m.writeShared(l, pkt, s.dst)
			} else {
				err = m.write(l, pkt, s.dst)
			}
			switch {
			case err == nil:
				s.txs.packets++
				s.txs.octets += uint64(len(payload))
				s.txs.lastTS = s.hdr.Timestamp
				s.txs.lastAt = m.now
				m.sent++
			case errors.Is(err, net.ErrClosed):
			default:
				if s.txs.errors++; s.txs.errors == 1 {
					l.log.Info("RTP send failed", "to", s.dst, "err", err)
				}
			}
		}
	}
	s.hdr.SequenceNumber++
	s.hdr.Timestamp += uint32(m.frame)
	s.sentLast = true
}

// skip accounts for ticks the clock missed: every input drops that many
// frames and every output's timestamp jumps (the next packet is marked).
func (m *mixer) skip(legs []*Leg, ticks int) {
	for _, l := range legs {
		s := &l.mx
		l.mu.Lock()
		if l.jb.started {
			for range ticks {
				l.jb.read(s.in)
			}
		}
		l.mu.Unlock()
		s.hdr.Timestamp += uint32(ticks * m.frame)
		s.sentLast = false
	}
}
