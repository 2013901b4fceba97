// Package admin is the bridge's HTTP control surface on admin.listen: the
// REST API under /api/v1 (bearer token, JSON in and out, RFC 9457
// problem+json errors, bounded bodies), a Server-Sent Events stream of
// each room's core events (bounded in number), its OpenAPI 3.1 document,
// and the embedded moderator console at /console/.
//
// Every action goes through the conference core with Origin api and the
// API's actor, so it is mirrored on SIP and XMPP like any other; the
// package holds no conference state of its own. With an empty token
// nothing is registered and every path answers 404.
package admin
