package mixer

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/internal/testwait"
	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/mixer/audiotest"
)

type legEvents struct {
	mu       sync.Mutex
	digits   []rune
	speaking []bool
	ssrcs    []uint32
}

func (ev *legEvents) handlers() Handlers {
	return Handlers{
		DTMF:     func(d rune) { ev.mu.Lock(); ev.digits = append(ev.digits, d); ev.mu.Unlock() },
		Speaking: func(s bool) { ev.mu.Lock(); ev.speaking = append(ev.speaking, s); ev.mu.Unlock() },
		SSRC:     func(s uint32) { ev.mu.Lock(); ev.ssrcs = append(ev.ssrcs, s); ev.mu.Unlock() },
	}
}

func (ev *legEvents) snapshot() (string, []bool, []uint32) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return string(ev.digits), append([]bool(nil), ev.speaking...), append([]uint32(nil), ev.ssrcs...)
}

// TestLoopbackConference: three phones on loopback UDP send 400, 700 and
// 1100 Hz (two PCMU, one PCMA) to their legs in one room; each must hear
// the other two tones and not its own; muting one removes its tone from the
// others. Along the way: DTMF, RTCP, SSRC and speaking events, statistics.
func TestLoopbackConference(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	lo, hi := freeRange(t, 8)
	m := metrics.New()
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi, RTCPInterval: 100 * time.Millisecond, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)

	const rate = 8000
	type party struct {
		freq  float64
		codec Codec
		phone *audiotest.Phone
		leg   *Leg
		ev    *legEvents
	}
	parties := []*party{{freq: 400, codec: PCMU()}, {freq: 700, codec: PCMU()}, {freq: 1100, codec: PCMA()}}
	for _, p := range parties {
		p.phone, err = audiotest.NewPhone(audiotest.PhoneConfig{Encoding: p.codec.Name})
		if err != nil {
			t.Fatal(err)
		}
		defer p.phone.Close()
		if p.leg, err = e.Allocate(); err != nil {
			t.Fatal(err)
		}
		p.ev = &legEvents{}
		params := LegParams{Remote: p.phone.Addr(), Codec: p.codec, DTMFPayloadType: 101}
		if err := p.leg.Start("team", params, p.ev.handlers()); err != nil {
			t.Fatal(err)
		}
		p.phone.SetSource(audiotest.Tone(p.freq, 6000, rate).Fill)
		p.phone.Start(netip.AddrPortFrom(loopback, uint16(p.leg.Port())))
	}

	// listen returns what each phone received over the next window.
	const window = 8000 // 1 s
	listen := func() [][]int16 {
		for _, p := range parties {
			p.phone.ResetRecording()
		}
		testwait.Until(t, 10*time.Second, "a second of audio at every phone", func() bool {
			for _, p := range parties {
				if len(p.phone.Tail(window)) < window {
					return false
				}
			}
			return true
		})
		var out [][]int16
		for _, p := range parties {
			out = append(out, p.phone.Tail(window))
		}
		return out
	}
	levels := func(rec []int16) string {
		s := ""
		for _, q := range parties {
			s += fmt.Sprintf(" %4.0fHz:%6.1fdB", q.freq, audiotest.PowerDB(rec, q.freq, rate))
		}
		return s
	}

	time.Sleep(300 * time.Millisecond) // latching, jitter buffers settle
	recs := listen()
	for i, p := range parties {
		own := audiotest.PowerDB(recs[i], p.freq, rate)
		for j, q := range parties {
			if j == i {
				continue
			}
			other := audiotest.PowerDB(recs[i], q.freq, rate)
			if other < -25 {
				t.Errorf("phone %d (%v Hz) hears %v Hz at only %.1f dB:%s", i, p.freq, q.freq, other, levels(recs[i]))
			}
			if own > other-20 {
				t.Errorf("phone %d hears its own tone at %.1f dB, %v Hz at %.1f dB:%s", i, own, q.freq, other, levels(recs[i]))
			}
		}
		t.Logf("phone %d (%v Hz %s) hears:%s", i, p.freq, p.codec.Name, levels(recs[i]))
	}

	// mute the 400 Hz phone: its tone disappears, the others remain
	parties[0].leg.SetMuted(true)
	time.Sleep(500 * time.Millisecond) // gate hangover and queued packets
	recs = listen()
	for i := 1; i < 3; i++ {
		muted := audiotest.PowerDB(recs[i], 400, rate)
		other := audiotest.PowerDB(recs[i], parties[3-i].freq, rate)
		if other < -25 || muted > other-30 {
			t.Errorf("after mute phone %d hears 400 Hz at %.1f dB, %v Hz at %.1f dB", i, muted, parties[3-i].freq, other)
		}
	}
	for _, q := range parties[1:] {
		if lvl := audiotest.PowerDB(recs[0], q.freq, rate); lvl < -25 {
			t.Errorf("muted phone no longer hears %v Hz (%.1f dB)", q.freq, lvl)
		}
	}
	parties[0].leg.SetMuted(false)

	// DTMF from the PCMA phone: one digit per key press
	if err := parties[2].phone.SendDTMF('7', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := parties[2].phone.SendDTMF('#', 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "DTMF digits", func() bool { d, _, _ := parties[2].ev.snapshot(); return len(d) >= 2 })
	// And no third digit: a repeated digit would come from the end packets
	// (three, 20 ms apart) of the key presses; 200 ms covers them.
	time.Sleep(200 * time.Millisecond)
	if d, _, _ := parties[2].ev.snapshot(); d != "7#" {
		t.Errorf("digits %q, want \"7#\"", d)
	}

	for i, p := range parties {
		_, speaking, ssrcs := p.ev.snapshot()
		if len(speaking) == 0 || !speaking[0] {
			t.Errorf("leg %d speaking events %v", i, speaking)
		}
		if len(ssrcs) != 1 || ssrcs[0] != p.phone.SSRC() {
			t.Errorf("leg %d ssrc events %v, phone %#x", i, ssrcs, p.phone.SSRC())
		}
		st := p.leg.Stats()
		if !st.Latched || st.Remote != p.phone.Addr() || st.RemoteSSRC != p.phone.SSRC() || st.PacketsReceived < 50 || st.PacketsSent < 50 {
			t.Errorf("leg %d stats %+v", i, st)
		}
		pk := p.phone.Packets()
		if len(pk) == 0 || pk[0].SSRC != p.leg.LocalSSRC() || pk[0].PayloadType != p.codec.PayloadType {
			t.Errorf("phone %d receives %+v", i, pk[:min(1, len(pk))])
		}
		// RTCP: an SR from the leg's SSRC with a report block on the phone
		var sr *rtcp.SenderReport
		for _, c := range p.phone.RTCP() {
			if s, ok := c[0].(*rtcp.SenderReport); ok && s.SSRC == p.leg.LocalSSRC() && len(s.Reports) == 1 {
				sr = s
			}
		}
		if sr == nil || sr.Reports[0].SSRC != p.phone.SSRC() || sr.PacketCount == 0 {
			t.Errorf("phone %d got no SR with a report block about it (%d RTCP packets)", i, len(p.phone.RTCP()))
		}
	}
	if in := testutil.ToFloat64(m.RTPPackets.WithLabelValues("in")); in < 150 {
		t.Errorf("rtp in %v", in)
	}
	if out := testutil.ToFloat64(m.RTPPackets.WithLabelValues("out")); out < 150 {
		t.Errorf("rtp out %v", out)
	}

	for _, p := range parties {
		if err := p.leg.Close(); err != nil {
			t.Fatal(err)
		}
		if err := canBind(p.leg.Port()); err != nil {
			t.Errorf("port %d still bound: %v", p.leg.Port(), err)
		}
	}
	if n := e.PortsInUse(); n != 0 {
		t.Fatalf("%d ports in use", n)
	}
	if testutil.ToFloat64(m.RTPPortsInUse) != 0 {
		t.Fatal("ports gauge")
	}
	// BYE reached the phones
	for i, p := range parties {
		testwait.Until(t, 2*time.Second, fmt.Sprintf("BYE at phone %d", i), func() bool {
			for _, c := range p.phone.RTCP() {
				for _, pkt := range c {
					if _, ok := pkt.(*rtcp.Goodbye); ok {
						return true
					}
				}
			}
			return false
		})
	}
}

