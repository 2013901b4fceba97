package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/config"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/mixer/audiotest"
)

// chatEntry is the grouptextchat entry every document that describes the
// conference must carry, byte for byte.
const chatEntry = "<service-uris><entry><uri>xmpp:team@conference.localhost?join</uri><purpose>grouptextchat</purpose></entry></service-uris>"

// subscriber reads a conference subscription's NOTIFYs and merges them with
// confinfo.State, checking each NOTIFY on the way.
type subscriber struct {
	t     *testing.T
	sub   *sipua.Subscription
	st    confinfo.State
	last  uint32
	count int // NOTIFYs read
	tcp   int // of which over TCP
	full  int // of which full documents
}

// next reads one NOTIFY and applies it: versions must follow each other
// without gaps, every document that describes the conference must carry
// the chat URI, and the merged state must always have it.
func (s *subscriber) next(ctx context.Context) (*sip.Request, sipua.SubscriptionState, *confinfo.Document) {
	s.t.Helper()
	n, err := s.sub.NextNotify(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	s.count++
	if strings.EqualFold(n.Transport(), "tcp") {
		s.tcp++
	}
	if ct := n.Contact(); ct == nil || !ct.Params.Has("isfocus") {
		s.t.Errorf("NOTIFY Contact %v", n.GetHeader("Contact"))
	}
	st, err := sipua.State(n)
	if err != nil {
		s.t.Fatal(err)
	}
	doc, err := confinfo.Parse(n.Body())
	if err != nil {
		s.t.Fatalf("NOTIFY body: %v\n%s", err, n.Body())
	}
	if doc.Version != s.last+1 {
		s.t.Errorf("version %d after %d: a gap", doc.Version, s.last)
	}
	s.last = doc.Version
	if doc.State == confinfo.StateFull {
		s.full++
	}
	if doc.Description != nil && !strings.Contains(string(n.Body()), chatEntry) {
		s.t.Errorf("document v%d describes the conference without the chat URI entry:\n%s", doc.Version, n.Body())
	}
	res, err := s.st.Apply(doc)
	if err != nil || res == confinfo.Gap || res == confinfo.Discarded {
		s.t.Errorf("apply v%d: %v %v", doc.Version, res, err)
	}
	if held := s.st.Document(); held != nil {
		if uris := held.ServiceURIs("grouptextchat"); len(uris) != 1 || uris[0] != "xmpp:team@conference.localhost?join" {
			s.t.Errorf("merged state's grouptextchat URIs %q", uris)
		}
	}
	return n, st, doc
}

// until reads NOTIFYs until cond holds on the merged state.
func (s *subscriber) until(ctx context.Context, what string, cond func(*confinfo.Document) bool) {
	s.t.Helper()
	for {
		if d := s.st.Document(); d != nil && cond(d) {
			return
		}
		if ctx.Err() != nil {
			s.t.Fatalf("subscriber never saw %s; holds:\n%s", what, s.st.Document())
		}
		s.next(ctx)
	}
}

// endpoint returns the first endpoint of user entity, or nil.
func endpoint(d *confinfo.Document, entity string) *confinfo.Endpoint {
	u := d.User(entity)
	if u == nil || len(u.Endpoints) == 0 {
		return nil
	}
	return &u.Endpoints[0]
}

func usersCount(d *confinfo.Document) uint32 {
	if d.ConferenceState == nil || d.ConferenceState.UserCount == nil {
		return 0
	}
	return *d.ConferenceState.UserCount
}

// statuses is the expected endpoint status per user entity.
type statuses map[string]confinfo.EndpointStatus

// match reports whether d shows exactly these statuses and user-count.
func (want statuses) match(d *confinfo.Document, count uint32) bool {
	for entity, st := range want {
		ep := endpoint(d, entity)
		if ep == nil || ep.Status != st {
			return false
		}
		media := ep.MediaByID("audio")
		switch st {
		case confinfo.StatusMutedViaFocus:
			if media == nil || media.Status != confinfo.MediaRecvOnly {
				return false
			}
		case confinfo.StatusConnected:
			if media == nil || media.Status != confinfo.MediaSendRecv {
				return false
			}
		}
	}
	return usersCount(d) == count
}

// Through the real binary: four callers join (one of them, "watch",
// subscribes out of its call from the same AOR and address, which the
// default participants-only policy admits), one mutes itself by RFC 4733
// *6, a moderator ejects one by REFER, one hangs up. After each step the
// subscriber's merged state shows it (statuses, booted with by, departed,
// user-count), versions have no gaps, and every document describing the
// conference carries the grouptextchat URI byte for byte.
func TestSubscriberFollowsConference(t *testing.T) {
	b := moderatedBridge(t, func(c *config.Config) {
		withChat(t, c)
		c.SIP.NotifyInterval = config.Duration(200 * time.Millisecond)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The watcher is in the call and listens on TCP too, for big NOTIFYs.
	watchUA, _ := joinCall(t, b, ctx, sipua.Config{User: "watch", AlsoTCP: true})
	s, err := watchUA.Subscribe(ctx, watchUA.Target("team", b.SIPAddr), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	sub := &subscriber{t: t, sub: s}
	_, st, doc := sub.next(ctx)
	if st.State != "active" || doc.State != confinfo.StateFull || doc.Version != 1 {
		t.Fatalf("first NOTIFY %+v %s v%d", st, doc.State, doc.Version)
	}

	// A stranger from another address is refused by the default policy:
	// covered by the focus's unit tests; here everyone is on loopback.

	// c1 has a phone (RTP with RFC 4733), c2 and c3 plain sockets.
	phone, err := audiotest.NewPhone(audiotest.PhoneConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	phone.SetSource(audiotest.Tone(700, 4000, 8000).Fill)
	c1UA, err := sipua.New(sipua.Config{User: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c1UA.Close() })
	c1, err := c1UA.Invite(ctx, c1UA.Target("team", b.SIPAddr), sipua.Offer(phone.Addr(), "0 101"))
	if err != nil || c1.Response.StatusCode != 200 {
		t.Fatalf("c1 INVITE: %v %v", c1.Response, err)
	}
	if err := c1.Ack(nil); err != nil {
		t.Fatal(err)
	}
	dst, err := sipua.AudioPort(c1.Response.Body())
	if err != nil {
		t.Fatal(err)
	}
	phone.Start(dst)
	_, c2 := joinCall(t, b, ctx, sipua.Config{User: "c2"})
	_, c3 := joinCall(t, b, ctx, sipua.Config{User: "c3"})

	const (
		watch = "sip:watch@127.0.0.1"
		e1    = "sip:c1@127.0.0.1"
		e2    = "sip:c2@127.0.0.1"
		e3    = "sip:c3@127.0.0.1"
	)
	step := func(what string, want statuses, count uint32) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		sub.until(sctx, what, func(d *confinfo.Document) bool { return want.match(d, count) })
		t.Logf("%s: version %d after %d NOTIFYs (%d over TCP)", what, sub.last, sub.count, sub.tcp)
	}
	step("four callers", statuses{watch: confinfo.StatusConnected, e1: confinfo.StatusConnected,
		e2: confinfo.StatusConnected, e3: confinfo.StatusConnected}, 4)

	// c1 mutes itself: *6 by RFC 4733.
	for _, d := range "*6" {
		if err := phone.SendDTMF(d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	step("c1 muted by DTMF", statuses{watch: confinfo.StatusConnected, e1: confinfo.StatusMutedViaFocus,
		e2: confinfo.StatusConnected, e3: confinfo.StatusConnected}, 4)

	// alice (a listed moderator, not in the call) ejects c2 by REFER.
	alice, err := sipua.New(sipua.Config{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alice.Close() })
	r, err := alice.Refer(ctx, alice.Target("team", b.SIPAddr), []string{"<" + e2 + ";method=BYE>"},
		&sipua.Credentials{User: "alice", Password: "alice-secret"})
	if err != nil || r.Response.StatusCode != 202 {
		t.Fatalf("REFER: %v %v", r.Response, err)
	}
	if _, err := c2.WaitBye(ctx); err != nil {
		t.Fatal(err)
	}
	step("c2 ejected", statuses{watch: confinfo.StatusConnected, e1: confinfo.StatusMutedViaFocus,
		e2: confinfo.StatusDisconnected, e3: confinfo.StatusConnected}, 3)
	ep := endpoint(sub.st.Document(), e2)
	if ep.DisconnectionMethod != confinfo.DisconnectBooted || ep.DisconnectionInfo == nil || ep.DisconnectionInfo.By != "sip:alice@127.0.0.1" {
		t.Errorf("c2's endpoint: %+v %+v", ep, ep.DisconnectionInfo)
	}
	for {
		n, err := r.NextNotify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := sipua.State(n); st.State == "terminated" {
			if !strings.HasPrefix(string(n.Body()), "SIP/2.0 200 OK") {
				t.Errorf("final refer NOTIFY %q", n.Body())
			}
			break
		}
	}

	// c3 hangs up.
	if res, err := c3.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatalf("c3 BYE: %v %v", res, err)
	}
	step("c3 departed", statuses{watch: confinfo.StatusConnected, e1: confinfo.StatusMutedViaFocus,
		e2: confinfo.StatusDisconnected, e3: confinfo.StatusDisconnected}, 2)
	if ep := endpoint(sub.st.Document(), e3); ep.DisconnectionMethod != confinfo.DisconnectDeparted {
		t.Errorf("c3's endpoint: %+v", ep)
	}

	// Unsubscribe: the final NOTIFY still has the right user-count.
	if res, err := s.Refresh(ctx, 0); err != nil || res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %v %v", res, err)
	}
	for {
		_, st, _ := sub.next(ctx)
		if st.State == "terminated" {
			break
		}
	}
	if d := sub.st.Document(); usersCount(d) != 2 {
		t.Errorf("final user-count %d", usersCount(d))
	}
	WaitFor(t, 5*time.Second, "no subscription", func() bool { return b.Metric("cusax_subscriptions_active") == 0 })
	if sent := b.Metric("cusax_notify_sent_total", `event="conference"`); int(sent) < sub.count {
		t.Errorf("notify_sent_total %v < %d received", sent, sub.count)
	}
}
