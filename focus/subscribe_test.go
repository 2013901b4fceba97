package focus

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/e2e/sipua"
	"cusax.dev/bridge/internal/testwait"
)

// watcher is a subscriber's side of a conference subscription: it reads
// the NOTIFYs, checks their headers and merges their bodies.
type watcher struct {
	t     *testing.T
	sub   *sipua.Subscription
	st    confinfo.State
	last  uint32
	count int
	tcp   int // NOTIFYs that came over TCP
}

func newWatcher(t *testing.T, s *sipua.Subscription) *watcher { return &watcher{t: t, sub: s} }

// next reads one NOTIFY, checks it and applies its body; it returns the
// NOTIFY, its parsed Subscription-State and the document.
func (w *watcher) next(d time.Duration) (*sip.Request, sipua.SubscriptionState, *confinfo.Document) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := w.sub.NextNotify(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	w.count++
	if strings.EqualFold(n.Transport(), "tcp") {
		w.tcp++
	}
	if ev := n.GetHeader("Event"); ev == nil || strings.Split(ev.Value(), ";")[0] != "conference" {
		w.t.Errorf("NOTIFY Event %v", ev)
	}
	if ct := n.Contact(); ct == nil || !ct.Params.Has("isfocus") {
		w.t.Errorf("NOTIFY Contact %v lacks isfocus", n.GetHeader("Contact"))
	}
	if ct := n.ContentType(); ct == nil || ct.Value() != "application/conference-info+xml" {
		w.t.Errorf("NOTIFY Content-Type %v", ct)
	}
	st, err := sipua.State(n)
	if err != nil {
		w.t.Fatal(err)
	}
	doc, err := confinfo.Parse(n.Body())
	if err != nil {
		w.t.Fatalf("NOTIFY body: %v\n%s", err, n.Body())
	}
	if doc.Version != w.last+1 {
		w.t.Errorf("version %d after %d: not consecutive", doc.Version, w.last)
	}
	w.last = doc.Version
	res, err := w.st.Apply(doc)
	if err != nil || res == confinfo.Gap || res == confinfo.Discarded {
		w.t.Errorf("apply version %d (%s): %v %v", doc.Version, doc.State, res, err)
	}
	return n, st, doc
}

// until reads NOTIFYs until cond holds on the merged state.
func (w *watcher) until(d time.Duration, what string, cond func(*confinfo.Document) bool) {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if doc := w.st.Document(); doc != nil && cond(doc) {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			w.t.Fatalf("subscriber never saw %s; holds:\n%s", what, w.st.Document())
		}
		w.next(left)
	}
}

// final reads NOTIFYs until the terminating one and returns its state
// (documents cut to UDP size may still be on their way before it).
func (w *watcher) final(d time.Duration) sipua.SubscriptionState {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, st, _ := w.next(time.Until(deadline))
		if st.State != "active" {
			return st
		}
	}
}

// none asserts that no NOTIFY arrives within d.
func (w *watcher) none(d time.Duration) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if n, err := w.sub.NextNotify(ctx); err == nil {
		w.t.Errorf("unexpected NOTIFY %s:\n%s", n.GetHeader("Subscription-State").Value(), n.Body())
	}
}

func endpointStatus(doc *confinfo.Document, entity string) confinfo.EndpointStatus {
	u := doc.User(entity)
	if u == nil || len(u.Endpoints) == 0 {
		return ""
	}
	return u.Endpoints[0].Status
}

func userCount(doc *confinfo.Document) uint32 {
	if doc.ConferenceState == nil || doc.ConferenceState.UserCount == nil {
		return 0
	}
	return *doc.ConferenceState.UserCount
}

const chatURI = "xmpp:team@muc.example.test?join"

