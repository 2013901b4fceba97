// Package focus is the bridge's SIP conference focus (RFC 4353, RFC 4579): it
// answers INVITEs to sip:ROOM@DOMAIN with an SDP answer and an isfocus
// Contact, keeps its own table of dialogs (call-id and tags → call state),
// ends calls with BYE in either direction, serves the RFC 4575 conference
// event package over RFC 6665 subscriptions, ejects and dials out on REFER
// (RFC 3515, RFC 4579 §5.5, §5.11) for digest-authenticated moderators. It
// translates SIP into calls on the conference core (Join, Leave, Kick,
// UpdateAudio, DTMF, SetSpeaking) and renders the core's events back into
// SIP (a kick becomes a BYE, a change a NOTIFY); media goes through one
// mixer.Leg per call.
//
// Files: focus.go (server, routing, responses, panic containment), dialog.go
// (dialogs, admission of in-dialog requests by From and source IP, requests
// from the focus, the call table), call.go (a call's state, media glue),
// invite.go (INVITE, re-INVITE, ACK), replaces.go (RFC 3891), bye.go (BYE
// both ways), options.go (OPTIONS, INFO, unmatched CANCEL), auth.go (digest),
// subscribe.go (SUBSCRIBE, the subscription table and feeds), notify.go (each
// subscription's sender: throttled NOTIFYs, TCP for big ones, UDP fallback),
// refer.go (REFER, ejection, refer NOTIFYs), dialout.go (the focus's own
// INVITEs, on sipgo's dialog client), headers.go (header parsers), events.go (the core's event
// stream), rtptimeout.go (one sweep hangs up calls without RTP),
// shutdown.go, sdp.go (offer/answer, pure functions), sdes.go (SRTP keys,
// RFC 4568), tcpguard.go (the TCP/TLS listener sipgo serves: accept errors
// retried, per-source and total limits, idle timeout, descriptor reserve),
// routeset.go (Record-Route followed only from the source; Contact: *). The focus's lifetime
// is one context, derived in Run; every goroutine it starts has an owner
// that waits for it before Run returns.
package focus
