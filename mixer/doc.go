// Package mixer is the bridge's media engine: it owns the RTP/RTCP port
// pairs of SIP legs (even port P for RTP, P+1 for RTCP), the receive path
// (symmetric-RTP latching, jitter buffer with loss concealment, G.711,
// RFC 4733 DTMF), RTCP reports, and the one clock that mixes every room
// each Ptime: talkers hear the sum minus themselves, everyone else one
// shared encoding per codec. It knows nothing of SIP; the focus drives it:
//
//	eng, _ := mixer.New(mixer.Config{PortMin: 10000, PortMax: 20000, Metrics: m})
//	go eng.Run(ctx)                              // the clock for all rooms
//	leg, err := eng.Allocate()                   // errors.Is(err, mixer.ErrPortsExhausted) → 503
//	// SDP answer: m=audio leg.Port() …
//	leg.Start("team", mixer.LegParams{Remote: sdpAddr, Codec: mixer.PCMU(), DTMFPayloadType: 101}, handlers)
//	leg.Update(params)                           // re-INVITE: address, codec, hold (Direction)
//	leg.SetMuted(true)                           // out of every mix, still hears the room
//	leg.Close()                                  // port pair free again on return
//
// Symmetric RTP latches a leg to the source of its first valid packet;
// when that source has been quiet for Config.RelatchQuiet and another sends
// Config.RelatchPackets in-sequence packets of the same SSRC (a NAT mapping
// that changed mid-call), the latch and the mix move there (see Leg).
//
// Directions are the bridge's own, typed (Send: it sends the mix; Recv: the
// leg's audio enters the mix); the signalling translates SDP's words into
// them. Handlers run on a per-leg goroutine, never on the
// clock. Metrics: rtp_packets_total{direction="in"} counts accepted packets,
// "dropped" rejected ones (foreign source, payload type, malformed, late,
// duplicate), "out" packets sent. Package audiotest has tone, Goertzel and
// RTP phone helpers for tests of this and other packages.
package mixer
