package mixer

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"
)

// LegParams is the negotiated media of a leg.
type LegParams struct {
	// Remote is the RTP address from the SDP (c= and m=). Symmetric RTP
	// overrides it with the source of the first valid packet (and later
	// with a source that takes the stream over, see Leg); an unspecified
	// address or port 0 means "send only once latched".
	Remote netip.AddrPort
	// RemoteRTCP is the RTCP address (SDP a=rtcp); zero means the RTP
	// destination's port+1, until RTCP from the remote is received.
	RemoteRTCP netip.AddrPort
	// Codec is the audio codec the leg sends and receives; packets with
	// another payload type than Codec's or DTMFPayloadType are dropped.
	Codec Codec
	// DTMFPayloadType is the telephone-event payload type; 0 = none.
	DTMFPayloadType uint8
	// Direction is the media direction from the bridge's point of view.
	Direction Direction
	// RTCPMux multiplexes RTCP on the RTP port (RFC 5761, negotiated by
	// a=rtcp-mux): reports go from the RTP socket to the RTP destination.
	// RTCP arriving on the RTP port is accepted either way. A leg started
	// or updated with RTCPMux stays muxed (see Leg.RTCPMuxed): in per-call
	// mode its RTCP port is closed for good.
	RTCPMux bool
	// SRTP, when set, encrypts and authenticates the leg's RTP and RTCP
	// (SDES keys, RFC 4568; srtp.go). nil: plain RTP.
	SRTP *SRTP
}

func (p LegParams) validate() error {
	switch {
	case !p.Codec.Supported():
		return fmt.Errorf("mixer: codec %q/%d not supported", p.Codec.Name, p.Codec.ClockRate)
	case p.Codec.PayloadType > 127 || p.DTMFPayloadType > 127:
		return fmt.Errorf("mixer: payload type out of range (%d, %d)", p.Codec.PayloadType, p.DTMFPayloadType)
	case p.DTMFPayloadType != 0 && p.DTMFPayloadType == p.Codec.PayloadType:
		return fmt.Errorf("mixer: telephone-event and %s share payload type %d", p.Codec.Name, p.DTMFPayloadType)
	case p.Direction > Inactive:
		return fmt.Errorf("mixer: invalid direction %d", p.Direction)
	}
	return p.SRTP.validate()
}

