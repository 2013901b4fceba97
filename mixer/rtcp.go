package mixer

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// rtcpLoop reads the RTCP socket of a leg without RTCP multiplexing and,
// using the read deadline as its timer, sends a report every RTCPInterval
// (randomised ×0.5–1.5, RFC 3550 §6.2). It ends when conn is closed: by
// Close, or by an Update that muxes RTCP (the report timer takes over).
func (l *Leg) rtcpLoop(conn *net.UDPConn) {
	defer l.e.wg.Done()
	defer l.readers.Done()
	buf := make([]byte, 1500)
	next := time.Now().Add(l.rtcpInterval())
	for {
		_ = conn.SetReadDeadline(next)
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		now := time.Now()
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, net.ErrClosed):
				return
			case errors.As(err, &ne) && ne.Timeout():
			default:
				l.log.Debug("RTCP read failed", "err", err)
				time.Sleep(time.Millisecond)
			}
		} else {
			l.handleRTCP(buf[:n], src, now)
		}
		if !now.Before(next) {
			l.reportIfOpen(now)
			next = now.Add(l.rtcpInterval())
		}
	}
}

func (l *Leg) rtcpInterval() time.Duration {
	return time.Duration(float64(l.e.cfg.RTCPInterval) * (0.5 + rand.Float64()))
}

// handleRTCP parses a compound RTCP packet: SRs give LSR/DLSR, report
// blocks about our SSRC give the round-trip time. Garbage is logged and
// dropped. RTCP latches onto its first source like RTP does; after the RTP
// latch moved, onto the first source with the new RTP source's IP (see Leg).
func (l *Leg) handleRTCP(b []byte, src netip.AddrPort, now time.Time) {
	b, ok := l.openRTCP(b)
	if !ok {
		l.mu.Lock()
		l.strangers++
		l.mu.Unlock()
		return
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		l.log.Debug("malformed RTCP dropped", "from", src, "err", err)
		return
	}
	src = unmap(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.started {
		return
	}
	if l.rtcpLatched && src != l.rtcpAddr || !l.rtcpLatched && l.rtcpFollow.IsValid() && src.Addr() != l.rtcpFollow ||
		!l.rtcpLatched && !l.rtcpFollow.IsValid() && !l.mayLatchRTCP(src, now) {
		l.log.Debug("RTCP from a foreign source dropped", "from", src)
		l.strangers++
		return
	}
	// RTCP proves someone listens only from the SDP IP or the latched RTP
	// source's: a stranger's RTCP never keeps audio flowing to a third
	// party's SDP address (admit.go).
	switch sdp := l.sdpAddr(); {
	case sdp.IsValid() && src.Addr() == sdp:
		if !l.src.sdpHeard {
			l.sdpSpoke()
		}
		l.src.heardOnce = true
	case l.latched && src.Addr() == l.latchAddr.Addr():
		l.src.heardOnce = true
	}
	if !l.rtcpLatched && l.rtcpFollow.IsValid() {
		l.log.Info("RTCP source moved: re-latched", "to", src)
	}
	l.rtcpLatched, l.rtcpAddr, l.rtcpFollow = true, src, netip.Addr{}
	l.rtcpRecv++
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			l.lastSR, l.lastSRAt = uint32(p.NTPTime>>16), now
			l.readBlocks(p.Reports, now)
		case *rtcp.ReceiverReport:
			l.readBlocks(p.Reports, now)
		}
	}
}

// readBlocks takes the round-trip time from a report block about us
// (RFC 3550 §6.4.1: A - LSR - DLSR); l.mu held.
func (l *Leg) readBlocks(rs []rtcp.ReceptionReport, now time.Time) {
	for _, r := range rs {
		if r.SSRC != l.ssrc || r.LastSenderReport == 0 {
			continue
		}
		if rtt := ntpMiddle(now) - r.LastSenderReport - r.Delay; int32(rtt) >= 0 {
			l.rtt = compactToDuration(rtt)
		}
	}
}

// buildReport assembles SR (if RTP was sent since the last report) or RR,
// with a reception report block once RTP was received, plus SDES CNAME.
// It closes the statistics interval and feeds the jitter and loss metrics.
func (l *Leg) buildReport(now time.Time) ([]rtcp.Packet, netip.AddrPort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dst := l.rtcpDst()
	if !dst.IsValid() || l.closed {
		return nil, dst
	}
	tx := l.tx
	sent := tx.packets != l.txReported
	l.txReported = tx.packets
	rate := float64(l.e.cfg.SampleRate)
	var reports []rtcp.ReceptionReport
	if l.haveSSRC && l.stats.started {
		frac, lost, ext, jit := l.stats.reportBlock()
		rr := rtcp.ReceptionReport{SSRC: l.remoteSSRC, FractionLost: frac, TotalLost: lost, LastSequenceNumber: ext, Jitter: jit}
		if l.lastSR != 0 {
			rr.LastSenderReport = l.lastSR
			rr.Delay = durationToCompact(now.Sub(l.lastSRAt))
		}
		reports = []rtcp.ReceptionReport{rr}
		observe(l.e.m.jitter, float64(jit)/rate)
		if cum := l.stats.cumulativeLost(); cum > l.lostSeen {
			add(l.e.m.lost, int(cum-l.lostSeen))
			l.lostSeen = cum
		}
	}
	var first rtcp.Packet
	if sent {
		first = &rtcp.SenderReport{
			SSRC:        l.ssrc,
			NTPTime:     ntpTime(now),
			RTPTime:     tx.lastTS + uint32(now.Sub(tx.lastAt).Seconds()*rate),
			PacketCount: uint32(tx.packets),
			OctetCount:  uint32(tx.octets),
			Reports:     reports,
		}
	} else {
		first = &rtcp.ReceiverReport{SSRC: l.ssrc, Reports: reports}
	}
	l.rtcpSent++
	return []rtcp.Packet{first, rtcp.NewCNAMESourceDescription(l.ssrc, l.e.cfg.CNAME)}, dst
}

func (l *Leg) sendReport(now time.Time) {
	pkts, dst := l.buildReport(now)
	if pkts != nil {
		l.writeRTCP(pkts, dst)
	}
}

// sendBye says goodbye (RFC 3550 §6.6) before the sockets close.
func (l *Leg) sendBye() {
	l.mu.Lock()
	dst := l.rtcpDst()
	l.mu.Unlock()
	if !dst.IsValid() {
		return
	}
	l.writeRTCP([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: l.ssrc},
		rtcp.NewCNAMESourceDescription(l.ssrc, l.e.cfg.CNAME),
		&rtcp.Goodbye{Sources: []uint32{l.ssrc}},
	}, dst)
}

func (l *Leg) writeRTCP(pkts []rtcp.Packet, dst netip.AddrPort) {
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		l.log.Warn("RTCP marshal failed", "err", err)
		return
	}
	l.mu.Lock()
	conn := l.rtcpConn
	if l.muxed {
		conn = l.rtpConn // RFC 5761: from the RTP port
	}
	l.mu.Unlock()
	if conn == nil {
		return
	}
	if raw, err = l.sealRTCP(raw); err != nil {
		l.log.Warn("SRTCP encryption failed", "err", err)
		return
	}
	if _, err := conn.WriteToUDPAddrPort(raw, dst); err != nil && !errors.Is(err, net.ErrClosed) {
		l.log.Debug("RTCP send failed", "to", dst, "err", err)
	}
}
