// Package xmppserver is the bridge's embedded XMPP service (xmpp.mode:
// embedded): client-to-server streams (RFC 6120) for one domain with
// STARTTLS, SASL SCRAM-SHA-256/SCRAM-SHA-1 (PLAIN only over TLS) against
// the shared accounts, resource binding, rosters, presence subscriptions and
// broadcast and message routing between local users (RFC 6121), disco,
// ping and vCards (XEP-0054) whose TEL holding the SIP AOR the owner cannot
// change. Stanzas for the MUC domain go in process to the muc package's
// room service (Component), the same code that serves component mode.
//
// Mellium does the stream negotiation (stream headers, STARTTLS, resource
// binding) and mellium.im/sasl the SCRAM and PLAIN exchanges; the SASL
// stream feature is our own because mellium's SASLServer cannot hand SCRAM
// its salted credentials (v0.22). After negotiation the server reads the
// stream itself rather than with Session.Serve, which answers every IQ its
// handler did not answer on the spot with service-unavailable and so
// cannot route IQs to other entities.
//
// Federation (s2s) is not provided: stanzas to other domains bounce with
// remote-server-not-found, and a server stream is refused. Everything a
// stranger controls is bounded: stanza size, element depth, roster size,
// connections per source address and in total, failed logins per account
// and per source.
package xmppserver