func (p LegParams) normalized() LegParams {
	p.Remote = unmap(p.Remote)
	p.RemoteRTCP = unmap(p.RemoteRTCP)
	return p
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return a
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func usable(a netip.AddrPort) bool {
	return a.IsValid() && !a.Addr().IsUnspecified() && a.Port() != 0
}

// Handlers receive a leg's events. They are called one at a time, in order,
// from a goroutine of the leg (never from the mixing clock), so a slow
// handler delays only later events of the same leg. A DTMF or SSRC event
// that finds the queue full is dropped; a Speaking change never is (the
// latest one is kept aside and delivered, see emit). Any field may be nil. Handlers may call the leg's
// methods, Close included, but not Engine.Close.
type Handlers struct {
	// DTMF reports a digit ('0'-'9', '*', '#', 'A'-'D') once per RFC 4733 event.
	DTMF func(digit rune)
	// Speaking reports the energy gate opening (true) and closing (false).
	// A muted or non-receiving leg is not speaking.
	Speaking func(speaking bool)
	// SSRC reports the remote's SSRC when first seen and when it changes.
	SSRC func(ssrc uint32)
}

type eventKind uint8

const (
	evDTMF eventKind = iota + 1
	evSpeaking
	evSSRC
)

type legEvent struct {
	kind     eventKind
	speaking bool
	digit    rune
	ssrc     uint32
}

// LegStats is a snapshot of a leg's media statistics.
type LegStats struct {
	LocalSSRC        uint32
	RemoteSSRC       uint32         // 0 until RTP arrived
	Remote           netip.AddrPort // where RTP is sent (latched or from SDP)
	Latched          bool           // Remote is the latched source of received RTP
	Relatches        uint64         // times the latch moved to a new source (NAT rebinding)
	Strangers        uint64         // RTP/RTCP packets refused for their source (admit.go)
	Unheard          bool           // not sending: nothing heard from the SDP address (admit.go)
	PacketsReceived  uint64         // RTP packets accepted (audio and telephone-event)
	PacketsDropped   uint64         // foreign source, payload type, malformed, late or duplicate
	PacketsLost      int64          // cumulative, RFC 3550 A.3 (negative with duplicates)
	FractionLost     float64        // of the last RTCP interval, 0–1
	Jitter           time.Duration  // interarrival jitter, RFC 3550 A.8
	LatePackets      uint64         // arrived after their play-out time
	DuplicatePackets uint64
	ConcealedFrames  uint64        // frames filled in by loss concealment
	JitterDepth      int           // jitter-buffer target depth, in frames
	Resyncs          uint64        // play-out restarts after timestamp jumps
	PacketsSent      uint64        // RTP packets sent to the leg (as of the previous mixer tick)
	OctetsSent       uint64        // payload octets sent
	RoundTrip        time.Duration // from the remote's reports on our SRs; 0 until known
	RTCPSent         uint64
	RTCPReceived     uint64
}

// Leg is one participant's media: an RTP/RTCP port pair, its receive path
// and its slot in a room's mix. Create legs with Engine.Allocate.
//
// Latching: the first RTP packet of a negotiated payload type from a source
// the rules of admit.go accept (the SDP address's IP; another one only
// while learning) latches the leg to that source; the mix goes there and
// packets from other sources are dropped and counted. The latch moves to a new source B (a phone whose
// NAT mapping changed mid-call keeps its SSRC and sequence numbers) only
// when all of these hold:
//
//   - the latched source has sent nothing (no datagram at all on the RTP
//     port) for Config.RelatchQuiet (default 1 s);
//   - after that, B sent Config.RelatchPackets (default 4) consecutive
//     packets of a negotiated payload type, with the SSRC of the current
//     stream and sequence numbers s, s+1, s+2, … where s, with its
//     timestamp, continues the stream for the time elapsed since its last
//     packet (continuesStream in admit.go: the sequence number at most 50 +
//     one per 10 ms ahead, the timestamp within half a second of the
//     clock);
//   - no datagram from the latched source arrived in between.
//
// A packet from B with another SSRC, a payload type not negotiated, or out
// of sequence ends B's run (a valid packet from yet another source starts
// its own run); the last packet of the run is the first one accepted, the
// earlier ones stay dropped. A new SSRC from a new address never takes the
// latch: without the SSRC check a packet sprayer could take a leg over
// whenever the phone pauses (hold, silence suppression); such a phone
// needs a re-INVITE with its new address (Update). Continuity is kept: no
// SSRC event, the reception statistics go on (the packets dropped meanwhile
// count as lost) and the jitter buffer follows the timestamp jump.
//
// RTCP latches separately. When the RTP latch moves and RTCP came from the
// old RTP address (rtcp-mux), the RTCP latch moves along; otherwise RTCP is
// sent to the new RTP port + 1 and re-latches to the first RTCP packet from
// the new RTP source's IP address (others stay dropped).
//
// RTCP multiplexing (RFC 5761, LegParams.RTCPMux): once a leg was started
// or updated with RTCPMux it is muxed for the rest of its life. In per-call
// mode its RTCP socket (Port()+1) is closed then, so the leg holds one
// socket; the port pair stays reserved in the engine until Close (the port
// is not bound again: another process may have taken it). A later Update
// without RTCPMux changes only where reports go (the remote's RTCP address,
// as without mux); they still leave from the RTP port and RTCP is still
// received there, which the focus then announces with a=rtcp and the RTP
// port (RFC 3605; RFC 8035 forbids a=rtcp-mux in an answer to an offer
// without it). Reports of a muxed or shared-mode leg are sent by a timer
// (report.go), not by a goroutine of the leg.
type Leg struct {
	e        *Engine
	port     int
	rtpConn  *net.UDPConn // nil in socket-less tests
	rtcpConn *net.UDPConn
	rtpRaw   syscall.RawConn // rtpConn's, for the poller
	poll     *poller         // reads rtpConn; nil: rtpLoop does
	sh       *sharedSet      // shared mode: the port's sockets (rtpConn is one of them)
	// dtmfTimer ends a telephone-event without end packets (receive)
	dtmfTimer *time.Timer
	ssrc      uint32
	log       *slog.Logger
	epoch     time.Time

	// report sends the RTCP reports of a muxed or shared-mode leg
	// (report.go); stopped, never fired, for the others (rtcpLoop).
	report *time.Timer
	// repMu serialises reports with Close: one is sent under it only while
	// the leg is open, so none follows the BYE.
	repMu sync.Mutex

	handlers Handlers // set by Start, read-only afterwards
	events   chan legEvent
	evDone   chan struct{}
	// lateGate keeps the energy gate's latest state (1 closed, 2 open)
	// when the event queue was full, so that a Speaking change is never
	// lost; gateKick wakes dispatch to deliver it.
	lateGate atomic.Int32
	gateKick chan struct{}
	readers  sync.WaitGroup
	isClosed atomic.Bool

	mu          sync.Mutex
	started     bool
	closed      bool
	room        string
	params      LegParams
	kind        codecKind
	muted       bool
	prompt      []int16 // what the leg hears on top of the mix (prompt.go)
	promptPos   int
	latched     bool
	latchAddr   netip.AddrPort
	latchSeen   time.Time  // last datagram from latchAddr
	run         relatchRun // a new source's progress toward the latch
	relatches   uint64
	strangers   uint64
	rtcpLatched bool
	rtcpAddr    netip.AddrPort
	rtcpFollow  netip.Addr  // after a re-latch: RTCP latches to this IP only
	muxed       bool        // RTCP on the RTP port for good (RTCPMux seen; see Leg)
	src         sourceState // who may send, and whether anyone was heard (admit.go)
	sec         secure      // SRTP contexts (srtp.go)
	haveSSRC    bool
	remoteSSRC  uint32
	stats       rxStats
	jb          jitterBuffer
	dtmf        dtmfDecoder
	pcm         []int16 // decode scratch
	received    uint64
	// counted: received and dropped packets already added to the metrics;
	// the clock publishes the rest once per tick (pull), Close the remainder,
	// so no packet touches a shared counter.
	countedIn, countedDropped uint64
	countedStrangers          uint64
	dropped                   uint64
	lastSR                    uint32 // middle 32 bits of the last SR's NTP time
	lastSRAt                  time.Time
	rtt                       time.Duration
	lostSeen                  int64 // cumulative loss already added to the metric
	rtcpSent                  uint64
	rtcpRecv                  uint64

	rxPkt rtp.Packet // reader-owned

	tx         txStats // published by the clock's pull; l.mu
	txReported uint64  // tx.packets at the previous RTCP report; l.mu

	mx mixSlot // owned by the clock goroutine
}

type txStats struct {
	packets, octets uint64
	lastTS          uint32
	lastAt          time.Time
	errors          uint64
}

func newLeg(e *Engine, port int, rtpConn, rtcpConn *net.UDPConn) *Leg {
	l := &Leg{
		e:        e,
		port:     port,
		rtpConn:  rtpConn,
		rtcpConn: rtcpConn,
		ssrc:     rand.Uint32(),
		epoch:    time.Now(),
		events:   make(chan legEvent, 64),
		evDone:   make(chan struct{}),
		gateKick: make(chan struct{}, 1),
		jb:       newJitterBuffer(e.frame),
		pcm:      make([]int16, jbMaxPacket*e.frame),
		mx:       newMixSlot(e.frame),
	}
	if rtpConn != nil {
		l.rtpRaw, _ = rtpConn.SyscallConn()
	}
	l.dtmfTimer = time.AfterFunc(time.Hour, l.flushDTMF)
	l.dtmfTimer.Stop()
	l.report = time.AfterFunc(time.Hour, l.reportTick)
	l.report.Stop()
	l.log = e.log.With("rtp_port", port, "ssrc", l.ssrc)
	l.mx.hdr.SSRC = l.ssrc
	return l
}

// Port is the local RTP port, for the SDP answer. RTCP is Port()+1, or
// Port() once the leg is muxed (RTCPMuxed).
func (l *Leg) Port() int { return l.port }

// LocalSSRC is the SSRC of the RTP the bridge sends to this leg.
func (l *Leg) LocalSSRC() uint32 { return l.ssrc }

// Start puts the leg into the named room (created on first use) and starts
// receiving and sending. A leg starts once.
func (l *Leg) Start(room string, p LegParams, h Handlers) error {
	if room == "" {
		return errors.New("mixer: empty room name")
	}
	if err := p.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock() // held across join: lock order is l.mu, then e.mu
	switch {
	case l.closed:
		return ErrClosed
	case l.started:
		return errors.New("mixer: leg already started")
	}
	if l.sh != nil {
		if err := l.sh.route(l, LegParams{}, p.normalized()); err != nil {
			return err
		}
	}
	if err := l.e.join(l, room); err != nil {
		if l.sh != nil {
			l.sh.unroute(l, p.normalized())
		}
		return err
	}
	l.setParams(p.normalized())
	l.started, l.room, l.handlers = true, room, h
	if p := l.e.pollerFor(l.e.pairIndex(l.port)); p != nil && l.rtpRaw != nil {
		if err := p.add(l, l.e.pairIndex(l.port)); err == nil {
			l.poll = p
		} else {
			l.log.Warn("RTP poller refused the leg: own reader", "err", err)
		}
	}
	if l.poll == nil && l.sh == nil {
		l.readers.Add(1)
		l.e.wg.Add(1)
		go l.rtpLoop()
	}
	if l.muxed || l.sh != nil { // the RTP readers (or shared ones) receive its RTCP
		l.releaseRTCP()
		l.report.Reset(l.rtcpInterval())
	} else {
		l.readers.Add(1)
		l.e.wg.Add(1)
		go l.rtcpLoop(l.rtcpConn)
	}
	l.e.wg.Add(1)
	go l.dispatch()
	return nil
}

// setParams applies new parameters; l.mu held.
func (l *Leg) setParams(p LegParams) {
	if p.Remote != l.params.Remote {
		l.latched = false
		l.run = relatchRun{}
		l.rtcpLatched = false
		l.rtcpFollow = netip.Addr{}
	}
	if p.RemoteRTCP != l.params.RemoteRTCP || p.RTCPMux != l.params.RTCPMux { // RTCP may come from elsewhere now
		l.rtcpLatched = false
		l.rtcpFollow = netip.Addr{}
	}
	if !sameSRTP(p.SRTP, l.params.SRTP) {
		if err := l.setSRTP(p.SRTP); err != nil {
			l.log.Error("SRTP not set up", "err", err) // validate has checked suite and keys
		}
	}
	l.params = p
	l.muxed = l.muxed || p.RTCPMux
	l.kind = p.Codec.kind()
	l.resetSource(time.Now())
}

// Update applies a re-negotiation: a new remote address (which also drops
// the latch), codec, telephone-event payload type or direction (hold). An
// Update with RTCPMux on a leg that was not muxed releases its RTCP port;
// one without RTCPMux on a muxed leg keeps RTCP on the RTP port (see Leg).
func (l *Leg) Update(p LegParams) error {
	if err := p.validate(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case !l.started:
		return ErrNotStarted
	}
	if l.sh != nil {
		if err := l.sh.route(l, l.params, p.normalized()); err != nil {
			return err
		}
	}
	wasMuxed := l.muxed
	l.setParams(p.normalized())
	if l.muxed && !wasMuxed && l.sh == nil {
		l.releaseRTCP() // rtcpLoop ends: the timer takes the reports over
		l.report.Reset(l.rtcpInterval())
	}
	return nil
}

// RTCPMuxed reports whether the leg's RTCP is on its RTP port for good: it
// was started or updated with LegParams.RTCPMux (in per-call mode its RTCP
// port is closed). The signalling then keeps RTCP on the RTP port in later
// offers and answers.
func (l *Leg) RTCPMuxed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.muxed
}