// TestConcurrentControl hammers the control methods while media flows and
// the clock runs (meant for -race): no races, no deadlock, ports released.
func TestConcurrentControl(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	lo, hi := freeRange(t, 8)
	e, err := New(Config{BindIP: loopback, PortMin: lo, PortMax: hi, RTCPInterval: 30 * time.Millisecond, MaxSpeakers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	var phones []*audiotest.Phone
	var legs []*Leg
	for i := range 3 {
		ph, err := audiotest.NewPhone(audiotest.PhoneConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer ph.Close()
		l, err := e.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start("busy", LegParams{Remote: ph.Addr(), Codec: PCMU(), DTMFPayloadType: 101}, Handlers{
			Speaking: func(bool) {}, DTMF: func(rune) {}, SSRC: func(uint32) {},
		}); err != nil {
			t.Fatal(err)
		}
		ph.SetSource(audiotest.Tone(300+float64(i)*200, 5000, 8000).Fill)
		ph.Start(netip.AddrPortFrom(loopback, uint16(l.Port())))
		phones, legs = append(phones, ph), append(legs, l)
	}
	var wg sync.WaitGroup
	stop := time.Now().Add(700 * time.Millisecond)
	for i, l := range legs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs := []Direction{SendRecv, RecvOnly, SendOnly, Inactive}
			codecs := []Codec{PCMU(), PCMA()}
			for k := 0; time.Now().Before(stop); k++ {
				l.SetMuted(k%3 == 0)
				_ = l.Update(LegParams{Remote: phones[i].Addr(), Codec: codecs[k%2], DTMFPayloadType: 101, Direction: dirs[k%4]})
				_ = l.Stats()
				_ = e.PortsInUse()
				if k%5 == 0 {
					phones[i].SendDTMF('1', 20*time.Millisecond)
				}
				time.Sleep(3 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		for _, l := range legs {
			l.Close()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	if e.PortsInUse() != 0 {
		t.Fatal("ports left")
	}
}
