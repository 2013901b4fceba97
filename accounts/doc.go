// Package accounts holds the users shared by both halves of an embedded
// CUSAX service (RFC 7081 §2): an account NAME is the JID NAME@xmpp.host and
// the SIP AOR sip:NAME@sip.domain, with one password for both.
//
// Only values derived from the password at set time are stored (in the
// store's AccountStore): the SIP digest HA1 for the realm (MD5 and SHA-256)
// and the SCRAM salted passwords (SHA-1 and SHA-256, RFC 5802/7677). The
// SCRAM salted password is kept rather than only StoredKey and ServerKey
// because mellium's SCRAM server (sasl v0.3.2) takes the salted password;
// it is password-equivalent for XMPP login, exactly as the digest HA1
// already is for SIP, so keeping it does not widen what a stolen database
// gives away.
package accounts