// SetMuted removes (true) or restores (false) the leg's audio in every
// mix; the leg still hears the others.
func (l *Leg) SetMuted(muted bool) {
	l.mu.Lock()
	l.muted = muted
	l.mu.Unlock()
}

// Muted reports the last SetMuted value.
func (l *Leg) Muted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.muted
}

// Stats returns a snapshot of the leg's statistics.
func (l *Leg) Stats() LegStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx := l.tx
	rate := float64(l.e.cfg.SampleRate)
	return LegStats{
		LocalSSRC:        l.ssrc,
		RemoteSSRC:       l.remoteSSRC,
		Remote:           l.rtpDst(),
		Latched:          l.latched,
		Relatches:        l.relatches,
		Strangers:        l.strangers,
		Unheard:          l.src.unheard,
		PacketsReceived:  l.received,
		PacketsDropped:   l.dropped,
		PacketsLost:      l.stats.cumulativeLost(),
		FractionLost:     float64(l.stats.fraction) / 256,
		Jitter:           time.Duration(float64(l.stats.jitterUnits()) / rate * float64(time.Second)),
		LatePackets:      l.jb.late,
		DuplicatePackets: l.jb.duplicates,
		ConcealedFrames:  l.jb.concealed,
		JitterDepth:      l.jb.depth,
		Resyncs:          l.jb.resyncs,
		PacketsSent:      tx.packets,
		OctetsSent:       tx.octets,
		RoundTrip:        l.rtt,
		RTCPSent:         l.rtcpSent,
		RTCPReceived:     l.rtcpRecv,
	}
}

