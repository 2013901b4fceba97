// Package client is the engine of the bundled dual-stack client (`bridge
// client`): one person in both halves of a meeting, following the RFC 7081
// §6 client practices that apply to conferences. It owns the Chat
// connection (a mellium XMPP c2s session: STARTTLS, SCRAM, resource binding,
// roster, vCard TEL look-ups, its own MUC presence tracking), the Voice
// connection (a sipgo UA with digest auth: INVITE with the Call-Info
// binding hint, isfocus detection, the in-dialog conference subscription
// whose NOTIFYs confinfo.Parse and confinfo.State turn into the conference
// state), an RTP endpoint built on the mixer's G.711 codec, jitter buffer
// and RFC 4733 codes, and the merged participant view (Merge). Joining
// from either end checks that both halves name each other (conf-uris ↔
// audio-video-uri, grouptextchat ↔ room) before adding the second half.
//
// Two front ends drive the same Client: script mode (RunScript, commands
// on stdin, JSON-line events on stdout) and the terminal UI in client/tui.
//
// Online provisioning (Config.ProvisionFrom, --provision) fetches the
// bridge's GET /provision document (ParseDocument) and fills the settings
// left empty; the XMPP connection then also trusts the document's TLS pin.
//
// Departures from DESIGN.md: the system sound device (malgo) is only in a
// build with -tags malgo; otherwise audio is tone/silence/WAV in and
// WAV/null out.
package client
