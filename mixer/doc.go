// Package mixer is the bridge's media engine: it owns the RTP/RTCP sockets of
// every SIP leg (one even port P for RTP and P+1 for RTCP from a configured
// range), the receive path (symmetric-RTP latching, jitter buffer with
// packet-loss concealment, G.711 decoding, RFC 4733 DTMF), RTCP sender and
// receiver reports, and the single clock that mixes every room each
// packetisation interval (mix-minus for talkers, one shared encoding per codec
// for listeners). It knows nothing of SIP: the focus calls
//
//	leg, err := eng.Allocate()            // ErrPortsExhausted → 503
//	leg.Start(room, LegParams{...}, Handlers{...})
//	leg.Update(params) / leg.SetMuted(true) / leg.Stats()
//	leg.Close()                           // port pair free again on return
//
// while eng.Run(ctx) drives the clock for all rooms.
package mixer