// Close leaves the room, stops the reports, sends an RTCP BYE (the last
// RTCP the leg sends), closes its sockets and frees the port pair before
// returning. It waits only for the socket readers (not
// for a running handler), so a handler may call it. Close is idempotent.
func (l *Leg) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.isClosed.Store(true)
	started, room, params := l.started, l.room, l.params
	in, dropped := l.takeCounts()
	strangers := l.takeStrangers()
	l.mu.Unlock()
	add(l.e.m.in, in)
	add(l.e.m.dropped, dropped)
	add(l.e.m.stranger, strangers)

	l.stopReports()
	if started {
		l.e.leave(l, room)
		l.sendBye()
	}
	if l.poll != nil {
		l.poll.remove(l, l.e.pairIndex(l.port))
	}
	l.dtmfTimer.Stop()
	if l.sh != nil {
		l.sh.unroute(l, params)
	}
	var errs []error
	for _, c := range []*net.UDPConn{l.rtpConn, l.rtcpConn} {
		if c != nil && l.sh == nil { // the shared sockets are the engine's
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("mixer: close port %d: %w", l.port, err))
			}
		}
	}
	l.readers.Wait() // the sockets are released once the reads return
	close(l.evDone)
	l.e.release(l)
	return errors.Join(errs...)
}

