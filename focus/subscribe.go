package focus

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/focus/confstate"
	"cusax.dev/bridge/metrics"
)

// Event packages the focus serves or uses.
const (
	eventConference = "conference" // RFC 4575, served
	eventRefer      = "refer"      // RFC 3515, implicit REFER subscriptions
)

// subKey identifies a subscription: its dialog and the Event id parameter
// (RFC 6665 §4.5.2: several subscriptions may share a dialog).
type subKey struct {
	dialogKey
	id string
}

// endReason says why a subscription ends, which decides the final NOTIFY.
type endReason int

const (
	endNone endReason = iota
	// endTimeout: unsubscribed (Expires: 0) or expired. Final state,
	// terminated;reason=timeout (RFC 6665 §4.2.1.4: an unsubscribe is an
	// expiry brought forward; the subscriber may subscribe again).
	endTimeout
	// endRejected: the subscriber was ejected and the policy admits only
	// participants. Final state, terminated;reason=rejected.
	endRejected
	// endNoResource: the conference ended or the focus shuts down. A root
	// state="deleted" document, terminated;reason=noresource (RFC 4575
	// §3.3).
	endNoResource
)

// subscription is one RFC 4575 conference subscription: its dialog (its
// own, or the subscriber's INVITE dialog when it subscribed inside its
// call), its View of the conference's feed, and the goroutine (serve) that
// sends its NOTIFYs in order. Everything but the fields under mu is fixed
// at creation or owned by serve.
type subscription struct {
	key    subKey
	room   string
	event  eventHeader
	dlg    *dialog
	inCall bool   // dlg is the subscriber's INVITE dialog
	pid    string // the subscriber's participant ID, when recognised
	owner  string // whom the per-subscriber limit counts: pid, else the From AOR
	source string // the subscriber's IP address, for the per-source limit
	feed   *feed
	wake   chan struct{} // capacity 1: something changed, look again
	done   chan struct{} // closed when serve has returned

	// Owned by serve.
	view      *confstate.View
	udpOnly   bool // TCP to the subscriber failed: documents are cut to UDP size
	headerLen int  // size of the last NOTIFY without its body

	mu       sync.Mutex
	expires  time.Time
	fetch    bool   // the creating SUBSCRIBE had Expires: 0 (RFC 6665 §4.2.1.1)
	refresh  bool   // a refreshing SUBSCRIBE wants full state
	retryTCP bool   // a refresh lets serve try TCP again for big documents
	resync   bool   // a NOTIFY failed temporarily: send full state next,
	lost     uint32 // numbered from the version it carried
	end      endReason
}

// poke makes serve look at the subscription again.
func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// terminate asks serve to end the subscription (the first reason wins).
func (s *subscription) terminate(r endReason) {
	s.mu.Lock()
	if s.end == endNone {
		s.end = r
	}
	s.mu.Unlock()
	s.poke()
}

// feed is one conference's published state, shared by its subscriptions.
type feed struct {
	room string
	mu   sync.Mutex                 // orders the snapshots put into f
	f    *confstate.Feed            // nil until the first snapshot
	subs map[*subscription]struct{} // guarded by subTable.mu
}

// subTable holds the conference subscriptions by key and their feeds by
// room. It is safe for concurrent use.
type subTable struct {
	mu       sync.Mutex
	byKey    map[subKey]*subscription
	feeds    map[string]*feed
	limits   SubscriptionLimits
	byOwner  map[string]int
	bySource map[string]int
	closed   bool
	wg       sync.WaitGroup // running serve loops
}

func newSubTable() *subTable {
	return &subTable{byKey: map[subKey]*subscription{}, feeds: map[string]*feed{},
		byOwner: map[string]int{}, bySource: map[string]int{}}
}

// add inserts s, attaches it to its room's feed (created when missing) and
// counts a serve loop. It returns "" when added, errSubTaken once the
// table is closed or the key is taken, or the metrics.RefuseSub* reason of
// the limit s would exceed.
func (t *subTable) add(s *subscription) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.byKey[s.key] != nil {
		return errSubTaken
	}
	switch l := t.limits; {
	case l.Total > 0 && len(t.byKey) >= l.Total:
		return metrics.RefuseSubGlobal
	case l.PerSource > 0 && s.source != "" && t.bySource[s.source] >= l.PerSource:
		return metrics.RefuseSubSource
	case l.PerSubscriber > 0 && s.owner != "" && t.byOwner[s.owner] >= l.PerSubscriber:
		return metrics.RefuseSubParticipant
	}
	if s.owner != "" {
		t.byOwner[s.owner]++
	}
	if s.source != "" {
		t.bySource[s.source]++
	}
	fd := t.feeds[s.room]
	if fd == nil {
		fd = &feed{room: s.room, subs: map[*subscription]struct{}{}}
		t.feeds[s.room] = fd
	}
	fd.subs[s] = struct{}{}
	s.feed = fd
	t.byKey[s.key] = s
	t.wg.Add(1)
	return ""
}

