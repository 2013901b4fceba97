package mixer

import (
	"net/netip"
	"time"
)

// Defaults of the source rules (Config.LearnWindow, Config.UnheardTimeout).
const (
	DefaultLearnWindow    = 3 * time.Second
	DefaultUnheardTimeout = 5 * time.Second
)

// Which source a leg accepts media from (issue 12, "RTP hijack"):
//
//   - RTP and RTCP from the IP address of the SDP (c=) are always
//     accepted for latching; the SDP address is preferred: during the
//     learning window a packet from it takes the latch over from a learned
//     source.
//   - From any other address (a phone behind a NAT that put its private
//     address into the SDP) only during the learning window after Start or
//     an Update (re-INVITE), only while nothing arrived from the SDP
//     address, and never with Config.StrictSource.
//   - Re-latching after a NAT rebinding (see Leg) needs, besides the quiet
//     interval and the run of packets, a first packet that continues the
//     old stream in both sequence number and timestamp, within what the
//     elapsed time allows (continuesStream): an attacker who read the SSRC
//     in the conference state still has to guess both.
//   - The leg stops sending to an address it never heard from (neither RTP
//     nor RTCP from the SDP IP or a latched source) once
//     Config.UnheardTimeout passed after Start or an Update: an SDP c=
//     pointing at a third party gets at most that much of our audio.
//
// Every refused datagram is counted as dropped and in the stranger counter
// (cusax_security_refusals_total{reason="rtp_stranger"}).

// mayLatch says whether a packet from src may take a leg's first latch
// (or, during learning, move a learned latch to the SDP address): sdp is
// the SDP address (invalid when unusable), learning whether the learning
// window is open, sdpHeard whether anything came from the SDP IP since
// Start or the last Update.
func mayLatch(src netip.AddrPort, sdp netip.Addr, strict, learning, sdpHeard bool) bool {
	if sdp.IsValid() && src.Addr() == sdp {
		return true
	}
	return !strict && learning && !sdpHeard
}

// continuesStream reports whether a packet with seq and ts, arriving
// elapsed after the last packet accepted from the stream (whose highest
// sequence number is maxSeq and last timestamp lastTS), plausibly continues
// it: the sequence number ahead by at most what the time allows at one
// packet per 10 ms plus 50, and the timestamp ahead by the elapsed time in
// samples within half a second (or half the elapsed time, if more) either
// way. rate is the RTP clock rate.
func continuesStream(seq uint16, ts uint32, maxSeq uint16, lastTS uint32, elapsed time.Duration, rate int) bool {
	if elapsed < 0 {
		elapsed = 0
	}
	ds := seq - maxSeq
	maxAhead := 50 + int64(elapsed/(10*time.Millisecond))
	if ds == 0 || int64(ds) > maxAhead || int64(ds) >= maxDropout {
		return false
	}
	want := int64(elapsed) * int64(rate) / int64(time.Second)
	got := int64(int32(ts - lastTS))
	slack := max(int64(rate)/2, want/2)
	return got > 0 && got >= want-slack && got <= want+slack
}

// sourceState is a leg's part of the source rules; guarded by Leg.mu.
type sourceState struct {
	learnUntil time.Time // end of the learning window
	sendUntil  time.Time // without heardOnce, no sending after this
	sdpHeard   bool      // a datagram came from the SDP IP since Start/Update
	heardOnce  bool      // RTP accepted, or RTCP from an admitted source
	unheard    bool      // sendUntil passed without heardOnce: not sending
	lastRTP    time.Time // last RTP accepted from the latched stream
	lastTS     uint32    // its timestamp
}

// resetSource opens the learning window and the unheard grace after Start
// or an Update. A latch that survives the Update (same SDP address) keeps
// the leg heard. l.mu held.
func (l *Leg) resetSource(now time.Time) {
	cfg := &l.e.cfg
	l.src.learnUntil = now.Add(cfg.LearnWindow)
	l.src.sdpHeard = false
	if !l.latched {
		l.src.heardOnce = false
	}
	l.src.sendUntil = now.Add(cfg.UnheardTimeout)
	l.src.unheard = false
}

// sdpAddr is the IP of the SDP address when usable. l.mu held.
func (l *Leg) sdpAddr() netip.Addr {
	if usable(l.params.Remote) {
		return l.params.Remote.Addr()
	}
	return netip.Addr{}
}

// mayLatch applies mayLatch to an RTP packet from src. A leg whose phone
// does not send (its SDP says recvonly or inactive: the leg does not
// receive) learns nothing: there is no stream to learn, so a stranger could
// only be an attacker. l.mu held.
func (l *Leg) mayLatch(src netip.AddrPort, now time.Time) bool {
	learning := now.Before(l.src.learnUntil) && l.params.Direction.Receives()
	return mayLatch(src, l.sdpAddr(), l.e.cfg.StrictSource, learning, l.src.sdpHeard && src.Addr() != l.sdpAddr())
}

// sdpSpoke notes a datagram from the SDP IP: a latch learned from another
// address during the learning window gives way (the leg sends to the SDP
// address again until its RTP latches). l.mu held.
func (l *Leg) sdpSpoke() {
	l.src.sdpHeard = true
	l.src.heardOnce = true
	if l.latched && l.latchAddr.Addr() != l.sdpAddr() {
		l.latched = false
		l.run = relatchRun{}
	}
	if l.rtcpLatched && l.rtcpAddr.Addr() != l.sdpAddr() && !(l.latched && l.rtcpAddr.Addr() == l.latchAddr.Addr()) {
		l.rtcpLatched = false
	}
}

// mayLatchRTCP is mayLatch for the first RTCP packet: from the SDP IP (of
// a=rtcp or c=), the latched RTP source's IP, or a stranger while
// learning. l.mu held.
func (l *Leg) mayLatchRTCP(src netip.AddrPort, now time.Time) bool {
	if usable(l.params.RemoteRTCP) && src.Addr() == l.params.RemoteRTCP.Addr() {
		return true
	}
	if l.latched && src.Addr() == l.latchAddr.Addr() {
		return true
	}
	return l.mayLatch(src, now)
}

// preferSDP reports whether a packet from src, the SDP IP, should take over
// a latch learned from another address: only during the learning window.
// l.mu held.
func (l *Leg) preferSDP(src netip.AddrPort, now time.Time) bool {
	sdp := l.sdpAddr()
	return sdp.IsValid() && src.Addr() == sdp && l.latchAddr.Addr() != sdp && now.Before(l.src.learnUntil)
}

// dropStranger drops an RTP packet from a source the leg does not accept
// and counts it. l.mu held.
func (l *Leg) dropStranger(src netip.AddrPort) ingested {
	if src != l.run.src || l.run.n == 0 {
		l.strangers++
		add(l.e.m.stranger, 1)
	}
	return l.drop()
}

// checkUnheard stops sending to a leg's SDP address once UnheardTimeout
// passed since Start or an Update without anything heard; called once per
// tick from pull with the tick's time. l.mu held.
func (l *Leg) checkUnheard(now time.Time) {
	if l.latched || l.src.heardOnce || l.src.unheard || now.Before(l.src.sendUntil) {
		return
	}
	l.src.unheard = true
	add(l.e.m.unheard, 1)
	l.log.Info("nothing heard from the SDP address; not sending there", "remote", l.params.Remote,
		"after", l.e.cfg.UnheardTimeout)
}