// rtpDst is where RTP goes: the latched source, else the SDP address; l.mu held.
func (l *Leg) rtpDst() netip.AddrPort {
	if l.latched {
		return l.latchAddr
	}
	if l.src.unheard {
		return netip.AddrPort{} // never heard from: stop sending (admit.go)
	}
	if usable(l.params.Remote) {
		return l.params.Remote
	}
	return netip.AddrPort{}
}

// rtcpDst is where RTCP goes; l.mu held.
func (l *Leg) rtcpDst() netip.AddrPort {
	switch {
	case l.params.RTCPMux && l.rtcpLatched && l.rtcpAddr == l.rtpDst():
		return l.rtcpAddr
	case l.params.RTCPMux:
		return l.rtpDst()
	case l.rtcpLatched:
		return l.rtcpAddr
	case usable(l.params.RemoteRTCP) && !l.rtcpFollow.IsValid(): // a re-latch made the SDP stale
		return l.params.RemoteRTCP
	}
	if d := l.rtpDst(); d.IsValid() && d.Port() < 65535 {
		return netip.AddrPortFrom(d.Addr(), d.Port()+1)
	}
	return netip.AddrPort{}
}

// emit queues an event for the handlers without blocking. A DTMF or SSRC
// event that finds the queue full is dropped; a Speaking change is kept
// aside instead (the latest one wins), so the gate state the handlers last
// saw is never stale.
func (l *Leg) emit(ev legEvent) {
	if ev.kind == evSpeaking && l.lateGate.Load() != 0 {
		l.setLateGate(ev.speaking) // keep order behind the one already aside
		return
	}
	select {
	case l.events <- ev:
	default:
		if ev.kind == evSpeaking {
			l.setLateGate(ev.speaking)
			return
		}
		l.log.Debug("leg event queue full, event dropped", "kind", ev.kind)
	}
}