func TestSubscribeLifecycle(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
			watcherUA := e.ua(transport, "watch")
			ctx := ctxT(t, 10*time.Second)
			s, err := watcherUA.Subscribe(ctx, e.target(watcherUA, transport, "team"), "conference", 600)
			if err != nil || s.Response.StatusCode != 200 {
				t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
			}
			res := s.Response
			if ct := res.Contact(); ct == nil || !ct.Params.Has("isfocus") || ct.Address.User != "team" {
				t.Errorf("200 Contact %v", res.GetHeader("Contact"))
			}
			if h := res.GetHeader("Expires"); h == nil || h.Value() != "600" {
				t.Errorf("200 Expires %v", h)
			}
			if h := res.GetHeader("Allow-Events"); h == nil || h.Value() != "conference" {
				t.Errorf("200 Allow-Events %v", h)
			}
			if h := res.GetHeader("Allow"); h == nil || !strings.Contains(h.Value(), "SUBSCRIBE") || !strings.Contains(h.Value(), "REFER") {
				t.Errorf("200 Allow %v", h)
			}
			w := newWatcher(t, s)
			n, st, doc := w.next(5 * time.Second)
			if st.State != "active" || st.Expires < 598 || st.Expires > 600 {
				t.Errorf("first NOTIFY state %+v", st)
			}
			if doc.State != confinfo.StateFull || doc.Version != 1 || doc.Entity != "sip:team@conf.example.test" {
				t.Errorf("first document: state %s version %d entity %s", doc.State, doc.Version, doc.Entity)
			}
			if uris := doc.ServiceURIs("grouptextchat"); len(uris) != 1 || uris[0] != chatURI {
				t.Errorf("grouptextchat %v", uris)
			}
			if !strings.Contains(string(n.Body()), "<uri>"+chatURI+"</uri>") {
				t.Errorf("chat URI not byte-identical:\n%s", n.Body())
			}
			if testutil.ToFloat64(e.m.SubscriptionsActive) != 1 || e.f.Subscriptions() != 1 {
				t.Errorf("active subscriptions %v / %d", testutil.ToFloat64(e.m.SubscriptionsActive), e.f.Subscriptions())
			}

			// A caller joins: a partial NOTIFY.
			caller := e.ua(transport, "alice")
			_, rtpAddr := e.rtp()
			call := e.dial(caller, transport, "team", rtpAddr, "0")
			w.until(5*time.Second, "alice connected", func(d *confinfo.Document) bool {
				return endpointStatus(d, "sip:alice@example.test") == confinfo.StatusConnected && userCount(d) == 1
			})

			// Refresh: 200 and full state, next version. (Over UDP the
			// last change may still be arriving in pieces: read on.)
			res, err = s.Refresh(ctx, 300)
			if err != nil || res.StatusCode != 200 || res.GetHeader("Expires").Value() != "300" {
				t.Fatalf("refresh: %v %v", res, err)
			}
			for {
				_, st, doc = w.next(5 * time.Second)
				if doc.State == confinfo.StateFull {
					break
				}
			}
			if st.State != "active" || st.Expires > 300 || st.Expires < 298 {
				t.Errorf("refresh NOTIFY: %s v%d %+v", doc.State, doc.Version, st)
			}

			// The caller hangs up; the subscription stays.
			if res, err := call.Bye(ctx); err != nil || res.StatusCode != 200 {
				t.Fatal(res, err)
			}
			w.until(5*time.Second, "alice disconnected", func(d *confinfo.Document) bool {
				u := d.User("sip:alice@example.test")
				return u != nil && u.Endpoints[0].Status == confinfo.StatusDisconnected &&
					u.Endpoints[0].DisconnectionMethod == confinfo.DisconnectDeparted && userCount(d) == 0
			})

			// Unsubscribe: 200, then a terminated NOTIFY.
			res, err = s.Refresh(ctx, 0)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("unsubscribe: %v %v", res, err)
			}
			if st := w.final(5 * time.Second); st.State != "terminated" || st.Reason != "timeout" {
				t.Errorf("final NOTIFY state %+v", st)
			}
			testwait.Until(t, 2*time.Second, "subscription gone", func() bool { return e.f.Subscriptions() == 0 })
			if v := testutil.ToFloat64(e.m.SubscriptionsActive); v != 0 {
				t.Errorf("active gauge %v", v)
			}
			if v := testutil.ToFloat64(e.m.NotifySent.WithLabelValues("conference")); v != float64(w.count) {
				t.Errorf("notify_sent %v, subscriber saw %d", v, w.count)
			}
			// The dialog is gone: a refresh is 481.
			if res, err := s.Refresh(ctx, 60); err != nil || res.StatusCode != 481 {
				t.Errorf("refresh after end: %v %v", res, err)
			}
		})
	}
}

