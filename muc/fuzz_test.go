package muc

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/store"
)

// fuzzSeeds cover every handler path; the fuzzer mutates them.
var fuzzSeeds = []string{
	`<presence from='carol@localhost/r' to='team@conference.localhost/Carol'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='2' maxchars='100' seconds='10' since='2020-01-01T00:00:00Z'/><password>pw</password></x><show>away</show></presence>`,
	`<presence from='bob@localhost/r' to='team@conference.localhost/Robert'/>`,
	`<presence from='bob@localhost/r' to='team@conference.localhost/Bob' type='unavailable'><status>bye</status></presence>`,
	`<presence from='bob@localhost/r' to='team@conference.localhost/Bob' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`,
	`<presence from='x@localhost/r' to='new.room@conference.localhost/X'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
	`<message from='bob@localhost/r' to='team@conference.localhost' type='groupchat' id='m1'><body>hi</body></message>`,
	`<message from='alice@localhost/r' to='team@conference.localhost' type='groupchat'><subject>S</subject></message>`,
	`<message from='bob@localhost/r' to='team@conference.localhost/Alice' type='chat'><body>pm</body></message>`,
	`<message from='bob@localhost/r' to='team@conference.localhost/Carol Phone' type='chat'><body>pm</body></message>`,
	`<message from='alice@localhost/r' to='team@conference.localhost'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='d@localhost'><reason>r</reason></invite></x></message>`,
	`<message from='d@localhost/r' to='team@conference.localhost'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@localhost/r'/></x></message>`,
	`<message from='bob@localhost/r' to='team@conference.localhost/Bob' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='1'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='none'><reason>r</reason></item></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='2'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='bob@localhost' affiliation='outcast'/><item nick='Carol Phone' affiliation='member'/></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='3'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='visitor'/></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='get' id='4'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='owner'/></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='get' id='5'><query xmlns='http://jabber.org/protocol/muc#admin'><item role='participant'/></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='get' id='6'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='7'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_moderatedroom'><value>1</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field><field var='muc#roomconfig_whois'><value>anyone</value></field><field var='{urn:xmpp:cusax:muc}roomconfig_subject'><value>s</value></field></x></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='8'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='b@conference.localhost'><reason>r</reason></destroy></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='9'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='cancel'/></query></iq>`,
	`<iq from='e@localhost/r' to='team@conference.localhost' type='get' id='10'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
	`<iq from='e@localhost/r' to='conference.localhost' type='get' id='11'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
	`<iq from='bob@localhost/r' to='team@conference.localhost/Bob' type='get' id='12'><ping xmlns='urn:xmpp:ping'/></iq>`,
	`<iq from='bob@localhost/r' to='a@b@c' type='get' id='13'><ping xmlns='urn:xmpp:ping'/></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='14'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='sip:carol@example.com' affiliation='outcast'/><item nick='Bob' role='moderator'/></query></iq>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='get' id='15'><query xmlns='http://jabber.org/protocol/muc#admin'><item role='moderator'/></query></iq>`,
	`<message from='d@localhost/x' to='team@conference.localhost'><x xmlns='http://jabber.org/protocol/muc#user'><decline><reason>no</reason></decline></x></message>`,
	`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='16'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_allowpm'><value>none</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field></x></query></iq>`,
	`<presence from='bob@localhost/r' to='team@conference.localhost/Bob'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='1'/></x></presence>`,
}

// fuzzRig is a Service over a registry with a room where alice@localhost/r
// owns and bob@localhost/r participates, beside a SIP caller, with a
// renderer following the events and every stanza sent recorded.
type fuzzRig struct {
	svc    *Service
	reg    *conference.Registry
	stream *conference.Stream
	done   chan struct{}
	mu     sync.Mutex
	out    []*node
}