// errSubTaken is subTable.add's answer for a closed table or a taken key.
const errSubTaken = "taken"

// uncount gives back s's places in the limits. Called with t.mu held.
func (t *subTable) uncount(s *subscription) {
	if s.owner != "" {
		if t.byOwner[s.owner]--; t.byOwner[s.owner] <= 0 {
			delete(t.byOwner, s.owner)
		}
	}
	if s.source != "" {
		if t.bySource[s.source]--; t.bySource[s.source] <= 0 {
			delete(t.bySource, s.source)
		}
	}
}

// remove takes s out; the feed goes with its last subscription. It does not
// touch the serve count.
func (t *subTable) remove(s *subscription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey[s.key] != s {
		return false
	}
	delete(t.byKey, s.key)
	t.uncount(s)
	if fd := s.feed; fd != nil {
		delete(fd.subs, s)
		if len(fd.subs) == 0 && t.feeds[fd.room] == fd {
			delete(t.feeds, fd.room)
		}
	}
	return true
}

func (t *subTable) get(k subKey) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[k]
}

// feedOf returns the feed of room, or nil when nobody subscribes to it.
func (t *subTable) feedOf(room string) *feed {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.feeds[room]
}

// room returns the subscriptions to room.
func (t *subTable) room(name string) []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	fd := t.feeds[name]
	if fd == nil {
		return nil
	}
	out := make([]*subscription, 0, len(fd.subs))
	for s := range fd.subs {
		out = append(out, s)
	}
	return out
}

func (t *subTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

// close refuses further subscriptions and returns the present ones.
func (t *subTable) close() []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	out := make([]*subscription, 0, len(t.byKey))
	for _, s := range t.byKey {
		out = append(out, s)
	}
	return out
}

// Subscriptions returns how many conference subscriptions the focus holds.
func (f *Focus) Subscriptions() int { return f.subs.len() }

// updateFeed puts the conference's current state into fd (creating its
// confstate.Feed on first use) and returns the feed. Snapshots are taken
// under fd.mu, so the feed never goes back to an older state. fallback is
// used when the conference is not live (it ended meanwhile).
func (f *Focus) updateFeed(fd *feed, fallback *conference.Snapshot) *confstate.Feed {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var snap conference.Snapshot
	switch c := f.reg.Lookup(fd.room); {
	case c != nil:
		snap = c.Snapshot()
	case fallback != nil:
		snap = *fallback
	default:
		return fd.f
	}
	if fd.f == nil {
		fd.f = confstate.NewFeed(f.render, snap)
	} else {
		fd.f.Set(snap)
	}
	return fd.f
}

// onSubscribe serves SUBSCRIBE (RFC 6665) for the conference event package
// (RFC 4575) at a conference URI.
//
// Without a To-tag it creates a subscription with its own dialog. With one
// it refreshes (or, with Expires: 0, ends) the subscription of that dialog
// and Event id, or creates a subscription inside the subscriber's INVITE
// dialog (dialog reuse); any other dialog is 481.
//
// Answers: 489 (with Allow-Events) for another or a missing event package,
// 406 when Accept excludes application/conference-info+xml, 404 for a room
// that does not exist, 403 when the policy refuses, else 200 with the
// isfocus Contact and the granted Expires (at most SubscriptionExpires), and
// at once a NOTIFY with full state.
//
// Who may subscribe is the core's rule (Registry.MayWatch). The focus only
// recognises the subscriber: it is a participant
// when it subscribes inside its own call's dialog, or when its From AOR is
// the AOR of a call in the conference (as claimed in that call's From or as
// authenticated by digest) and the SUBSCRIBE comes from the same IP address
// as that call's signalling. The From alone is not trusted: anyone can
// write any From, but not easily from a participant's address. The
// subscription then belongs to that participant and ends (reason=rejected)
// if the participant is ejected. A subscription otherwise outlives its
// subscriber's call (RFC 4579 §3.4) until it expires or is ended.
func (f *Focus) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if req.From() == nil || req.To() == nil || req.CSeq() == nil || req.CallID() == nil {
		f.reply(tx, req, 400, "Bad Request", nil)
		return
	}
	evs := headerValues(req, "Event", "o")
	var ev eventHeader
	ok := len(evs) == 1
	if ok {
		ev, ok = parseEvent(evs[0])
	}
	if !ok || ev.pkg != eventConference {
		f.reply(tx, req, 489, "Bad Event", nil, sip.NewHeader("Allow-Events", eventConference))
		return
	}
	if !acceptsConferenceInfo(headerValues(req, "Accept", "")) {
		f.reply(tx, req, 406, "Not Acceptable", nil, sip.NewHeader("Accept", conferenceInfoType))
		return
	}
	expires, ok := f.requestedExpires(req)
	if !ok {
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, "Bad Expires header"))
		return
	}
	if req.To().Params.Has("tag") {
		f.onSubscribeInDialog(req, tx, ev, expires)
		return
	}
	if f.stopping() {
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
		return
	}
	room, code, reason := f.roomOf(req.Recipient)
	if code != 0 {
		f.reply(tx, req, code, reason, nil)
		return
	}
	snap, ok := f.subscribable(req, tx, room)
	if !ok {
		return
	}
	pid, _ := f.subscriberOf(req, room)
	if !f.reg.MayWatch(room, conference.Actor{ParticipantID: pid}) {
		f.log.Info("SUBSCRIBE refused: not a participant", "room", room, "from", aor(req.From().Address), "source", req.Source())
		f.reply(tx, req, 403, "Forbidden", nil, f.warning(399, "Only participants may subscribe"))
		return
	}
	dlg, err := newDialog(req, sip.GenerateTagN(16))
	if err != nil {
		f.reply(tx, req, 400, "Bad Request", nil, f.warning(399, err.Error()))
		return
	}
	dlg.contact = f.contactTo(room, req)
	f.noteRouteSet(req, dlg)
	f.startSubscription(req, tx, &subscription{room: room, event: ev, dlg: dlg, pid: pid}, snap, expires)
}

