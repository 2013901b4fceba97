// Package digest is the server side of SIP digest authentication (RFC 3261
// §22, RFC 2617, RFC 7616, RFC 8760): it issues challenges for
// WWW-Authenticate (or Proxy-Authenticate) with random, expiring nonces,
// verifies Authorization (or Proxy-Authorization) values with MD5 or SHA-256,
// qop=auth or the RFC 2069 form without qop, rejects replayed nonce-counts,
// and maps an authenticated digest user to the SIP address of record it may
// claim. The hashes are computed by github.com/icholy/digest; this package
// owns parsing, nonce state and the policy around them.
package digest
