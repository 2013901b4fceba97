package mixer

import (
	"net/netip"
	"testing"
	"time"
)

func TestMayLatch(t *testing.T) {
	sdp := netip.MustParseAddr("192.0.2.10")
	fromSDP := netip.MustParseAddrPort("192.0.2.10:40000")
	fromSDPOtherPort := netip.MustParseAddrPort("192.0.2.10:50000")
	stranger := netip.MustParseAddrPort("198.51.100.66:40000")
	cases := []struct {
		name                       string
		src                        netip.AddrPort
		sdp                        netip.Addr
		strict, learning, sdpHeard bool
		want                       bool
	}{
		{"SDP address", fromSDP, sdp, false, false, false, true},
		{"SDP IP, NAT port", fromSDPOtherPort, sdp, true, false, true, true},
		{"stranger while learning", stranger, sdp, false, true, false, true},
		{"stranger after learning", stranger, sdp, false, false, false, false},
		{"stranger once the SDP address was heard", stranger, sdp, false, true, true, false},
		{"stranger with strict_source", stranger, sdp, true, true, false, false},
		{"no SDP address, learning", stranger, netip.Addr{}, false, true, false, true},
		{"no SDP address, strict", stranger, netip.Addr{}, true, true, false, false},
	}
	for _, c := range cases {
		if got := mayLatch(c.src, c.sdp, c.strict, c.learning, c.sdpHeard); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestContinuesStream(t *testing.T) {
	const rate = 8000
	seq, ts := uint16(65500), uint32(4294960000)
	cases := []struct {
		name    string
		seq     uint16
		ts      uint32
		elapsed time.Duration
		want    bool
	}{
		{"next packet", seq + 1, ts + 160, 20 * time.Millisecond, true},
		{"after 1.2 s of loss, across the wraps", seq + 60, ts + 9600, 1200 * time.Millisecond, true},
		{"same sequence number", seq, ts + 160, 20 * time.Millisecond, false},
		{"behind", seq - 5, ts + 160, 20 * time.Millisecond, false},
		{"sequence swept far ahead", seq + 2000, ts + 9600, 1200 * time.Millisecond, false},
		{"timestamp guessed wrong", seq + 60, ts + 1_000_000, 1200 * time.Millisecond, false},
		{"timestamp behind", seq + 60, ts - 8000, 1200 * time.Millisecond, false},
		{"timestamp from another stream", seq + 3, 12345, 60 * time.Millisecond, false},
		{"long silence, plausible", seq + 5, ts + 30*rate, 30 * time.Second, true},
	}
	for _, c := range cases {
		if got := continuesStream(c.seq, c.ts, seq, ts, c.elapsed, rate); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzContinuesStream(f *testing.F) {
	f.Add(uint16(1), uint32(160), uint16(0), uint32(0), int64(20e6))
	f.Fuzz(func(t *testing.T, seq uint16, ts uint32, maxSeq uint16, lastTS uint32, elapsed int64) {
		d := time.Duration(elapsed)
		if !continuesStream(seq, ts, maxSeq, lastTS, d, 8000) {
			return
		}
		if seq == maxSeq || int32(ts-lastTS) <= 0 {
			t.Fatalf("accepted a non-advancing packet: seq %d→%d ts %d→%d", maxSeq, seq, lastTS, ts)
		}
		if d >= 0 && int64(uint16(seq-maxSeq)) > 50+int64(d/(10*time.Millisecond)) {
			t.Fatalf("accepted a sequence jump of %d after %v", uint16(seq-maxSeq), d)
		}
	})
}