// subscribable answers 404/503/500 unless room exists (live, declared or
// persisted) and returns its state.
func (f *Focus) subscribable(req *sip.Request, tx sip.ServerTransaction, room string) (conference.Snapshot, bool) {
	ctx, cancel := f.coreCtx()
	defer cancel()
	snap, err := f.reg.Snapshot(ctx, room)
	if err != nil {
		code, reason := joinStatus(err)
		if code == 403 {
			code, reason = 404, "Not Found"
		}
		f.reply(tx, req, code, reason, nil)
		return conference.Snapshot{}, false
	}
	return snap, true
}

// onSubscribeInDialog handles a SUBSCRIBE with a To-tag: a refresh or an
// unsubscribe of an existing subscription, or a new subscription inside the
// subscriber's call.
func (f *Focus) onSubscribeInDialog(req *sip.Request, tx sip.ServerTransaction, ev eventHeader, expires time.Duration) {
	key, _ := keyOf(req)
	if s := f.subs.get(subKey{key, ev.id}); s != nil {
		if err := s.dlg.accept(req); err != nil {
			f.refuseInDialog(req, tx, s.dlg, err)
			return
		}
		s.dlg.refreshTarget(req)
		res := f.response(req, 200, "OK", nil, f.contactTo(s.room, req),
			sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		f.capabilities(res)
		s.mu.Lock()
		ending := s.end != endNone
		s.mu.Unlock()
		if ending {
			f.reply(tx, req, 481, "Subscription Does Not Exist", nil)
			return
		}
		f.send(tx, req, res)
		if expires == 0 {
			s.terminate(endTimeout)
			return
		}
		s.mu.Lock()
		s.expires = time.Now().Add(expires)
		s.refresh, s.retryTCP = true, true
		s.mu.Unlock()
		s.poke()
		return
	}
	c, ok := f.inDialogCall(req, tx)
	if !ok {
		return
	}
	if f.stopping() {
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter())
		return
	}
	snap, ok := f.subscribable(req, tx, c.room)
	if !ok {
		return
	}
	// A participant subscribing inside its own call (inDialogCall checked
	// that the SUBSCRIBE comes from the call's peer): always admitted.
	f.startSubscription(req, tx, &subscription{room: c.room, event: ev, dlg: c.dlg, inCall: true, pid: c.pid}, snap, expires)
}