func TestSubscribeRefusals(t *testing.T) {
	e := newEnv(t, envOptions{rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.ua("udp", "eve")
	ctx := ctxT(t, 10*time.Second)
	target := e.target(u, "udp", "team")
	tests := []struct {
		name  string
		uri   sip.Uri
		event string
		opts  []sipua.Option
		code  int
		hdr   string // header that must be present
		value string // and its value
	}{
		{name: "unknown event", uri: target, event: "presence", code: 489, hdr: "Allow-Events", value: "conference"},
		{name: "two events", uri: target, event: "conference", opts: []sipua.Option{sipua.WithHeader("Event", "dialog")}, code: 489, hdr: "Allow-Events", value: "conference"},
		{name: "Accept without conference-info", uri: target, event: "conference", opts: []sipua.Option{replaceHeader("Accept", "application/pidf+xml")}, code: 406, hdr: "Accept", value: "application/conference-info+xml"},
		{name: "Accept with q=0", uri: target, event: "conference", opts: []sipua.Option{replaceHeader("Accept", "application/conference-info+xml;q=0")}, code: 406},
		{name: "bad Expires", uri: target, event: "conference", opts: []sipua.Option{replaceHeader("Expires", "soon")}, code: 400},
		{name: "invalid room", uri: e.target(u, "udp", "bad%20room"), event: "conference", code: 404},
		{name: "room that does not exist", uri: e.target(u, "udp", "nowhere"), event: "conference", code: 404},
		{name: "not a participant", uri: target, event: "conference", code: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := u.Subscribe(ctx, tt.uri, tt.event, 60, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if s.Response.StatusCode != tt.code {
				t.Fatalf("got %s, want %d", s.Response.StartLine(), tt.code)
			}
			if tt.hdr != "" {
				if h := s.Response.GetHeader(tt.hdr); h == nil || (tt.value != "" && h.Value() != tt.value) {
					t.Errorf("%s: %v", tt.hdr, h)
				}
			}
		})
	}
	// An in-dialog SUBSCRIBE for a dialog the focus does not know.
	req := sip.NewRequest(sip.SUBSCRIBE, target)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "team", Host: "conf.example.test"}, Params: sip.NewParams()}
	to.Params.Add("tag", "nosuchtag")
	req.AppendHeader(to)
	req.AppendHeader(sip.NewHeader("Event", "conference"))
	req.AppendHeader(u.Contact())
	req.SetDestination(e.udp)
	if res, err := u.Client().Do(ctx, req); err != nil || res.StatusCode != 481 {
		t.Errorf("unknown dialog: %v %v", res, err)
	}
	if e.f.Subscriptions() != 0 {
		t.Errorf("%d subscriptions after refusals", e.f.Subscriptions())
	}
}

// replaceHeader sets a header to value, replacing the one the UA put.
func replaceHeader(name, value string) sipua.Option {
	return func(r *sip.Request) {
		r.RemoveHeader(name)
		r.AppendHeader(sip.NewHeader(name, value))
	}
}

