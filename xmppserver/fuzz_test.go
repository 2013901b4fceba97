package xmppserver

import (
	"context"
	"encoding/xml"
	"net"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"
)

// FuzzReadElem: any input either fails to parse or yields a tree that
// renders and parses back to the same rendering, within the depth bound.
func FuzzReadElem(f *testing.F) {
	for _, s := range []string{
		`<message to='a@b'><body>hi</body></message>`,
		`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='x@y'><group>g</group></item></query></iq>`,
		`<a><b><c><d/></c></b></a>`,
		`<x xmlns='vcard-temp'><TEL><NUMBER>sip:a@b</NUMBER></TEL></x>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := xml.NewDecoder(strings.NewReader(s))
		var start xml.StartElement
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if st, ok := tok.(xml.StartElement); ok {
				start = st
				break
			}
		}
		e, err := readElem(d, start)
		if err != nil {
			return
		}
		out := e.String()
		if out == "" {
			return // not representable (e.g. invalid names)
		}
		e2, err := parseElem(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if again := e2.String(); again != out {
			t.Fatalf("rendering not stable: %q, then %q", out, again)
		}
	})
}

// fuzzServer is a Server with a store and one bound fake session whose
// output is discarded, for feeding stanzas straight to the router.
func fuzzServer(f *testing.F) (*Server, *c2s) {
	r := newRig(f, nil)
	r.add("alice", "pa")
	r.add("bob", "pb")
	a, b := net.Pipe()
	f.Cleanup(func() { a.Close(); b.Close() })
	c := newC2S(r.srv, a, "127.0.0.1")
	c.user = "alice"
	c.jid = jid.MustParse("alice@localhost/fuzz")
	c.out = make(chan *elem, 1<<16)
	r.srv.register(c)
	go func() {
		for range c.out {
		}
	}()
	return r.srv, c
}

// FuzzClientStanza: any stanza a bound client sends is answered or
// dropped without a panic (roster, vCard, presence, routing, MUC).
func FuzzClientStanza(f *testing.F) {
	for _, s := range []string{
		`<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`,
		`<iq type='set' id='2'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>`,
		`<iq type='set' id='3'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='B'><group>g</group></item></query></iq>`,
		`<iq type='set' id='4'><vCard xmlns='vcard-temp'><TEL><NUMBER>sip:alice@localhost</NUMBER></TEL></vCard></iq>`,
		`<iq type='get' id='5' to='bob@localhost'><vCard xmlns='vcard-temp'/></iq>`,
		`<presence/>`, `<presence type='unavailable'/>`,
		`<presence to='bob@localhost' type='subscribe'/>`, `<presence to='bob@localhost' type='subscribed'/>`,
		`<presence to='room@conference.localhost/n'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
		`<message to='bob@localhost' type='chat'><body>x</body></message>`,
		`<message to='x@example.org'/>`, `<iq type='get' id='6' to='conference.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
	} {
		f.Add(s)
	}
	srv, c := fuzzServer(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseElem(s)
		if err != nil {
			return
		}
		e.Name.Space = ""
		switch e.Name.Local {
		case "iq", "message", "presence":
		default:
			return
		}
		srv.fromClient(c, e)
	})
}

// FuzzStream: any bytes from an unauthenticated client (here on loopback
// with plain text allowed, so SASL is reachable) end the connection
// without a panic or a hang.
func FuzzStream(f *testing.F) {
	f.Add(clientHeaderForTest + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>biwsbj1hbGljZSxyPWFiYw==</auth>`)
	f.Add(clientHeaderForTest + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHBh</auth>`)
	f.Add(clientHeaderForTest + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	f.Add(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>`)
	f.Add(clientHeaderForTest + `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</response><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	r := newRig(f, func(c *Config) { c.NegotiateTimeout = 2 * time.Second })
	r.add("alice", "pa")
	f.Fuzz(func(t *testing.T, s string) {
		a, b := net.Pipe()
		c := newC2S(r.srv, a, "127.0.0.1")
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.run(context.Background())
		}()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := b.Read(buf); err != nil {
					return
				}
			}
		}()
		_ = b.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = b.Write([]byte(s))
		_ = b.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection not ended for %q", s)
		}
	})
}

const clientHeaderForTest = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
