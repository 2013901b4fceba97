package mixer

import (
	"net/netip"
	"testing"
	"time"
)

var (
	sdpA    = netip.MustParseAddrPort("127.0.0.1:30000")
	sdpANAT = netip.MustParseAddrPort("127.0.0.1:31000") // same IP, another port
)

// After the learning window a stranger never latches a leg, however many
// packets it sends, while the SDP address does at any time (any port: a
// NAT may change it). Both are counted.
func TestStrangerAfterLearning(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	late := time.Now().Add(DefaultLearnWindow + time.Second)
	for i := range 10 {
		l.ingest(rtpBytes(t, 0, uint16(i), uint32(160*i), 5, silence(160)), stranger, late)
	}
	if st := l.Stats(); st.Latched || st.Strangers != 10 || st.PacketsReceived != 0 {
		t.Fatalf("stranger after learning: %+v", st)
	}
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), sdpANAT, late)
	if st := l.Stats(); !st.Latched || st.Remote != sdpANAT {
		t.Fatalf("SDP IP after learning: %+v", st)
	}
}

// During learning a stranger may latch (a NAT'd phone with a private SDP
// address) but only while nothing came from the SDP IP, and a packet from
// the SDP IP takes a learned latch over. strict_source turns learning off.
func TestLearningPrefersSDP(t *testing.T) {
	e := newTestEngine(t, nil)
	now := time.Now()
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	l.ingest(rtpBytes(t, 0, 1, 160, 5, silence(160)), stranger, now)
	if st := l.Stats(); st.Remote != stranger {
		t.Fatalf("learning: %+v", st)
	}
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), sdpA, now)
	if st := l.Stats(); st.Remote != sdpA {
		t.Fatalf("SDP address did not take over a learned latch: %+v", st)
	}

	l2 := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	l2.ingest(rtcpRR(t, 7), sdpA, now) // the phone's RTCP on the RTP port: SDP IP heard
	l2.ingest(rtpBytes(t, 0, 1, 160, 5, silence(160)), stranger, now)
	if st := l2.Stats(); st.Latched {
		t.Fatalf("a stranger latched although the SDP address was heard: %+v", st)
	}

	strict := newTestEngine(t, func(c *Config) { c.StrictSource = true; c.PortMin, c.PortMax = 40002, 40003 })
	l3 := newSocketlessLeg(strict, LegParams{Remote: sdpA, Codec: PCMU()})
	l3.ingest(rtpBytes(t, 0, 1, 160, 5, silence(160)), stranger, now)
	if st := l3.Stats(); st.Latched || st.Strangers != 1 {
		t.Fatalf("strict_source learned a stranger: %+v", st)
	}
}

// A recvonly (listen-only) leg, whose phone sends only RTCP, is never
// taken by a stranger's RTP or RTCP after learning; its phone's RTCP keeps
// it heard.
func TestRecvonlyLegNotHijacked(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, RemoteRTCP: netip.AddrPortFrom(sdpA.Addr(), 30001), Codec: PCMU(), Direction: SendOnly})
	// Not even during the learning window: the phone sends no RTP, so
	// there is nothing to learn.
	late := time.Now()
	for i := range 3 {
		l.ingest(rtpBytes(t, 0, uint16(i), uint32(160*i), 5, silence(160)), stranger, late)
	}
	l.handleRTCP(rtcpRR(t, 5), netip.MustParseAddrPort("127.0.0.66:40001"), late)
	st := l.Stats()
	if st.Latched || st.RTCPReceived != 0 || st.Strangers != 4 {
		t.Fatalf("recvonly leg after a stranger's RTP and RTCP: %+v", st)
	}
	l.handleRTCP(rtcpRR(t, 7), netip.AddrPortFrom(sdpA.Addr(), 30001), late)
	if st := l.Stats(); st.RTCPReceived != 1 {
		t.Fatalf("the phone's own RTCP: %+v", st)
	}
	l.mu.Lock()
	l.checkUnheard(late.Add(DefaultUnheardTimeout))
	l.mu.Unlock()
	if st := l.Stats(); st.Unheard || st.Remote != sdpA {
		t.Fatalf("a phone heard by RTCP stopped getting audio: %+v", st)
	}
}

// A leg whose SDP points somewhere that never sends stops sending there
// after UnheardTimeout, and counts it.
func TestUnheardStopsSending(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	l.mu.Lock()
	l.checkUnheard(time.Now())
	dst := l.rtpDst()
	l.checkUnheard(time.Now().Add(DefaultUnheardTimeout + time.Second))
	after := l.rtpDst()
	l.mu.Unlock()
	if dst != sdpA || after.IsValid() {
		t.Fatalf("destination %v at first, %v after the timeout", dst, after)
	}
	if st := l.Stats(); !st.Unheard {
		t.Fatalf("%+v", st)
	}
	// A re-INVITE gives the address another chance.
	if err := l.Update(LegParams{Remote: sdpA, Codec: PCMU()}); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Unheard || st.Remote != sdpA {
		t.Fatalf("after Update: %+v", st)
	}
}

// Re-latching with the SSRC read from conference state and swept
// sequence numbers fails without the stream's timestamp.
func TestRelatchNeedsTimestamp(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	t0 := time.Now()
	for i := range 10 {
		l.ingest(rtpBytes(t, 0, uint16(100+i), uint32(5000+160*i), 7, silence(160)), sdpA, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
	quiet := t0.Add(2 * time.Second)
	// The attacker: right SSRC, sequence numbers just ahead, a guessed
	// timestamp.
	for i := range 20 {
		l.ingest(rtpBytes(t, 0, uint16(110+i), uint32(900000+160*i), 7, silence(160)), stranger, quiet.Add(time.Duration(i)*20*time.Millisecond))
	}
	if st := l.Stats(); st.Remote != sdpA || st.Relatches != 0 {
		t.Fatalf("re-latched without the timestamp: %+v", st)
	}
	// The phone itself from a new NAT port of another IP, continuing its
	// stream after the quiet interval: re-latched.
	nat := netip.MustParseAddrPort("127.0.0.9:45000")
	later := quiet.Add(time.Second)
	elapsed := later.Sub(t0.Add(9 * 20 * time.Millisecond))
	ts := uint32(5000+160*9) + uint32(elapsed.Seconds()*8000)
	for i := range e.cfg.RelatchPackets {
		l.ingest(rtpBytes(t, 0, uint16(110+i), ts+uint32(160*i), 7, silence(160)), nat, later.Add(time.Duration(i)*20*time.Millisecond))
	}
	if st := l.Stats(); st.Remote != nat || st.Relatches != 1 {
		t.Fatalf("the phone's own continuing stream: %+v", st)
	}
}

// A stranger's RTCP that latched while learning gives way once the phone
// is heard from its SDP IP.
func TestStrangerRTCPGivesWay(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: sdpA, Codec: PCMU()})
	now := time.Now()
	l.handleRTCP(rtcpRR(t, 5), netip.MustParseAddrPort("127.0.0.66:40001"), now)
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), sdpA, now)
	l.mu.Lock()
	dst := l.rtcpDst()
	l.mu.Unlock()
	if dst.Addr() != sdpA.Addr() {
		t.Fatalf("RTCP still goes to %v", dst)
	}
}