func (l *Leg) setLateGate(open bool) {
	v := int32(1)
	if open {
		v = 2
	}
	l.lateGate.Store(v)
	select {
	case l.gateKick <- struct{}{}:
	default:
	}
}

func (l *Leg) dispatch() {
	defer l.e.wg.Done()
	for {
		select {
		case <-l.evDone:
			return
		case ev := <-l.events:
			if l.isClosed.Load() {
				continue
			}
			l.deliver(ev)
		case <-l.gateKick:
			// Deliver what was queued before the gate state set aside.
			for drained := false; !drained; {
				select {
				case ev := <-l.events:
					if !l.isClosed.Load() {
						l.deliver(ev)
					}
				default:
					drained = true
				}
			}
			if v := l.lateGate.Swap(0); v != 0 && !l.isClosed.Load() {
				l.deliver(legEvent{kind: evSpeaking, speaking: v == 2})
			}
		}
	}
}

func (l *Leg) deliver(ev legEvent) {
	h := l.handlers
	switch ev.kind {
	case evDTMF:
		if h.DTMF != nil {
			h.DTMF(ev.digit)
		}
	case evSpeaking:
		if h.Speaking != nil {
			h.Speaking(ev.speaking)
		}
	case evSSRC:
		if h.SSRC != nil {
			h.SSRC(ev.ssrc)
		}
	}
}

// dtmfTimeout ends a telephone-event whose end packets never came.
const dtmfTimeout = 300 * time.Millisecond

func (l *Leg) rtpLoop() {
	defer l.e.wg.Done()
	defer l.readers.Done()
	buf := make([]byte, 2048)
	for {
		n, src, err := l.rtpConn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Debug("RTP read failed", "err", err)
			time.Sleep(time.Millisecond) // no busy loop on a persistent error
			continue
		}
		l.receive(buf[:n], src, time.Now())
	}
}

// receive is what every RTP reader (rtpLoop, the pollers, the shared
// readers) does with a datagram: ingest it, and while a telephone-event is
// pending keep its timer at dtmfTimeout, which ends the event when its end
// packets never come (flushDTMF; a no-op once the event has ended).
func (l *Leg) receive(b []byte, src netip.AddrPort, now time.Time) {
	if l.ingest(b, src, now) {
		l.dtmfTimer.Reset(dtmfTimeout)
	}
}

func (l *Leg) flushDTMF() {
	l.mu.Lock()
	d := l.dtmf.flush()
	l.mu.Unlock()
	l.reportDigit(d)
}

func (l *Leg) reportDigit(d rune) {
	if d == 0 {
		return
	}
	add(l.e.m.dtmf, 1)
	l.emit(legEvent{kind: evDTMF, digit: d})
}

// ingest handles one datagram from the RTP socket and returns whether a
// telephone-event is pending (the reader then arms a timeout). RTCP that
// shares the port goes to handleRTCP; an RTP packet is taken in under the
// leg's lock (ingestLocked), and what it caused outside the mixer (the
// counter, a re-latch log line, SSRC and DTMF events) follows after.
func (l *Leg) ingest(b []byte, src netip.AddrPort, now time.Time) (dtmfPending bool) {
	src = unmap(src)
	if len(b) >= 2 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223 { // RTCP on the RTP port (RFC 5761 §4)
		l.handleRTCP(b, src, now)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.heard(src, now)
		return l.dtmf.pending()
	}
	b, ok := l.openRTP(b)
	if !ok {
		l.mu.Lock()
		l.strangers++
		l.dropLocked()
		pending := l.dtmf.pending()
		l.mu.Unlock()
		return pending
	}
	err := l.rxPkt.Unmarshal(b)
	l.mu.Lock()
	r := l.ingestLocked(&l.rxPkt, err, src, now)
	pending := l.dtmf.pending()
	l.mu.Unlock()

	if r.movedFrom.IsValid() {
		l.logRelatch(r.movedFrom, src, r.ssrc)
	}
	if r.newSSRC {
		l.emit(legEvent{kind: evSSRC, ssrc: r.ssrc})
	}
	for i := range r.digits.n {
		l.reportDigit(r.digits.d[i])
	}
	return pending
}

