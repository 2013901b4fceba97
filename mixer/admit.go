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
