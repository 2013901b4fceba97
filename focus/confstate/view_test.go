package confstate

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/confinfo"
)

func TestViewInitial(t *testing.T) {
	f := NewFeed(renderer, room(3))
	v := NewView(f, time.Second)
	if v.Version() != 0 || v.Pending() {
		t.Fatalf("before Initial: version %d pending %v", v.Version(), v.Pending())
	}
	// Changes before Initial are not the view's business.
	f.Set(room(1))
	if docs, at := v.Update(t0); docs != nil || !at.IsZero() {
		t.Fatalf("Update before Initial: %v %v", docs, at)
	}
	f.Set(room(3))
	docs := v.Initial(t0)
	if len(docs) != 1 || docs[0].Version != 1 || docs[0].State != confinfo.StateFull {
		t.Fatalf("Initial: %v", docs)
	}
	if len(docs[0].Users.Users) != 3 || v.Version() != 1 || v.Pending() {
		t.Fatalf("Initial users %d version %d pending %v", len(docs[0].Users.Users), v.Version(), v.Pending())
	}
	if f.ConferenceURI() != "sip:team@conf.example.com" || f.Renderer() != renderer {
		t.Errorf("feed: %q %+v", f.ConferenceURI(), f.Renderer())
	}
}

// TestFeedSharing: views in step share the feed's rendering and diff; each
// gets its own version numbers.
func TestFeedSharing(t *testing.T) {
	s := room(20)
	f := NewFeed(renderer, s)
	views := make([]*View, 5)
	subs := make([]*subscriber, 5)
	for i := range views {
		views[i] = NewView(f, time.Second)
		subs[i] = &subscriber{t: t}
		// Subscriptions start at different times and versions.
		at := t0.Add(50*time.Millisecond + time.Duration(i)*100*time.Millisecond)
		for range i {
			subs[i].apply(views[i].Initial(at))
		}
		subs[i].apply(views[i].Initial(at))
	}
	cur := f.Current()
	if f.Current() != cur {
		t.Fatal("feed re-rendered without a change")
	}
	// A change inside everyone's window: all are due at the same grid time.
	s = clone(s)
	s.Participants[3].Muted = true
	f.Set(s)
	var due time.Time
	for i, v := range views {
		docs, at := v.Update(t0.Add(450 * time.Millisecond))
		if docs != nil || at.IsZero() || (i > 0 && !at.Equal(due)) {
			t.Fatalf("view %d: %v, due %v (others %v)", i, docs, at, due)
		}
		due = at
	}
	if !due.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("due %v, want the grid point %v", due, t0.Add(2*time.Second))
	}
	var first *confinfo.Document
	for i, v := range views {
		docs, _ := v.Update(due)
		if len(docs) != 1 {
			t.Fatalf("view %d: %d documents", i, len(docs))
		}
		if want := uint32(i + 2); docs[0].Version != want {
			t.Errorf("view %d: version %d, want %d", i, docs[0].Version, want)
		}
		if i == 0 {
			first = docs[0]
		} else if docs[0].Users != first.Users {
			t.Errorf("view %d: diff not shared", i)
		}
		subs[i].apply(docs)
		subs[i].converged(s)
	}
	if f.Current() == cur {
		t.Error("feed did not re-render after Set")
	}
}

func TestViewThrottle(t *testing.T) {
	sub := &subscriber{t: t}
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
	s := room(2)
	sub.apply(initial(v, t0, s))

	// Within the window: nothing now, a flush time, changes remembered.
	s = clone(s)
	s.Participants = append(s.Participants, caller(2))
	docs, at := upd(v, t0.Add(10*time.Millisecond), s)
	if docs != nil || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("Update in window: %v, flush at %v", docs, at)
	}
	s = clone(s)
	s.Participants[0].Muted = true
	s.Subject = "New agenda"
	if docs, at2 := upd(v, t0.Add(20*time.Millisecond), s); docs != nil || !at2.Equal(at) {
		t.Fatalf("second Update in window: %v, flush at %v", docs, at2)
	}
	if !v.Pending() {
		t.Fatal("not pending")
	}
	// An early timer gets the same due time again.
	if docs, at3 := v.Update(t0.Add(500 * time.Millisecond)); docs != nil || !at3.Equal(at) {
		t.Fatalf("early Flush: %v, %v", docs, at3)
	}
	// On time: one partial with everything, version +1.
	docs, at = v.Update(at)
	if len(docs) != 1 || !at.IsZero() {
		t.Fatalf("Flush: %v, %v", docs, at)
	}
	d := docs[0]
	if d.State != confinfo.StatePartial || d.Version != 2 || d.Description == nil || d.Description.Subject != "New agenda" ||
		len(d.Users.Users) != 2 || d.ConferenceState == nil || *d.ConferenceState.UserCount != 3 {
		t.Fatalf("merged partial:\n%s", d)
	}
	sub.apply(docs)
	sub.converged(s)
	if v.Pending() {
		t.Fatal("still pending after flush")
	}
	// Nothing pending: a stray timer sends nothing.
	if docs, at := v.Update(t0.Add(3 * time.Second)); docs != nil || !at.IsZero() {
		t.Fatalf("stray Flush: %v %v", docs, at)
	}
	// After a quiet window a change goes out at once (leading edge).
	s = clone(s)
	leave(&s, "p0", conference.Departed, "", t0.Add(5*time.Second))
	docs, at = upd(v, t0.Add(5*time.Second), s)
	if len(docs) != 1 || !at.IsZero() || docs[0].Version != 3 {
		t.Fatalf("leading edge: %v %v", docs, at)
	}
	sub.apply(docs)
	sub.converged(s)
}