// startSubscription registers s, answers 200 and starts its serve loop,
// which sends the first NOTIFY at once.
func (f *Focus) startSubscription(req *sip.Request, tx sip.ServerTransaction, s *subscription, snap conference.Snapshot, expires time.Duration) {
	s.key = subKey{s.dlg.key, s.event.id}
	s.wake = make(chan struct{}, 1)
	s.done = make(chan struct{})
	s.expires = time.Now().Add(expires)
	s.fetch = expires == 0
	if s.owner = s.pid; s.owner == "" {
		s.owner = aor(req.From().Address)
	}
	s.source = sourceIP(req)
	if why := f.subs.add(s); why != "" {
		if why != errSubTaken {
			f.m.Refuse(why)
			f.log.Info("SUBSCRIBE refused: subscription limit", "limit", why, "room", s.room, "subscriber", s.owner, "source", req.Source())
		}
		f.reply(tx, req, 503, "Service Unavailable", nil, f.retryAfter(), f.warning(399, "Too many subscriptions"))
		return
	}
	s.view = confstate.NewView(f.updateFeed(s.feed, &snap), f.cfg.NotifyInterval)
	res := f.response(req, 200, "OK", nil, f.contactTo(s.room, req),
		sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	if !s.inCall {
		res.To().Params.Add("tag", s.dlg.key.localTag)
	}
	f.capabilities(res)
	if err := f.send(tx, req, res); err != nil {
		f.subs.remove(s)
		f.subs.wg.Done()
		return
	}
	if f.m != nil {
		f.m.SubscriptionsActive.Inc()
	}
	f.log.Info("conference subscription", "room", s.room, "call-id", s.key.callID, "expires", expires,
		"in-call", s.inCall, "participant", s.pid)
	go f.safely("conference subscription", func() { f.serve(s) })
}

// requestedExpires is the lifetime a SUBSCRIBE asks for: its Expires
// (default SubscriptionExpires), capped at SubscriptionExpires. False for
// an unreadable Expires.
func (f *Focus) requestedExpires(req *sip.Request) (time.Duration, bool) {
	vs := headerValues(req, "Expires", "")
	if len(vs) == 0 {
		return f.cfg.SubscriptionExpires, true
	}
	n, ok := parseExpires(vs[0])
	if !ok || len(vs) > 1 {
		return 0, false
	}
	d := time.Duration(n) * time.Second
	if d > f.cfg.SubscriptionExpires || d < 0 {
		d = f.cfg.SubscriptionExpires
	}
	return d.Truncate(time.Second), true
}

// subscriberOf finds the participant a SUBSCRIBE comes from (see
// onSubscribe): a call in room whose AOR is the From's and whose
// signalling comes from the same IP address.
func (f *Focus) subscriberOf(req *sip.Request, room string) (string, bool) {
	from := aor(req.From().Address)
	host := sourceHost(req.Source())
	for _, c := range f.calls.room(room) {
		p, present := f.reg.Participant(room, c.pid)
		if !present {
			continue
		}
		c.dlg.mu.Lock()
		src := c.dlg.source
		c.dlg.mu.Unlock()
		if (conference.SameAOR(from, p.AOR) || conference.SameAOR(from, aor(c.dlg.remote))) && host != "" && sourceHost(src) == host {
			return c.pid, true
		}
	}
	return "", false
}

// sourceHost is the IP of a "host:port" source address.
func sourceHost(src string) string {
	h, _, err := net.SplitHostPort(src)
	if err != nil {
		return ""
	}
	return h
}

// followSubscriptions renders one core event for the subscriptions: a new
// state for the conference's feed and a nudge to each of its subscriptions,
// which send (throttled) on their own goroutines; terminations on
// conference end and when an ejected participant may no longer subscribe.
// It never blocks on the network.
func (f *Focus) followSubscriptions(ev conference.Event) {
	if ev.Kind == conference.ConferenceEnded {
		for _, s := range f.subs.room(ev.Conference) {
			s.terminate(endNoResource)
		}
		return
	}
	if !confstate.Affects(ev.Kind) {
		return
	}
	fd := f.subs.feedOf(ev.Conference)
	if fd == nil {
		return
	}
	f.updateFeed(fd, nil)
	gone := ""
	if (ev.Kind == conference.Kicked || ev.Kind == conference.Banned) && !f.reg.MayWatch(ev.Conference, conference.Actor{ParticipantID: ev.Participant.ID}) {
		gone = ev.Participant.ID // ejected: a stranger now, if strangers may not watch
	}
	for _, s := range f.subs.room(ev.Conference) {
		if gone != "" && s.pid == gone {
			s.terminate(endRejected)
			continue
		}
		s.poke()
	}
}

// endSubscriptions terminates every subscription (shutdown) and waits,
// bounded by ctx, for their final NOTIFYs.
func (f *Focus) endSubscriptions(ctx context.Context) {
	for _, s := range f.subs.close() {
		s.terminate(endNoResource)
	}
	if !waitCtx(ctx, &f.subs.wg) {
		f.log.Warn("conference subscriptions still ending at shutdown")
	}
}

// SubscriptionLimits bound the conference subscriptions (sip.subscriptions);
// a SUBSCRIBE over one gets 503 with Retry-After. Zero fields take the
// defaults; negative ones mean no limit.
type SubscriptionLimits struct {
	// PerSubscriber bounds the subscriptions of one subscriber: one
	// participant (recognised as in onSubscribe), else one From AOR.
	// Default 4.
	PerSubscriber int
	// PerSource bounds the subscriptions from one IP address. Default 64.
	PerSource int
	// Total bounds all subscriptions. Default 10000.
	Total int
}

func (l SubscriptionLimits) withDefaults() SubscriptionLimits {
	def := func(v *int, d int) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	def(&l.PerSubscriber, 4)
	def(&l.PerSource, 64)
	def(&l.Total, 10000)
	return l
}
