package conference

// Addresses names a conference on both protocols: sip:ROOM@SIP_DOMAIN and
// ROOM@MUC_DOMAIN, the chat advertised as xmpp:ROOM@MUC_DOMAIN?join. Both
// adapters build their URIs here, so the conference URI the focus publishes
// in conf-uris and the audio-video-uri the room shows in its disco info are
// byte-identical, as are the grouptextchat URIs of every NOTIFY (RFC 4575
// §4.5 compares keys as exact strings).
type Addresses struct {
	SIPDomain string // conference URIs are sip:ROOM@SIPDomain
	MUCDomain string // rooms are ROOM@MUCDomain; empty when there is no MUC
}

// ConferenceURI is the SIP conference URI of room: sip:ROOM@SIPDomain.
func (a Addresses) ConferenceURI(room string) string {
	return "sip:" + room + "@" + a.SIPDomain
}

// RoomJID is the room's bare JID, or "" without a MUC domain.
func (a Addresses) RoomJID(room string) string {
	if a.MUCDomain == "" {
		return ""
	}
	return room + "@" + a.MUCDomain
}

// ChatURI is the room's grouptextchat service URI (RFC 7106, RFC 7081 §4) in
// the XEP-0045 §16.7.1 join form of RFC 5122: xmpp:ROOM@MUCDomain?join, or
// "" without a MUC domain. Room names are a-z 0-9 . _ - only, so nothing
// needs escaping.
func (a Addresses) ChatURI(room string) string {
	if a.MUCDomain == "" {
		return ""
	}
	return "xmpp:" + a.RoomJID(room) + "?join"
}