func TestViewNoThrottle(t *testing.T) {
	sub := &subscriber{t: t}
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), 0)
	s := room(1)
	sub.apply(initial(v, t0, s))
	for i := 1; i < 5; i++ {
		s = clone(s)
		s.Participants = append(s.Participants, caller(i))
		docs, at := upd(v, t0, s)
		if len(docs) != 1 || !at.IsZero() {
			t.Fatalf("update %d: %v %v", i, docs, at)
		}
		sub.apply(docs)
		sub.converged(s)
	}
}

func TestViewInvisibleChanges(t *testing.T) {
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
	s := room(2)
	initial(v, t0, s)
	// Speaking and nick changes are not in the document.
	s2 := clone(s)
	s2.Participants[0].Speaking = true
	s2.Participants[1].Nick = "renamed"
	if docs, at := upd(v, t0.Add(2*time.Second), s2); docs != nil || !at.IsZero() {
		t.Fatalf("invisible change sent: %v %v", docs, at)
	}
	// A real change opens a window; a mute undone inside it sends nothing.
	s.Subject = "changed"
	if docs, _ := upd(v, t0.Add(2*time.Second), s); len(docs) != 1 {
		t.Fatalf("subject change: %v", docs)
	}
	s3 := clone(s)
	s3.Participants[0].Muted = true
	if docs, at := upd(v, t0.Add(2100*time.Millisecond), s3); docs != nil || at.IsZero() {
		t.Fatalf("in-window update: %v %v", docs, at)
	}
	docs, at := upd(v, t0.Add(2200*time.Millisecond), s)
	if docs != nil || !at.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("in-window update: %v %v", docs, at)
	}
	if docs, _ := v.Update(at); docs != nil {
		t.Fatalf("undone change sent: %v", docs)
	}
	if v.Version() != 2 {
		t.Fatalf("version %d, want 2", v.Version())
	}
}

func TestViewRefreshFinalEnded(t *testing.T) {
	sub := &subscriber{t: t}
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
	s := room(3)
	sub.apply(initial(v, t0, s))

	// A pending change is included in the refresh, which is full and +1.
	s = clone(s)
	s.Participants[1].Audio.OnHold = true
	if docs, _ := upd(v, t0.Add(time.Millisecond), s); docs != nil {
		t.Fatal("sent inside the window")
	}
	docs := refresh(v, t0.Add(2*time.Millisecond), s)
	if len(docs) != 1 || docs[0].State != confinfo.StateFull || docs[0].Version != 2 {
		t.Fatalf("Refresh: %v", docs)
	}
	sub.apply(docs)
	sub.converged(s)
	if v.Pending() {
		t.Fatal("refresh left the change pending")
	}

	// Final with nothing new: a tiny partial so the NOTIFY has a body.
	docs = final(v, t0.Add(3*time.Millisecond), s)
	if len(docs) != 1 || docs[0].State != confinfo.StatePartial || docs[0].Version != 3 ||
		docs[0].ConferenceState == nil || docs[0].Users != nil || docs[0].Description != nil {
		t.Fatalf("Final without changes: %v", docs)
	}
	sub.apply(docs)
	sub.converged(s)

	// Final with a change ignores the throttle.
	s = clone(s)
	leave(&s, "p2", conference.Booted, "sip:mod@example.com", t0)
	docs = final(v, t0.Add(4*time.Millisecond), s)
	if len(docs) != 1 || docs[0].Version != 4 || docs[0].Users == nil {
		t.Fatalf("Final with a change: %v", docs)
	}
	sub.apply(docs)
	sub.converged(s)

	// The conference ends.
	d := v.Ended(t0.Add(5 * time.Millisecond))
	if d.State != confinfo.StateDeleted || d.Version != 5 || d.Entity != "sip:team@conf.example.com" {
		t.Fatalf("Ended: %s", d)
	}
	sub.apply([]*confinfo.Document{d})
	if !sub.st.Ended() {
		t.Fatal("subscriber does not see the end")
	}
}

