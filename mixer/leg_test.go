package mixer

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func rtpBytes(t testing.TB, pt uint8, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func silence(n int) []byte { return encodeConst(kindPCMU, 0, n) }

func nextEvent(t *testing.T, l *Leg, kind eventKind) legEvent {
	t.Helper()
	for {
		select {
		case ev := <-l.events:
			if ev.kind == kind {
				return ev
			}
		default:
			t.Fatalf("no event of kind %d", kind)
			return legEvent{}
		}
	}
}

// noEvent asserts that no event of kind is queued on l. It does not wait:
// the tests call it after the packets that would cause such an event were
// ingested synchronously (ingest queues events before it returns).
func noEvent(t *testing.T, l *Leg, kind eventKind) {
	t.Helper()
	for {
		select {
		case ev := <-l.events:
			if ev.kind == kind {
				t.Fatalf("unexpected event %+v", ev)
			}
		default:
			return
		}
	}
}

func TestIngestLatching(t *testing.T) {
	e := newTestEngine(t, nil)
	sdp := remote(30000)
	l := newSocketlessLeg(e, LegParams{Remote: sdp, Codec: PCMU()})
	if st := l.Stats(); st.Remote != sdp || st.Latched {
		t.Fatalf("before RTP: remote %v latched %v", st.Remote, st.Latched)
	}
	nat := netip.MustParseAddrPort("127.0.0.2:41000")
	now := time.Now()
	// IPv4-mapped source addresses are unmapped before comparison
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), netip.AddrPortFrom(netip.AddrFrom16(nat.Addr().As16()), nat.Port()), now)
	if st := l.Stats(); st.Remote != nat || !st.Latched || st.PacketsReceived != 1 {
		t.Fatalf("after RTP: %+v", st)
	}
	// another source is dropped and counted (issue 12: a stranger)
	l.ingest(rtpBytes(t, 0, 2, 320, 7, silence(160)), netip.MustParseAddrPort("127.0.0.3:50000"), now)
	st := l.Stats()
	if st.Remote != nat || st.PacketsReceived != 1 || st.PacketsDropped != 1 || st.Strangers != 1 {
		t.Fatalf("foreign packet: %+v", st)
	}
	flushCounts(l)
	if got := testutil.ToFloat64(e.cfg.Metrics.RTPPackets.WithLabelValues("dropped")); got != 1 {
		t.Fatalf("dropped metric %v", got)
	}
	if got := testutil.ToFloat64(e.cfg.Metrics.RTPPackets.WithLabelValues("in")); got != 1 {
		t.Fatalf("in metric %v", got)
	}
	// a re-INVITE with a new address resets the latch
	newSDP := remote(30010)
	if err := l.Update(LegParams{Remote: newSDP, Codec: PCMU()}); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Remote != newSDP || st.Latched {
		t.Fatalf("after Update: %+v", st)
	}
	l.ingest(rtpBytes(t, 0, 3, 480, 7, silence(160)), newSDP, now)
	if st := l.Stats(); st.Remote != newSDP || !st.Latched {
		t.Fatalf("relatched: %+v", st)
	}
	// the same parameters again keep the latch
	l.Update(LegParams{Remote: newSDP, Codec: PCMU()})
	if !l.Stats().Latched {
		t.Fatal("Update with the same address dropped the latch")
	}
}

func TestIngestNoSDPAddress(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: netip.MustParseAddrPort("0.0.0.0:0"), Codec: PCMU()})
	if st := l.Stats(); st.Remote.IsValid() {
		t.Fatalf("unspecified SDP address used: %v", st.Remote)
	}
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), remote(30002), time.Now())
	if st := l.Stats(); st.Remote != remote(30002) {
		t.Fatalf("latched remote %v", st.Remote)
	}
}

