package muc

import (
	"context"
	"encoding/xml"
	"errors"
	"sync"
	"time"
)

// RunLocal is Run for the embedded XMPP server: the room service is served
// in process over conn (the server's link for the MUC domain) instead of a
// XEP-0114 session, and the server hands it the stanzas addressed to the MUC
// domain through Deliver. Everything else (rooms, events, pings, workers)
// is the same code as in component mode. RunLocal returns nil when ctx
// ends.
func (s *Service) RunLocal(ctx context.Context, conn Conn) error {
	if conn == nil {
		return errors.New("muc: nil local connection")
	}
	return s.run(ctx, func(ctx context.Context, rendered <-chan struct{}) {
		s.link.set(conn, nil)
		s.setConnected(true)
		s.log.Info("xmpp rooms served in process", "domain", s.domain.String())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.maintain(ctx, conn)
		}()
		<-ctx.Done()
		// Let the renderer flush the last events (the shutdown presence)
		// before the link goes.
		select {
		case <-rendered:
		case <-time.After(drainTimeout + time.Second):
		}
		wg.Wait()
		s.setConnected(false)
		s.link.set(nil, nil)
	})
}

// Deliver hands the service one stanza read from r (its start element
// first), as the component session's read loop does: it is parsed and
// queued for its room's worker, so Deliver does not wait for the handler.
// The sender's address must already be stamped in 'from' by the server.
// It is safe for concurrent use; stanzas before RunLocal or after it ends
// are dropped.
func (s *Service) Deliver(r xml.TokenReader) {
	tok, err := r.Token()
	if err != nil {
		return
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return
	}
	s.accept(r, start)
}