func TestViewEndedBeforeInitial(t *testing.T) {
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "gone"}), time.Second)
	d := v.Ended(t0)
	if d.Entity != "sip:gone@conf.example.com" || d.Version != 1 || d.State != confinfo.StateDeleted {
		t.Fatalf("Ended: %s", d)
	}
	// Final before Initial gives full state.
	w := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
	docs := final(w, t0, room(1))
	if len(docs) != 1 || docs[0].State != confinfo.StateFull || docs[0].Version != 1 {
		t.Fatalf("Final before Initial: %v", docs)
	}
}

// TestViewBigRoomUDP is the 60+ participant big-document path: a UDP-only
// subscriber gets full state and a 60-person join storm in documents that
// each fit the budget, without version gaps, and ends with exactly the
// conference's state.
func TestViewBigRoomUDP(t *testing.T) {
	for _, budget := range []int{UDPBudget, 1300, 4000} {
		t.Run(strconv.Itoa(budget), func(t *testing.T) {
			sub := &subscriber{t: t, budget: budget}
			v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), time.Second)
			v.SetBudget(budget)
			s := room(64)
			s.Config.MaxParticipants = 200
			docs := initial(v, t0, s)
			if len(docs) < 2 || docs[0].State != confinfo.StateFull {
				t.Fatalf("Initial of 64 users in %d bytes: %d documents", budget, len(docs))
			}
			sub.apply(docs)
			sub.converged(s)

			// 60 more join, 10 leave, one is muted, all inside one window.
			now := t0.Add(10 * time.Millisecond)
			var flushAt time.Time
			for i := 64; i < 124; i++ {
				s = clone(s)
				s.Participants = append(s.Participants, caller(i))
				if i%6 == 0 {
					leave(&s, "p"+strconv.Itoa(i-60), conference.Departed, "", now)
				}
				if i == 100 {
					s.Participants[3].Muted = true
				}
				docs, at := upd(v, now, s)
				if docs != nil {
					t.Fatalf("storm update %d sent inside the window", i)
				}
				flushAt = at
				now = now.Add(time.Millisecond)
			}
			docs, _ = v.Update(flushAt)
			if len(docs) < 2 {
				t.Fatalf("storm of 60 in %d bytes: %d documents", budget, len(docs))
			}
			sub.apply(docs)
			sub.converged(s)
			t.Logf("budget %d: %d documents in all for %d users", budget, sub.docs, len(s.Participants)+len(s.Departed))

			// Going to TCP: no budget, one document per batch again.
			v.SetBudget(0)
			s = clone(s)
			s.Participants[5].Muted = true
			docs, _ = upd(v, flushAt.Add(time.Hour), s)
			if len(docs) != 1 {
				t.Fatalf("unbudgeted update: %d documents", len(docs))
			}
			sub.budget = 0
			sub.apply(docs)
			sub.converged(s)
		})
	}
}