func TestIngestPayloadTypes(t *testing.T) {
	e := newTestEngine(t, nil)
	src := remote(30000)
	l := newSocketlessLeg(e, LegParams{Remote: src, Codec: PCMA(), DTMFPayloadType: 101})
	now := time.Now()
	l.ingest(rtpBytes(t, 0, 1, 160, 7, silence(160)), src, now) // PCMU not negotiated
	l.ingest(rtpBytes(t, 18, 2, 320, 7, silence(20)), src, now) // G.729
	if st := l.Stats(); st.PacketsReceived != 0 || st.PacketsDropped != 2 || st.Latched {
		t.Fatalf("wrong payload types: %+v", st)
	}
	l.ingest(rtpBytes(t, 8, 3, 480, 7, silence(160)), src, now)
	l.ingest(rtpBytes(t, 101, 4, 640, 7, []byte{5, 10, 0, 160}), src, now)
	if st := l.Stats(); st.PacketsReceived != 2 || !st.Latched {
		t.Fatalf("negotiated payload types: %+v", st)
	}
	// malformed datagrams
	for _, b := range [][]byte{nil, {0x80}, make([]byte, 11), rtpBytes(t, 8, 5, 800, 7, nil), {0x40, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 1}} {
		l.ingest(b, src, now)
	}
	if st := l.Stats(); st.PacketsDropped != 7 {
		t.Fatalf("malformed: %+v", st)
	}
}

func TestIngestSSRCChangeAndWrap(t *testing.T) {
	e := newTestEngine(t, nil)
	src := remote(30000)
	l := newSocketlessLeg(e, LegParams{Remote: src, Codec: PCMU()})
	now := time.Now()
	seq := uint16(65533)
	ts := uint32(1 << 31)
	for range 6 { // 65533 … 2
		l.ingest(rtpBytes(t, 0, seq, ts, 0xAAAA, silence(160)), src, now)
		seq++
		ts += 160
		now = now.Add(20 * time.Millisecond)
	}
	if ev := nextEvent(t, l, evSSRC); ev.ssrc != 0xAAAA {
		t.Fatalf("ssrc event %#x", ev.ssrc)
	}
	noEvent(t, l, evSSRC)
	st := l.Stats()
	if st.RemoteSSRC != 0xAAAA || st.PacketsReceived != 6 || st.PacketsLost != 0 {
		t.Fatalf("across the wrap: %+v", st)
	}
	l.mu.Lock()
	ext := l.stats.extendedMax()
	l.mu.Unlock()
	if ext != 65536+2 {
		t.Fatalf("extended max %d", ext)
	}
	// the phone restarts its stream: new SSRC, new sequence and timestamps
	l.ingest(rtpBytes(t, 0, 100, 5000, 0xBBBB, silence(160)), src, now)
	if ev := nextEvent(t, l, evSSRC); ev.ssrc != 0xBBBB {
		t.Fatalf("ssrc event %#x", ev.ssrc)
	}
	st = l.Stats()
	if st.RemoteSSRC != 0xBBBB || st.PacketsLost != 0 || st.Resyncs != 0 {
		t.Fatalf("after SSRC change: %+v", st)
	}
	// and it plays: the new stream's first frame is the next one out
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.jb.playTS != 5000 || l.stats.extendedMax() != 100 {
		t.Fatalf("play-out at %d, ext max %d", l.jb.playTS, l.stats.extendedMax())
	}
}

func TestIngestDTMF(t *testing.T) {
	e := newTestEngine(t, nil)
	src := remote(30000)
	l := newSocketlessLeg(e, LegParams{Remote: src, Codec: PCMU(), DTMFPayloadType: 101})
	l.SetMuted(true) // DTMF still works when muted (self-unmute)
	now := time.Now()
	seq, ts := uint16(10), uint32(8000)
	send := func(pt uint8, ts uint32, payload []byte) bool {
		seq++
		return l.ingest(rtpBytes(t, pt, seq, ts, 1, payload), src, now)
	}
	send(0, ts, silence(160))
	for i := 1; i <= 3; i++ {
		if !send(101, ts+160, []byte{1, 10, 0, byte(160 * i)}) {
			t.Fatal("event in progress not reported pending")
		}
	}
	for range 3 {
		if send(101, ts+160, []byte{1, 0x80 | 10, 0x02, 0x80}) {
			t.Fatal("pending after the end packet")
		}
	}
	if ev := nextEvent(t, l, evDTMF); ev.digit != '1' {
		t.Fatalf("digit %q", ev.digit)
	}
	noEvent(t, l, evDTMF)
	// '#' whose end packets are lost, then audio resumes
	send(101, ts+2000, []byte{11, 10, 0, 160})
	send(0, ts+2800, silence(160))
	if ev := nextEvent(t, l, evDTMF); ev.digit != '#' {
		t.Fatalf("digit %q", ev.digit)
	}
	// '4' whose end packets are lost, then the reader's timeout
	send(101, ts+4000, []byte{4, 10, 0, 160})
	l.flushDTMF()
	if ev := nextEvent(t, l, evDTMF); ev.digit != '4' {
		t.Fatalf("digit %q", ev.digit)
	}
	if got := testutil.ToFloat64(e.cfg.Metrics.DTMFEvents); got != 3 {
		t.Fatalf("dtmf metric %v", got)
	}
	// a short telephone-event payload is dropped
	before := l.Stats().PacketsDropped
	send(101, ts+6000, []byte{1, 2})
	if l.Stats().PacketsDropped != before+1 {
		t.Fatal("short DTMF payload not dropped")
	}
}

