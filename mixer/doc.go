// Package mixer is the bridge's media engine: it owns the RTP/RTCP port
// pairs of SIP legs (even port P for RTP, P+1 for RTCP; P alone with
// RTCP multiplexing), the receive path
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
// Symmetric RTP latches a leg to the source of its first valid packet, but
// only from a source the rules of admit.go accept (DESIGN §5 says "where RTP
// comes from"; on the Internet that lets anyone take a leg, so: the SDP
// address's IP always, another only in a short learning window,
// Config.StrictSource never); when that source has been quiet for
// Config.RelatchQuiet and another sends Config.RelatchPackets in-sequence
// packets that continue the stream's SSRC, sequence numbers and timestamps
// (a NAT mapping that changed mid-call), the latch and the mix move there
// (see Leg). A leg that heard nothing stops sending after
// Config.UnheardTimeout. With LegParams.SRTP the leg runs SRTP/SRTCP
// (SDES keys, srtp.go).
//
// Capacity (issue 13): on Linux one poller per GOMAXPROCS reads every
// leg's RTP socket (epoll, one recvfrom per packet, no goroutine wake-up
// per packet), so a tick never waits behind thousands of runnable socket
// readers; elsewhere each leg has its own reader. The clock stays one
// goroutine on absolute deadlines and spreads each tick over GOMAXPROCS
// workers: rooms first (each prepared by one goroutine), then the fan-out
// of rooms of 128 legs or more in chunks; zero allocations per tick. The
// jitter buffer marks received samples in a bitset. No packet touches a
// shared counter: a leg counts under its own lock and the clock publishes
// rtp_packets_total once per tick (Close the rest). With Config.BindIPAlt
// the engine binds legs of both address families (AllocateFor picks the
// peer's; ErrFamily when it binds none). Known limit: a large room's gate
// and sum run on one core.
//
// RTCP multiplexing (RFC 5761, LegParams.RTCPMux, from a=rtcp-mux): RTCP
// goes both ways over the RTP socket (received RTCP, PT 192–223, is told
// apart in the RTP reader), so a muxed leg closes its RTCP socket at Start
// or at the Update that muxes it and holds one socket and no RTCP
// goroutine (its port pair stays reserved until Close). Its
// reports come from a runtime timer that re-arms itself (report.go), as in
// shared mode; Close stops it before the RTCP BYE, so the BYE is the last
// RTCP sent. Only a leg without multiplexing keeps a goroutine on its RTCP
// socket (rtcpLoop, whose read deadline times its reports). Once muxed a
// leg stays muxed: an Update without RTCPMux sends the reports to the
// remote's RTCP address, still from the RTP port (see Leg). Every leg
// still has one goroutine that runs its Handlers (dispatch).
//
// Config.Shared (rtp.mode: shared, shared.go) is a second socket strategy
// behind the same Leg: every leg of a family on one port (GOMAXPROCS
// SO_REUSEPORT sockets on it and on port+1 for RTCP), datagrams routed to
// the leg whose SDP address is exactly their source (no latching; others
// dropped and counted as strangers; two legs may not share a source:
// ErrSourceInUse), received with recvmmsg and sent with sendmmsg, one
// batch per tick worker and family, on preallocated headers and socket
// addresses (mmsg_linux.go): neither path allocates per datagram. The
// clock sends without a per-leg lock: what it sent reaches the leg's
// statistics at the leg's next pull, one tick later.
//
// Directions are the bridge's own, typed (Send: it sends the mix; Recv: the
// leg's audio enters the mix); the signalling translates SDP's words into
// them. Handlers run on a per-leg goroutine, never on the
// clock. Metrics: rtp_packets_total{direction="in"} counts accepted packets,
// "dropped" rejected ones (foreign source, payload type, malformed, late,
// duplicate), "out" packets sent. Package audiotest has tone, Goertzel and
// RTP phone helpers for tests of this and other packages.
package mixer
