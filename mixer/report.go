package mixer

import (
	"errors"
	"net"
	"time"
)

// RTCP reports without a goroutine per leg. A leg whose RTCP arrives on
// its RTP port (RFC 5761 multiplexing, or shared mode, whose readers
// receive every leg's RTCP) has nothing to read on an RTCP socket, so its
// reports come from a runtime timer (Leg.report, time.AfterFunc) that
// sends one and re-arms itself with a fresh randomised interval. Close
// stops it under repMu, which a firing report holds while it sends: no
// report follows the BYE. Legs without multiplexing keep rtcpLoop, which
// must read their RTCP socket anyway and uses its read deadline as the
// timer.

// reportTick is the report timer's callback.
func (l *Leg) reportTick() {
	l.repMu.Lock()
	defer l.repMu.Unlock()
	if l.isClosed.Load() {
		return
	}
	l.sendReport(time.Now())
	l.report.Reset(l.rtcpInterval())
}

// reportIfOpen sends a report unless the leg is closing (rtcpLoop's
// report, ordered before the BYE like the timer's).
func (l *Leg) reportIfOpen(now time.Time) {
	l.repMu.Lock()
	defer l.repMu.Unlock()
	if !l.isClosed.Load() {
		l.sendReport(now)
	}
}

// stopReports waits for a report being sent and stops the timer; after
// it no report leaves (isClosed is set before).
func (l *Leg) stopReports() {
	l.repMu.Lock()
	l.report.Stop()
	l.repMu.Unlock()
}

// releaseRTCP closes a per-call leg's RTCP socket once its RTCP is
// multiplexed: the leg then holds only its RTP socket, and an rtcpLoop
// reading the RTCP socket ends. Port()+1 is free for the system again, but
// the pair stays the leg's in the engine's table until Close. No-op in
// shared mode (the engine's sockets) and when released already; l.mu held.
func (l *Leg) releaseRTCP() {
	if l.sh != nil || l.rtcpConn == nil {
		return
	}
	if err := l.rtcpConn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		l.log.Debug("closing the muxed leg's RTCP socket", "port", l.port+1, "err", err)
	}
	l.rtcpConn = nil
}