func TestLegParamsValidation(t *testing.T) {
	bad := []LegParams{
		{Codec: Codec{Name: "G729", PayloadType: 18, ClockRate: 8000}},
		{Codec: Codec{Name: "PCMU", PayloadType: 0, ClockRate: 16000}},
		{Codec: PCMU(), DTMFPayloadType: 0x80},
		{Codec: PCMA(), DTMFPayloadType: 8},
		{Codec: PCMU(), Direction: Inactive + 1},
	}
	for _, p := range bad {
		if err := p.validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if err := (LegParams{Codec: Codec{Name: "pcma", PayloadType: 8, ClockRate: 8000}, DTMFPayloadType: 101}).validate(); err != nil {
		t.Error(err)
	}
}

func TestCodecsAndDirections(t *testing.T) {
	if c, ok := LookupCodec("pcmu"); !ok || c != PCMU() {
		t.Fatal("LookupCodec(pcmu)")
	}
	if _, ok := LookupCodec("opus"); ok {
		t.Fatal("opus supported?")
	}
	for d := SendRecv; d <= Inactive; d++ {
		if d.Reverse().Reverse() != d {
			t.Fatalf("direction %v", d)
		}
	}
	if SendOnly.Reverse() != RecvOnly || !SendOnly.Sends() || SendOnly.Receives() || Inactive.Sends() || Inactive.Receives() {
		t.Fatal("direction semantics")
	}
}

// TestRTCPReports covers building SR/RR with a report block and reading
// the remote's SR (LSR/DLSR) and its block about us (round-trip time).
func TestRTCPReports(t *testing.T) {
	e := newTestEngine(t, nil)
	src := remote(30000)
	l := newSocketlessLeg(e, LegParams{Remote: src, Codec: PCMU()})
	now := time.Now()
	for i := range 10 {
		if i == 4 || i == 5 {
			continue // two lost
		}
		l.ingest(rtpBytes(t, 0, uint16(100+i), uint32(160*i), 0xCAFE, silence(160)), src, now.Add(time.Duration(i)*20*time.Millisecond))
	}
	// nothing sent yet → RR
	pkts, dst := l.buildReport(now)
	if dst != remote(30001) {
		t.Fatalf("RTCP destination %v", dst)
	}
	rr, ok := pkts[0].(*rtcp.ReceiverReport)
	if !ok || rr.SSRC != l.LocalSSRC() || len(rr.Reports) != 1 {
		t.Fatalf("first packet %#v", pkts[0])
	}
	b := rr.Reports[0]
	if b.SSRC != 0xCAFE || b.TotalLost != 2 || b.LastSequenceNumber != 109 || b.FractionLost != uint8(2*256/10) || b.LastSenderReport != 0 {
		t.Fatalf("report block %+v", b)
	}
	if sd, ok := pkts[1].(*rtcp.SourceDescription); !ok || sd.Chunks[0].Items[0].Text != e.cfg.CNAME {
		t.Fatalf("SDES %#v", pkts[1])
	}
	if _, err := rtcp.Marshal(pkts); err != nil {
		t.Fatal(err)
	}
	// the remote sends an SR; later it reports on our SR
	srNTP := ntpTime(now)
	raw, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 0xCAFE, NTPTime: srNTP}})
	l.handleRTCP(raw, remote(30001), now)
	// we have sent RTP → SR with the LSR/DLSR of theirs
	l.mu.Lock()
	l.tx.packets, l.tx.octets, l.tx.lastTS, l.tx.lastAt = 50, 8000, 123456, now
	l.mu.Unlock()
	later := now.Add(500 * time.Millisecond)
	pkts, _ = l.buildReport(later)
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || sr.PacketCount != 50 || sr.OctetCount != 8000 || sr.RTPTime != 123456+4000 || len(sr.Reports) != 1 {
		t.Fatalf("SR %+v", pkts[0])
	}
	if sr.Reports[0].LastSenderReport != uint32(srNTP>>16) || compactToDuration(sr.Reports[0].Delay).Round(time.Millisecond) != 500*time.Millisecond {
		t.Fatalf("LSR/DLSR %+v", sr.Reports[0])
	}
	if sr.Reports[0].FractionLost != 0 {
		t.Fatalf("second interval fraction %d", sr.Reports[0].FractionLost)
	}
	// no new RTP since → RR again
	if pkts, _ = l.buildReport(later); pkts[0].(*rtcp.ReceiverReport) == nil {
		t.Fatal("RR expected")
	}
	// their RR about our SR: sent at `later`, they held it 100 ms, we get it 300 ms after sending
	ourSR := uint32(ntpTime(later) >> 16)
	raw, _ = rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 0xCAFE, Reports: []rtcp.ReceptionReport{{
		SSRC: l.LocalSSRC(), LastSenderReport: ourSR, Delay: durationToCompact(100 * time.Millisecond)}}}})
	l.handleRTCP(raw, remote(30001), later.Add(300*time.Millisecond))
	if rtt := l.Stats().RoundTrip; rtt < 199*time.Millisecond || rtt > 201*time.Millisecond {
		t.Fatalf("round trip %v", rtt)
	}
	// RTCP latched onto its source; other sources ignored
	before := l.Stats().RTCPReceived
	l.handleRTCP(raw, remote(40001), later)
	l.handleRTCP([]byte{0x80, 201, 0, 7, 1, 2}, remote(30001), later) // garbage
	if st := l.Stats(); st.RTCPReceived != before {
		t.Fatalf("foreign/garbage RTCP counted: %d", st.RTCPReceived)
	}
	if got := testutil.ToFloat64(e.cfg.Metrics.RTPPacketsLost); got != 2 {
		t.Fatalf("lost metric %v", got)
	}
}

