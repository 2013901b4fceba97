package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
)

// RFC 7081 §4 through the real binary and a real Prosody: the conference
// state a SIP subscriber gets names the chat room (grouptextchat), the room
// that URI names exists on the XMPP server and its disco info names the
// conference back (audio-video-uri), byte for byte the conf-uris entry; and
// a person on either side is visible from the other.
func TestEachSideAdvertisesTheOther(t *testing.T) {
	p := StartProsody(t, e2eUsers)
	br := startBinary(t, p)
	b := br.b
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A phone calls the room and subscribes to its state.
	ua, _ := joinCall(t, b, ctx, sipua.Config{User: "phone", DisplayName: "Desk Phone", AlsoTCP: true})
	sub, err := ua.Subscribe(ctx, ua.Target("team", b.SIPAddr), "conference", 600)
	if err != nil || sub.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", sub.Response, err)
	}
	s := &subscriber{t: t, sub: sub}
	_, _, first := s.next(ctx)
	if first.Description == nil || first.Description.ConfURIs == nil || len(first.Description.ConfURIs.Entries) != 1 {
		t.Fatalf("first NOTIFY has no conf-uris: %s", first)
	}
	confURI := first.Description.ConfURIs.Entries[0].URI
	if confURI != "sip:team@"+b.Config.SIP.Domain {
		t.Fatalf("conf-uris %q", confURI)
	}
	chat := first.ServiceURIs(confinfo.PurposeGroupTextChat)
	if len(chat) != 1 {
		t.Fatalf("grouptextchat URIs %q", chat)
	}
	roomJID, ok := strings.CutPrefix(strings.TrimSuffix(chat[0], "?join"), "xmpp:")
	if !ok || roomJID != "team@"+p.MUCDomain {
		t.Fatalf("chat URI %q does not name the room on %s", chat[0], p.MUCDomain)
	}

	// The room the chat URI names answers through Prosody, and points back.
	alice := login(t, p, "alice")
	waitComponent(t, alice, p.MUCDomain, 10*time.Second)
	res, vals := roomInfo(t, alice, roomJID)
	if vals["audio-video-uri"] != confURI {
		t.Fatalf("audio-video-uri %q is not the conf-uris entry %q (%s)", vals["audio-video-uri"], confURI, res)
	}
	if vals["muc#roominfo_occupants"] != "1" {
		t.Errorf("occupants = %q, want the phone caller counted", vals["muc#roominfo_occupants"])
	}

	// A chat user joins: the phone caller is among the occupants the room
	// presents (no real JID), and the chat user appears in the SIP
	// subscriber's conference state, without an audio endpoint.
	got := alice.Join(roomJID, "Alice", "")
	var phoneSeen bool
	for _, e := range got {
		if e.Attr("from") == roomJID+"/Desk Phone" {
			phoneSeen = true
			if jid := e.Item().Attr("jid"); jid != "" {
				t.Errorf("the phone caller's occupant shows a JID %q", jid)
			}
		}
	}
	if !phoneSeen {
		t.Fatalf("the phone caller is not presented in the room: %v", got)
	}
	s.until(ctx, "the chat user in conference state", func(d *confinfo.Document) bool {
		if d.ConferenceState == nil || d.ConferenceState.UserCount == nil || *d.ConferenceState.UserCount != 2 {
			return false
		}
		for _, u := range d.Users.Users {
			if u.DisplayText == "Alice" {
				return len(u.Endpoints) == 0
			}
		}
		return false
	})
}
