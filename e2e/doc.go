// Package e2e holds end-to-end tests: they build the real bridge binary,
// start it on loopback ports with a generated configuration, and talk to it
// with real, independently written peers (sipp, Prosody, Go SIP and XMPP
// clients), asserting on what a user would observe.
package e2e
