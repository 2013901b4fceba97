package focus

import (
	"time"

	"cusax.dev/bridge/conference"
)

// The RTP timeout ends calls whose phone vanished without a BYE (crash,
// network loss, a NAT binding gone), like Asterisk's rtptimeout and
// FreeSWITCH's media_timeout. One ticker serves the whole focus: each sweep
// reads every watched call's leg counters (RTP and RTCP packets received)
// and notes the sweep's time whenever they moved. A call quiet for longer
// than its timeout since the later of its answer, its last re-INVITE and
// the sweep that last saw a packet is hung up: out of the table, leg
// closed, the core told conference.Failed, BYE to the phone. Since packets
// are noticed at sweep granularity, a call goes between Timeout and
// Timeout plus two sweep intervals after its last packet.

// maxSweepInterval is the longest gap between two sweeps; shorter
// timeouts sweep four times per timeout.
const maxSweepInterval = time.Second

// minSweepInterval keeps tiny test timeouts from spinning the sweep.
const minSweepInterval = 10 * time.Millisecond

// mediaClock is the RTP timeout's view of one call, guarded by call.mu.
type mediaClock struct {
	watched bool      // answered with media in force: the sweep looks at the call
	heard   time.Time // start of the current quiet spell
	seen    uint64    // RTP + RTCP packets the leg had received when last looked at
}

// reset restarts the clock at now (answer, re-INVITE) and arms it.
func (m *mediaClock) reset(now time.Time) { m.watched, m.heard = true, now }

// observe takes the leg's packet count at now: a count that moved restarts
// the quiet spell. It returns how long the call has been quiet, or false
// when the clock is not armed.
func (m *mediaClock) observe(received uint64, now time.Time) (time.Duration, bool) {
	if !m.watched {
		return 0, false
	}
	if received != m.seen {
		m.seen, m.heard = received, now
	}
	return now.Sub(m.heard), true
}

// resetClock restarts the call's RTP timeout clock now and arms it: the
// call was answered (ACK processed) or got a re-INVITE.
func (c *call) resetClock() {
	c.mu.Lock()
	c.clock.reset(time.Now())
	c.mu.Unlock()
}

// quietAllowed reports whether media n expects no RTP from the peer: it
// put the call on hold (sendonly, inactive, c=0.0.0.0) or declared that it
// does not send (recvonly).
func quietAllowed(n negotiated) bool { return n.OnHold() || !n.Peer.Sends() }

// rtpLimit is the timeout that applies to a call with media n (0: none),
// and whether it is the hold timeout.
func (f *Focus) rtpLimit(n negotiated) (time.Duration, bool) {
	if quietAllowed(n) {
		return f.cfg.RTPHoldTimeout, true
	}
	return f.cfg.RTPTimeout, false
}

// sweepInterval is the period of the sweep for the given timeouts: a
// quarter of the shortest enabled one, at most maxSweepInterval; 0 when
// none is enabled (no sweep runs).
func sweepInterval(timeouts ...time.Duration) time.Duration {
	var d time.Duration
	for _, t := range timeouts {
		if t > 0 && (d == 0 || t/4 < d) {
			d = t / 4
		}
	}
	if d == 0 {
		return 0
	}
	return max(min(d, maxSweepInterval), minSweepInterval)
}

// sweepMedia runs the sweep until shutdown starts; it returns at once when
// both timeouts are disabled.
func (f *Focus) sweepMedia() {
	every := sweepInterval(f.cfg.RTPTimeout, f.cfg.RTPHoldTimeout)
	if every == 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var calls []*call
	for {
		select {
		case <-f.life.Done():
			return
		case <-tick.C:
		}
		calls = f.calls.appendAll(calls[:0])
		now := time.Now()
		for _, c := range calls {
			if f.stopping() {
				break // shutdown hangs everybody up as departed
			}
			f.safely("RTP sweep", func() { f.checkMedia(c, now) })
		}
		clear(calls)
	}
}

// checkMedia hangs c up when it has been quiet for longer than its
// timeout. The hang-up's core call and BYE run in the background (bounded
// by coreTimeout and byeTimeout), so that one dead phone does not delay
// the sweep of the others.
func (f *Focus) checkMedia(c *call, now time.Time) {
	st := c.leg.Stats()
	c.mu.Lock()
	limit, held := f.rtpLimit(c.neg)
	// A call that sends is alive only while RTP from its latched source
	// arrives (the mixer counts nothing else as received): RTCP alone, or
	// a stranger's packets, never keep it up (issue 12). A call on hold
	// sends no RTP, so its RTCP counts.
	heard := st.PacketsReceived
	if held {
		heard += st.RTCPReceived
	}
	quiet, watched := c.clock.observe(heard, now)
	c.mu.Unlock()
	if !watched || limit <= 0 || quiet <= limit {
		return
	}
	if !f.end(c) {
		return // the caller's BYE, a kick or another hang-up came first
	}
	f.log.Info("no RTP or RTCP from the call; hanging up", "call-id", c.dlg.key.callID, "room", c.room,
		"participant", c.pid, "quiet", quiet.Round(time.Millisecond), "timeout", limit, "hold", held,
		"packets", st.PacketsReceived, "rtcp", st.RTCPReceived)
	if f.m != nil {
		f.m.RTPTimeouts.Inc()
	}
	f.goWork("RTP timeout hang-up", func() {
		f.finishHangup(f.detached(), c, conference.Failed, conference.OriginSystem, true)
	})
}
