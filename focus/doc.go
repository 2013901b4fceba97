// Package focus is the bridge's SIP conference focus (RFC 4353, RFC 4579): it
// answers INVITEs to sip:ROOM@DOMAIN with an SDP answer and an isfocus
// Contact, keeps its own table of dialogs (call-id and tags → call state),
// and ends calls with BYE in either direction. It translates SIP into calls
// on the conference core (Join, Leave, UpdateAudio, DTMF, SetSpeaking) and
// renders the core's events back into SIP (a kick or a ban becomes a BYE, a
// mute goes to the mixer leg); media goes through one mixer.Leg per call.
//
// Files: focus.go (server, routing, responses), dialog.go (UAS dialogs,
// in-dialog requests from the focus, the call table), call.go (a call's
// state, media glue to the mixer), invite.go (INVITE, re-INVITE, ACK),
// replaces.go (RFC 3891), bye.go (BYE both ways), options.go (OPTIONS, INFO,
// unmatched CANCEL), events.go (the core's event stream), shutdown.go,
// sdp.go (offer/answer, pure functions).
package focus
