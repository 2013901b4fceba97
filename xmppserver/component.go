package xmppserver

import (
	"context"
	"encoding/xml"
	"errors"
	"sync"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
)

// maxPendingIQs bounds the IQs a component waits on at once.
const maxPendingIQs = 10000

// compLink connects an in-process component to the router.
type compLink struct {
	srv    *Server
	domain string
	comp   Component

	mu      sync.Mutex
	pending map[string]chan *elem // IQ id → waiter
}

var errTooManyIQs = errors.New("xmppserver: too many IQs waiting")

// receive hands the component a stanza addressed to its domain; an answer
// to one of its own IQs goes to the waiting SendIQ instead.
func (l *compLink) receive(e *elem) {
	if e.Name.Local == "iq" {
		if t := e.attr("type"); t == "result" || t == "error" {
			l.mu.Lock()
			ch := l.pending[e.attr("id")+"\x00"+e.attr("from")]
			l.mu.Unlock()
			if ch != nil {
				select {
				case ch <- e:
				default:
				}
				return
			}
		}
	}
	l.comp.Deliver(e.tokenReader())
}

// read parses one stanza sent by the component; a 'from' outside its
// domain is replaced by the domain.
func (l *compLink) read(r xml.TokenReader) (*elem, jid.JID, error) {
	var start xml.StartElement
	for {
		tok, err := r.Token()
		if err != nil {
			return nil, jid.JID{}, err
		}
		if st, ok := tok.(xml.StartElement); ok {
			start = st
			break
		}
	}
	e, err := readElem(r, start)
	if err != nil {
		return nil, jid.JID{}, err
	}
	if from, err := jid.Parse(e.attr("from")); err != nil || from.Domainpart() != l.domain {
		e.set("from", l.domain)
	}
	to, err := jid.Parse(e.attr("to"))
	if err != nil || e.attr("to") == "" {
		return nil, jid.JID{}, errors.New("xmppserver: component stanza without a valid 'to'")
	}
	return e, to, nil
}

func (l *compLink) send(_ context.Context, r xml.TokenReader) error {
	e, to, err := l.read(r)
	if err != nil {
		return err
	}
	l.srv.route(e, to)
	return nil
}

func (l *compLink) sendIQ(ctx context.Context, r xml.TokenReader) (xmlstream.TokenReadCloser, error) {
	e, to, err := l.read(r)
	if err != nil {
		return nil, err
	}
	key := e.attr("id") + "\x00" + to.String()
	ch := make(chan *elem, 1)
	l.mu.Lock()
	if len(l.pending) >= maxPendingIQs {
		l.mu.Unlock()
		return nil, errTooManyIQs
	}
	l.pending[key] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, key)
		l.mu.Unlock()
	}()
	l.srv.route(e, to)
	select {
	case resp := <-ch:
		return readCloser{resp.tokenReader()}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type readCloser struct{ xml.TokenReader }

func (readCloser) Close() error { return nil }
