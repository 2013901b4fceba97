// Package muc is the XMPP half of the bridge: a XEP-0114 component session to
// Prosody or ejabberd that serves XEP-0045 Multi-User Chat rooms for the
// conferences of the conference core, with service discovery and the
// muc#roominfo form that advertises each room's SIP conference URI
// (audio-video-uri, RFC 7081 §4).
//
// The package translates stanzas into core calls (join, post, kick, ban,
// configure, invite, private message…) and renders the core's events back
// into stanzas, so every rule lives in conference and SIP and XMPP stay
// mirrored. What is purely XMPP presentation stays here: nick and JID
// routing, presence fan-out, history filtering, the relaying of private
// messages, invitations and declines, disco and data forms, and the
// liveness of occupants' clients (pings), and the vCard look-ups the core
// verifies SIP↔XMPP bindings with (VCardTELs).
package muc
