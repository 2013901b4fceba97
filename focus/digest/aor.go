package digest

import (
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// AOR is the SIP address of record a digest user of the bridge stands for:
// sip:USER@DOMAIN, with DOMAIN (the configured sip.domain) in lower case.
// This is the form room moderator lists use (rooms[].moderators in the
// configuration, e.g. "sip:alice@localhost"), and the value the focus should put in
// conference.Actor.AOR, with Authenticated set, after a successful Verify.
func AOR(user, domain string) string {
	return "sip:" + user + "@" + strings.ToLower(domain)
}

// FromMatches reports whether the From URI of an authenticated request is
// the address of record of the digest user, and returns that AOR (see AOR).
//
// Digest authentication proves only that the client knows user's password;
// the From header is chosen by the client. Without this check an
// authenticated user could put another person's AOR in From and act with
// that person's moderator rights. The focus therefore trusts a From only
// when FromMatches holds, and otherwise uses AOR(user, domain) as the
// identity (or refuses the request).
//
// The From URI matches when its scheme is sip or sips, its user part (after
// percent-decoding, compared exactly: SIP user parts are case-sensitive,
// RFC 3261 §19.1.4) equals user, and its host equals domain ignoring case.
// Port, URI parameters and headers are not part of the identity and are
// ignored. A digest username of the form "user@domain" (some phones send the
// full AOR) is compared as user part and host.
func FromMatches(from *sip.Uri, user, domain string) (aor string, ok bool) {
	if from == nil || user == "" || domain == "" {
		return "", false
	}
	if u, host, found := strings.Cut(user, "@"); found {
		if !strings.EqualFold(host, domain) {
			return "", false
		}
		user = u
	}
	scheme := strings.ToLower(from.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return "", false
	}
	fromUser, err := url.PathUnescape(from.User)
	if err != nil || fromUser != user || !strings.EqualFold(from.Host, domain) {
		return "", false
	}
	return AOR(user, domain), true
}