// ingested is what one RTP packet did under the leg's lock, for the work
// ingest does once the lock is released.
type ingested struct {
	accepted  bool           // counted as received (else dropped)
	movedFrom netip.AddrPort // the old source when the packet re-latched
	newSSRC   bool           // the packet started a new SSRC
	ssrc      uint32
	digits    dtmfDigits // telephone-events completed by the packet
}

// ingestLocked takes one parsed RTP packet (perr: its parse error) from
// src in: the negotiated payload types of a started leg only, from the
// latched source (or one that re-latches), in sequence; then its DTMF or
// audio. A packet refused on the way is dropped (drop). l.mu held.
func (l *Leg) ingestLocked(p *rtp.Packet, perr error, src netip.AddrPort, now time.Time) (r ingested) {
	l.heard(src, now)
	if perr != nil || p.Version != 2 || len(p.Payload) == 0 {
		return l.drop()
	}
	audio, dtmf := l.payloadKind(p.PayloadType)
	if l.closed || !l.started || (!audio && !dtmf) {
		if src == l.run.src {
			l.run = relatchRun{} // a run is of negotiated payload types only
		}
		return l.drop()
	}
	switch {
	case !l.latched:
		if !l.mayLatch(src, now) {
			return l.dropStranger(src)
		}
		l.latched, l.latchAddr, l.latchSeen = true, src, now
	case src != l.latchAddr:
		if l.preferSDP(src, now) {
			r.movedFrom = l.moveLatch(src, now)
			break
		}
		var ok bool
		if r.movedFrom, ok = l.relatch(&p.Header, src, now); !ok {
			return l.dropStranger(src)
		}
	}
	r.ssrc = p.SSRC
	if !l.haveSSRC || p.SSRC != l.remoteSSRC {
		r.newSSRC = true
		l.newSource(p.SSRC, &r.digits)
	}
	if !l.stats.update(p.SequenceNumber) {
		return l.drop()
	}
	if dtmf {
		r.accepted = l.putDTMF(p.Timestamp, p.Payload, &r.digits)
	} else {
		r.digits.add(l.dtmf.flushBefore(p.Timestamp))
		r.accepted = l.putAudio(p.Timestamp, p.Payload, now)
	}
	if r.accepted {
		l.received++
		l.src.heardOnce, l.src.lastRTP, l.src.lastTS = true, now, p.Timestamp
	} else {
		l.dropLocked()
	}
	return r
}

// drop counts a packet refused before it reached the jitter buffer or the
// DTMF decoder; it did nothing else. l.mu held.
func (l *Leg) drop() ingested {
	l.dropLocked()
	return ingested{}
}

// payloadKind reports whether pt is the leg's audio or its telephone-event
// payload type. l.mu held.
func (l *Leg) payloadKind(pt uint8) (audio, dtmf bool) {
	return pt == l.params.Codec.PayloadType, l.params.DTMFPayloadType != 0 && pt == l.params.DTMFPayloadType
}

// newSource starts over for a new remote SSRC: statistics, jitter buffer
// and DTMF state (a pending digit is completed into digits). l.mu held.
func (l *Leg) newSource(ssrc uint32, digits *dtmfDigits) {
	l.haveSSRC, l.remoteSSRC = true, ssrc
	l.stats = rxStats{}
	l.lostSeen = 0
	l.jb.reset()
	digits.add(l.dtmf.flush())
	l.dtmf.reset()
}

// putDTMF feeds a telephone-event payload to the DTMF decoder; completed
// digits go into digits. False for a payload the decoder refuses. l.mu
// held.
func (l *Leg) putDTMF(ts uint32, payload []byte, digits *dtmfDigits) bool {
	ds, err := l.dtmf.feed(ts, payload)
	for i := range ds.n {
		digits.add(ds.d[i])
	}
	return err == nil
}