// TestRTCPMux: RTCP arriving on the RTP port is handled as RTCP (RFC 5761).
func TestRTCPMux(t *testing.T) {
	e := newTestEngine(t, nil)
	l := newSocketlessLeg(e, LegParams{Remote: remote(30000), Codec: PCMU()})
	raw, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 9, NTPTime: 1 << 40}})
	l.ingest(raw, remote(30000), time.Now())
	st := l.Stats()
	if st.RTCPReceived != 1 || st.PacketsDropped != 0 || st.PacketsReceived != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestLegLifecycleErrors(t *testing.T) {
	e := newTestEngine(t, func(c *Config) { c.PortMin, c.PortMax = freeRange(t, 4) })
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	p := LegParams{Remote: remote(30000), Codec: PCMU()}
	if err := l.Update(p); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Update before Start: %v", err)
	}
	if err := l.Start("", p, Handlers{}); err == nil {
		t.Fatal("empty room accepted")
	}
	if err := l.Start("r", LegParams{Codec: Codec{Name: "opus", ClockRate: 48000}}, Handlers{}); err == nil {
		t.Fatal("bad params accepted")
	}
	if err := l.Start("r", p, Handlers{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start("r", p, Handlers{}); err == nil {
		t.Fatal("second Start accepted")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := l.Update(p); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	if err := l.Start("r", p, Handlers{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	// never started
	l2, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if n := e.PortsInUse(); n != 0 {
		t.Fatalf("ports in use %d", n)
	}
}

// A Speaking change that finds the handler queue full is not lost: the
// handler sees the gate's latest state once the queue drains.
func TestSpeakingNeverLost(t *testing.T) {
	e := newTestEngine(t, nil)
	l, err := e.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	release := make(chan struct{})
	var mu sync.Mutex
	var got []bool
	h := Handlers{
		DTMF: func(rune) { <-release },
		Speaking: func(b bool) {
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
		},
	}
	if err := l.Start("r", LegParams{Remote: netip.MustParseAddrPort("127.0.0.1:9"), Codec: PCMU()}, h); err != nil {
		t.Fatal(err)
	}
	for range cap(l.events) + 1 { // the first blocks the handler, the rest fill the queue
		l.emit(legEvent{kind: evDTMF, digit: '1'})
	}
	l.emit(legEvent{kind: evSpeaking, speaking: true}) // queue full: set aside
	l.emit(legEvent{kind: evSpeaking, speaking: false})
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got)
		last := n > 0 && !got[n-1]
		mu.Unlock()
		if last {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Fatalf("speaking events delivered %v, want the latest (false) last", got)
}