func fuzzRoom(t testing.TB) *fuzzRig {
	reg := conference.NewRegistry(conference.Options{Store: store.NewMemory(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	svc, err := New(Config{Server: "127.0.0.1:1", Domain: testDomain, SIPDomain: testSIP, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, reg)
	if err != nil {
		t.Fatal(err)
	}
	fr := &fuzzRig{svc: svc, reg: reg, done: make(chan struct{})}
	svc.sendFn = func(n *node) {
		fr.mu.Lock()
		fr.out = append(fr.out, n)
		fr.mu.Unlock()
	}
	fr.stream = reg.Subscribe()
	svc.progress.reset(reg.Seq())
	go func() {
		defer close(fr.done)
		defer svc.progress.stop()
		for ev := range fr.stream.C() {
			svc.renderNext(ev)
		}
	}()
	t.Cleanup(fr.close)
	ctx := context.Background()
	for _, s := range []string{
		`<presence from='alice@localhost/r' to='team@conference.localhost/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
		`<iq from='alice@localhost/r' to='team@conference.localhost' type='set' id='c'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`,
		`<presence from='bob@localhost/r' to='team@conference.localhost/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
		`<message from='alice@localhost/r' to='team@conference.localhost'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='d@localhost'/></x></message>`,
	} {
		n, err := parseNode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		svc.handle(ctx, n)
	}
	if _, err := reg.Join(ctx, "team", conference.JoinRequest{DisplayName: "Carol Phone", AOR: "sip:carol@example.com", Audio: &conference.Audio{}, Origin: conference.OriginSIP}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Post(ctx, "team", mustNick(t, reg, "Bob"), conference.Message{ID: "h1", Body: "history"}, conference.OriginXMPP); err != nil {
		t.Fatal(err)
	}
	fr.settle(t)
	return fr
}

// settle waits until the renderer has rendered every event emitted so far.
func (fr *fuzzRig) settle(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !fr.svc.progress.wait(ctx, fr.reg.Seq()) {
		t.Fatal("renderer stuck")
	}
}

func (fr *fuzzRig) close() {
	fr.stream.Close()
	<-fr.done
}

// sent returns the stanzas sent so far.
func (fr *fuzzRig) sent() []*node {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return append([]*node(nil), fr.out...)
}

func mustNick(t testing.TB, reg *conference.Registry, nick string) string {
	p, ok := reg.ByNick("team", nick)
	if !ok {
		t.Fatalf("no %s", nick)
	}
	return p.ID
}

func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		n, err := parseNode(data)
		if err != nil {
			return
		}
		fr := fuzzRoom(t)
		before := len(fr.sent())
		fr.svc.handle(context.Background(), n)
		fr.settle(t) // everything the stanza caused is rendered
		fr.close()
		for _, o := range fr.sent()[before:] {
			if o.attr("to") == "" || o.attr("from") == "" {
				t.Fatalf("unaddressed stanza: %s", o)
			}
			if from, err := jid.Parse(o.attr("from")); err != nil || from.Domainpart() != testDomain {
				t.Fatalf("stanza sent in another's name: %s", o)
			}
			if s := o.String(); strings.HasPrefix(s, "<!--") {
				t.Fatalf("unserialisable stanza: %s", s)
			}
			if n.attr("type") == "error" && o.attr("type") == "error" && o.attr("to") == n.attr("from") {
				t.Fatalf("answered an error with an error: %s", o)
			}
		}
	})
}

// TestFuzzSeedsAnswerEveryRequest runs the seeds as plain tests: every IQ
// get or set gets exactly one answer with its id.
func TestFuzzSeedsAnswerEveryRequest(t *testing.T) {
	for _, s := range fuzzSeeds {
		fr := fuzzRoom(t)
		n, err := parseNode([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		before := len(fr.sent())
		fr.svc.handle(context.Background(), n)
		fr.settle(t)
		if n.Name.Local != "iq" {
			continue
		}
		answers := 0
		for _, o := range fr.sent()[before:] {
			if o.Name.Local == "iq" && o.attr("id") == n.attr("id") {
				answers++
			}
		}
		if answers != 1 {
			t.Errorf("%d answers to %s", answers, s)
		}
	}
}