// putAudio decodes a payload into the jitter buffer; l.mu held.
func (l *Leg) putAudio(ts uint32, payload []byte, now time.Time) bool {
	if len(payload) > len(l.pcm) {
		return false
	}
	pcm := l.pcm[:len(payload)]
	l.kind.decode(pcm, payload)
	resyncs := l.jb.resyncs
	if l.jb.put(ts, pcm) != putOK {
		return false
	}
	if l.jb.resyncs != resyncs {
		l.stats.resetTransit()
	}
	l.stats.arrival(ts, l.arrivalUnits(now))
	return true
}

func (l *Leg) dropLocked() {
	l.dropped++
}

// takeCounts returns the packets received and dropped since the last call,
// for the metrics; l.mu held.
func (l *Leg) takeCounts() (in, dropped int) {
	in, dropped = int(l.received-l.countedIn), int(l.dropped-l.countedDropped)
	l.countedIn, l.countedDropped = l.received, l.dropped
	return in, dropped
}

// arrivalUnits is the arrival time in RTP timestamp units (RFC 3550 A.8).
func (l *Leg) arrivalUnits(now time.Time) uint32 {
	return uint32(uint64(float64(now.Sub(l.epoch)) * float64(l.e.cfg.SampleRate) / 1e9))
}

// relatchRun is a new source's progress toward taking a leg's latch over.
type relatchRun struct {
	src netip.AddrPort
	seq uint16 // sequence number of its last packet
	n   int    // consecutive packets so far
}

// heard notes a datagram from src on the RTP port: one from the latched
// source keeps it alive and ends any other source's run; l.mu held.
func (l *Leg) heard(src netip.AddrPort, now time.Time) {
	if sdp := l.sdpAddr(); sdp.IsValid() && src.Addr() == sdp && !l.src.sdpHeard {
		l.sdpSpoke()
	}
	if l.latched && src == l.latchAddr {
		l.latchSeen = now
		l.run = relatchRun{}
	}
}

// relatch applies the re-latching rule (see Leg) to a packet of a
// negotiated payload type from src, which is not the latched source. When
// the packet completes a run it moves the RTP latch (and the RTCP latch
// with it) to src and returns the old source; l.mu held.
func (l *Leg) relatch(h *rtp.Header, src netip.AddrPort, now time.Time) (from netip.AddrPort, ok bool) {
	cfg := &l.e.cfg
	if cfg.RelatchQuiet < 0 || now.Sub(l.latchSeen) < cfg.RelatchQuiet {
		l.run = relatchRun{} // only packets after the quiet interval count
		return netip.AddrPort{}, false
	}
	switch {
	case !l.haveSSRC || h.SSRC != l.remoteSSRC:
		if src == l.run.src {
			l.run = relatchRun{}
		}
		return netip.AddrPort{}, false
	case src == l.run.src && h.SequenceNumber == l.run.seq+1:
		l.run.seq = h.SequenceNumber
		l.run.n++
	case continuesStream(h.SequenceNumber, h.Timestamp, l.stats.maxSeq, l.src.lastTS, now.Sub(l.src.lastRTP), cfg.SampleRate):
		l.run = relatchRun{src: src, seq: h.SequenceNumber, n: 1}
	default: // behind the stream, a duplicate or far ahead
		if src == l.run.src {
			l.run = relatchRun{}
		}
		return netip.AddrPort{}, false
	}
	if l.run.n < cfg.RelatchPackets {
		return netip.AddrPort{}, false
	}
	return l.moveLatch(src, now), true
}

// moveLatch moves the RTP latch (and the RTCP latch with it) to src and
// returns the old source. l.mu held.
func (l *Leg) moveLatch(src netip.AddrPort, now time.Time) (from netip.AddrPort) {
	from = l.latchAddr
	l.latchAddr, l.latchSeen = src, now
	l.run = relatchRun{}
	l.relatches++
	if l.rtcpLatched && l.rtcpAddr == from { // RTCP shared the RTP port
		l.rtcpAddr = src
	} else {
		l.rtcpLatched, l.rtcpFollow = false, src.Addr()
	}
	return from
}

// logRelatch is out of line so that the hot path does not pay for the
// log call's arguments.
//
//go:noinline
func (l *Leg) logRelatch(from, to netip.AddrPort, ssrc uint32) {
	l.log.Info("RTP source moved: leg re-latched", "from", from, "to", to, "remote_ssrc", ssrc)
}