// With the default policy a caller may subscribe, inside its call's
// dialog or outside it from the same address; others may not. The
// subscription outlives the caller's BYE (RFC 4579 §3.4).
func TestSubscribeParticipantsPolicy(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := ctxT(t, 15*time.Second)
	alice := e.ua("udp", "alice")
	_, rtpAddr := e.rtp()
	call := e.dial(alice, "udp", "team", rtpAddr, "0")

	// Out of dialog, same AOR, same address: a participant.
	s, err := alice.Subscribe(ctx, e.target(alice, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("participant SUBSCRIBE: %v %v", s.Response, err)
	}
	out := newWatcher(t, s)
	out.next(5 * time.Second)

	// Another AOR: refused.
	mallory := e.ua("udp", "mallory")
	if s, err := mallory.Subscribe(ctx, e.target(mallory, "udp", "team"), "conference", 600); err != nil || s.Response.StatusCode != 403 {
		t.Fatalf("stranger SUBSCRIBE: %v %v", s.Response, err)
	}
	// Alice's AOR from another UA on another port is still alice's
	// address here (loopback): what counts is the IP. Covered above.

	// Inside the call's dialog.
	in, err := call.Subscribe(ctx, "conference;id=1", 600)
	if err != nil || in.Response.StatusCode != 200 {
		t.Fatalf("in-dialog SUBSCRIBE: %v %v", in.Response, err)
	}
	if tag, _ := in.Response.To().Params.Get("tag"); tag != call.RemoteTag() {
		t.Errorf("in-dialog 200 To-tag %q, call's %q", tag, call.RemoteTag())
	}
	inw := newWatcher(t, in)
	n, _, doc := inw.next(5 * time.Second)
	if ev := n.GetHeader("Event").Value(); ev != "conference;id=1" {
		t.Errorf("in-dialog NOTIFY Event %q", ev)
	}
	if n.CallID().Value() != call.CallID() || doc.State != confinfo.StateFull {
		t.Errorf("in-dialog NOTIFY Call-ID %s state %s", n.CallID().Value(), doc.State)
	}
	if e.f.Subscriptions() != 2 {
		t.Errorf("subscriptions %d", e.f.Subscriptions())
	}

	// Alice hangs up: both subscriptions stay and report it.
	if res, err := call.Bye(ctx); err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	gone := func(d *confinfo.Document) bool {
		return endpointStatus(d, "sip:alice@example.test") == confinfo.StatusDisconnected
	}
	out.until(5*time.Second, "alice disconnected (out of dialog)", gone)
	inw.until(5*time.Second, "alice disconnected (in dialog)", gone)
	if e.f.Subscriptions() != 2 {
		t.Errorf("subscriptions after BYE: %d", e.f.Subscriptions())
	}
	// The in-dialog subscription can still be refreshed and ended.
	if res, err := in.Refresh(ctx, 0); err != nil || res.StatusCode != 200 {
		t.Fatalf("in-dialog unsubscribe: %v %v", res, err)
	}
	if st := inw.final(5 * time.Second); st.State != "terminated" {
		t.Errorf("in-dialog final %+v", st)
	}
	testwait.Until(t, 2*time.Second, "one subscription left", func() bool { return e.f.Subscriptions() == 1 })
}

func TestSubscriptionExpires(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, expires: 2 * time.Second, rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.ua("udp", "watch")
	ctx := ctxT(t, 10*time.Second)
	s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 3600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	if h := s.Response.GetHeader("Expires"); h.Value() != "2" {
		t.Errorf("granted Expires %s, want the configured maximum 2", h.Value())
	}
	w := newWatcher(t, s)
	w.next(5 * time.Second)
	start := time.Now()
	_, st, _ := w.next(5 * time.Second)
	if st.State != "terminated" || st.Reason != "timeout" {
		t.Errorf("expiry NOTIFY %+v", st)
	}
	if time.Since(start) < time.Second {
		t.Errorf("expired after %v", time.Since(start))
	}
	testwait.Until(t, 2*time.Second, "subscription gone", func() bool { return e.f.Subscriptions() == 0 })
}

// Expires: 0 on a new subscription is a fetch: 200, then one NOTIFY with
// full state that terminates it (RFC 6665 §4.2.1.1).
func TestSubscribeFetch(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.ua("udp", "watch")
	s, err := u.Subscribe(ctxT(t, 5*time.Second), e.target(u, "udp", "team"), "conference", 0)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	w := newWatcher(t, s)
	_, st, doc := w.next(5 * time.Second)
	if st.State != "terminated" || doc.State != confinfo.StateFull {
		t.Errorf("fetch NOTIFY %+v %s", st, doc.State)
	}
	testwait.Until(t, 2*time.Second, "subscription gone", func() bool { return e.f.Subscriptions() == 0 })
}

func TestSubscriptionEndsWithConference(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.ua("udp", "watch")
	ctx := ctxT(t, 10*time.Second)
	s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	w := newWatcher(t, s)
	w.next(5 * time.Second)
	if err := e.reg.Destroy(ctx, "team", conference.Actor{API: true}, conference.OriginAPI, "done", ""); err != nil {
		t.Fatal(err)
	}
	for {
		n, st, doc := w.next(5 * time.Second)
		if st.State == "active" {
			continue // the last changes before the end
		}
		if st.State != "terminated" || st.Reason != "noresource" || doc.State != confinfo.StateDeleted || !w.st.Ended() {
			t.Errorf("end NOTIFY %+v %s:\n%s", st, doc.State, n.Body())
		}
		break
	}
	testwait.Until(t, 2*time.Second, "subscription gone", func() bool { return e.f.Subscriptions() == 0 })
}

// A NOTIFY answered 481 removes the subscription: no more NOTIFYs.
func TestNotify481RemovesSubscription(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.ua("udp", "watch")
	ctx := ctxT(t, 10*time.Second)
	s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	newWatcher(t, s).next(5 * time.Second)
	s.SetNotifyAnswer(481)
	if _, err := e.reg.Join(ctx, "team", conference.JoinRequest{Nick: "zed", JID: "zed@example.org/x", Text: true, Origin: conference.OriginXMPP}); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "subscription removed", func() bool { return e.f.Subscriptions() == 0 })
	sent := testutil.ToFloat64(e.m.NotifySent.WithLabelValues("conference"))
	if err := e.reg.SetSubject(ctx, "team", "more", conference.Actor{API: true}, conference.OriginAPI); err != nil {
		t.Fatal(err)
	}
	// No NOTIFY to the removed subscriber: one would leave within the
	// notify interval (50 ms in these tests) of the change; 300 ms is six.
	time.Sleep(300 * time.Millisecond)
	if now := testutil.ToFloat64(e.m.NotifySent.WithLabelValues("conference")); now != sent || sent != 2 {
		t.Errorf("NOTIFYs sent: %v then %v, want 2 and no more", sent, now)
	}
}