// TestViewWithRegistry drives a real conference core and follows its
// events: callers join, one mutes, one is held, one is kicked, one hangs
// up, a MUC occupant joins; after every event the subscriber's state equals
// Full(snapshot).
func TestViewWithRegistry(t *testing.T) {
	ctx := context.Background()
	reg := conference.NewRegistry(conference.Options{Now: func() time.Time { return t0 }})
	stream := reg.SubscribeConference("team")
	defer stream.Close()

	join := func(i int) string {
		p := caller(i)
		res, err := reg.Join(ctx, "team", conference.JoinRequest{DisplayName: p.DisplayName, AOR: p.AOR, Audio: p.Audio, Origin: conference.OriginSIP})
		if err != nil {
			t.Fatal(err)
		}
		return res.Participant.ID
	}
	ids := []string{join(1), join(2), join(3), join(4)}

	sub := &subscriber{t: t}
	v := NewView(NewFeed(renderer, conference.Snapshot{Name: "team"}), 0)
	snap, err := reg.Snapshot(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	sub.apply(initial(v, t0, snap))
	sub.converged(snap)

	steps := []func(){
		func() {
			if err := reg.Mute(ctx, "team", ids[0], true, conference.Actor{ParticipantID: ids[0]}, conference.OriginDTMF, ""); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := reg.UpdateAudio(ctx, "team", ids[1], func(a *conference.Audio) { a.OnHold = true }); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := reg.Kick(ctx, "team", ids[2], conference.Actor{API: true, Name: "sip:mod@example.com"}, conference.OriginAPI, "rude"); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := reg.Leave(ctx, "team", ids[3], conference.Departed, conference.OriginSIP); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if _, err := reg.Join(ctx, "team", conference.JoinRequest{Nick: "dan", JID: "dan@chat.example.com/x", Text: true, Origin: conference.OriginXMPP}); err != nil {
				t.Fatal(err)
			}
		},
		func() {
			if err := reg.SetSubject(ctx, "team", "Retro", conference.Actor{API: true}, conference.OriginAPI); err != nil {
				t.Fatal(err)
			}
		},
	}
	for i, step := range steps {
		step()
		for {
			var ev conference.Event
			select {
			case ev = <-stream.C():
			case <-time.After(time.Second):
				t.Fatalf("step %d: no event", i)
			}
			if !Affects(ev.Kind) {
				continue
			}
			snap, err := reg.Snapshot(ctx, "team")
			if err != nil {
				t.Fatal(err)
			}
			docs, _ := upd(v, t0, snap)
			sub.apply(docs)
			sub.converged(snap)
			if ev.Kind != conference.Joined || i == 4 {
				break
			}
		}
	}
	held := sub.st.Document()
	kicked := held.User("sip:user3@example.com")
	if kicked == nil || len(kicked.Endpoints) != 1 {
		t.Fatalf("kicked user missing: %s", held)
	}
	ep := kicked.Endpoints[0]
	if ep.Status != confinfo.StatusDisconnected || ep.DisconnectionMethod != confinfo.DisconnectBooted ||
		ep.DisconnectionInfo == nil || ep.DisconnectionInfo.By != "sip:mod@example.com" || ep.DisconnectionInfo.Reason != "rude" {
		t.Errorf("kicked endpoint: %+v %+v", ep, ep.DisconnectionInfo)
	}
	if m := held.User("sip:user1@example.com").Endpoints[0]; m.Status != confinfo.StatusMutedViaFocus || m.Media[0].Status != confinfo.MediaRecvOnly {
		t.Errorf("muted endpoint: %+v", m)
	}
	if h := held.User("sip:user2@example.com").Endpoints[0]; h.Status != confinfo.StatusOnHold {
		t.Errorf("held endpoint: %+v", h)
	}
	// A chat user of a semi-anonymous room (the default) is anonymous.
	var dan *confinfo.User
	for i := range held.Users.Users {
		if u := &held.Users.Users[i]; u.DisplayText == "dan" {
			dan = u
		}
	}
	if dan == nil || len(dan.Endpoints) != 0 || !strings.HasPrefix(dan.Entity, "sip:anonymous") || dan.AssociatedAORs != nil {
		t.Errorf("MUC occupant: %+v", dan)
	}
	if *held.ConferenceState.UserCount != 3 || held.Description.Subject != "Retro" {
		t.Errorf("state: count %d subject %q", *held.ConferenceState.UserCount, held.Description.Subject)
	}
}

// Documents that never reached the subscriber are handed out again as full
// state from the first lost version: the subscriber sees no gap.
func TestViewResync(t *testing.T) {
	sub := &subscriber{t: t}
	f := NewFeed(renderer, conference.Snapshot{Name: "team"})
	v := NewView(f, time.Second)
	s := room(2)
	sub.apply(initial(v, t0, s))
	sub.budget = UDPBudget

	s = room(12)
	lost, _ := upd(v, t0.Add(2*time.Second), s)
	if len(lost) != 1 || lost[0].Version != 2 {
		t.Fatalf("update: %v", lost)
	}
	// The big partial could not be sent; the view is cut to UDP size and
	// resynchronised from version 2.
	v.SetBudget(UDPBudget)
	docs := v.Resync(t0.Add(2*time.Second), lost[0].Version)
	if len(docs) < 2 || docs[0].Version != 2 || docs[0].State != confinfo.StateFull {
		t.Fatalf("Resync: %d documents, first v%d %s", len(docs), docs[0].Version, docs[0].State)
	}
	sub.apply(docs)
	sub.converged(s)
	if v.Version() != docs[len(docs)-1].Version {
		t.Errorf("version %d after resync", v.Version())
	}
	// A version never handed out acts as Refresh.
	if docs := v.Resync(t0.Add(3*time.Second), 999); docs[0].Version != v.Version()-uint32(len(docs))+1 || docs[0].Version <= lost[0].Version {
		t.Errorf("Resync beyond the last version numbered from %d", docs[0].Version)
	}
}