// Changes within the notify interval are merged: a join storm costs each
// subscriber about one NOTIFY per interval, and the merged state is right.
func TestNotifyThrottle(t *testing.T) {
	const interval = 200 * time.Millisecond
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, interval: interval, rooms: []conference.RoomSpec{{Name: "team"}}})
	u := e.uaAt("udp", "watch", "example.test", true)
	ctx := ctxT(t, 20*time.Second)
	s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 600)
	if err != nil || s.Response.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
	}
	w := newWatcher(t, s)
	w.next(5 * time.Second)
	const n = 100
	start := time.Now()
	for i := range n {
		aorI := "sip:user" + strconv.Itoa(i) + "@example.test"
		if _, err := e.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "User", AOR: aorI, Origin: conference.OriginSIP,
			Audio: &conference.Audio{AOR: aorI, Endpoint: aorI, CallID: "c" + strconv.Itoa(i), JoiningMethod: "dialed-in"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	storm := time.Since(start)
	w.until(10*time.Second, "everyone", func(d *confinfo.Document) bool { return userCount(d) == n })
	// One leading NOTIFY, then at most one per grid-aligned interval (the
	// first window may be up to two intervals), plus slack for the split
	// of a big document.
	limit := 1 + int(storm/interval) + 3
	if w.count-1 > limit {
		t.Errorf("%d NOTIFYs for %d joins in %v (interval %v), want at most %d", w.count-1, n, storm, interval, limit)
	}
	t.Logf("%d joins in %v: %d NOTIFYs (%d over TCP)", n, storm, w.count-1, w.tcp)
	w.none(3 * interval)
}

// A full document over the UDP limit goes over TCP; a subscriber without
// TCP gets UDP-sized documents (a full head, then partials) and still ends
// with the right state.
func TestBigNotify(t *testing.T) {
	e := newEnv(t, envOptions{policy: conference.WatchAnyone, rooms: []conference.RoomSpec{{Name: "team"}}})
	ctx := ctxT(t, 20*time.Second)
	for i := range 30 {
		aorI := "sip:user" + strconv.Itoa(i) + "@example.test"
		if _, err := e.reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "User " + strconv.Itoa(i), AOR: aorI, Origin: conference.OriginSIP,
			Audio: &conference.Audio{AOR: aorI, Endpoint: aorI, CallID: "call-" + strconv.Itoa(i), LocalTag: "l", RemoteTag: "r", JoiningMethod: "dialed-in"}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("tcp", func(t *testing.T) {
		u := e.uaAt("udp", "watch", "example.test", true)
		s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 600)
		if err != nil || s.Response.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
		}
		w := newWatcher(t, s)
		n, _, doc := w.next(5 * time.Second)
		if !strings.EqualFold(n.Transport(), "tcp") || len(n.Body()) < 10000 || doc.State != confinfo.StateFull || len(doc.Users.Users) != 30 {
			t.Errorf("first NOTIFY over %s, %d bytes, %s with %d users", n.Transport(), len(n.Body()), doc.State, len(doc.Users.Users))
		}
		// Small partials keep using UDP.
		if err := e.reg.SetSubject(ctx, "team", "small change", conference.Actor{API: true}, conference.OriginAPI); err != nil {
			t.Fatal(err)
		}
		n, _, _ = w.next(5 * time.Second)
		if !strings.EqualFold(n.Transport(), "udp") {
			t.Errorf("small partial over %s", n.Transport())
		}
	})
	t.Run("udp only", func(t *testing.T) {
		u := e.uaAt("udp", "watch2", "example.test", false)
		s, err := u.Subscribe(ctx, e.target(u, "udp", "team"), "conference", 600)
		if err != nil || s.Response.StatusCode != 200 {
			t.Fatalf("SUBSCRIBE: %v %v", s.Response, err)
		}
		w := newWatcher(t, s)
		w.until(10*time.Second, "30 users", func(d *confinfo.Document) bool {
			return d.Users != nil && len(d.Users.Users) == 30 && userCount(d) == 30
		})
		if w.count < 3 {
			t.Errorf("full state in %d NOTIFYs; expected several UDP-sized ones", w.count)
		}
		if e.f.Subscriptions() != 2 {
			t.Errorf("subscriptions %d", e.f.Subscriptions())
		}
	})
}

// The focus's OPTIONS advertises the conference event package.
func TestOptionsAllowEvents(t *testing.T) {
	e := newEnv(t, envOptions{})
	u := e.ua("udp", "alice")
	res, err := u.Options(ctxT(t, 5*time.Second), u.Target("team", e.udp))
	if err != nil || res.StatusCode != 200 {
		t.Fatal(res, err)
	}
	if h := res.GetHeader("Allow-Events"); h == nil || h.Value() != "conference" {
		t.Errorf("Allow-Events %v", h)
	}
	if h := res.GetHeader("Supported"); h == nil || !strings.Contains(h.Value(), "norefersub") {
		t.Errorf("Supported %v", h)
	}
}
