package xmppserver

import (
	"context"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// storeTimeout bounds one store call made while handling a stanza.
const storeTimeout = 5 * time.Second

// maxDirected bounds the directed presences remembered per session (sent
// unavailable when it ends: how MUC occupants leave when a client drops).
const maxDirected = 1000

// Stanza error conditions (RFC 6120 §8.3.3) with their types.
type condition struct{ name, typ string }

var (
	condBadRequest     = condition{"bad-request", "modify"}
	condNotAllowed     = condition{"not-allowed", "cancel"}
	condItemNotFound   = condition{"item-not-found", "cancel"}
	condJIDMalformed   = condition{"jid-malformed", "modify"}
	condRemoteNotFound = condition{"remote-server-not-found", "cancel"}
	condServiceUnavail = condition{"service-unavailable", "cancel"}
	condResourceLimit  = condition{"resource-constraint", "wait"}
	condInternal       = condition{"internal-server-error", "wait"}
)

// errorReply builds the error answer to e (RFC 6120 §8.3), or nil when e
// must not be answered (an error or IQ result).
func errorReply(e *elem, c condition, text string) *elem {
	if t := e.attr("type"); t == "error" || (e.Name.Local == "iq" && t == "result") {
		return nil
	}
	r := &elem{Name: e.Name}
	r.set("id", e.attr("id")).set("type", "error").set("to", e.attr("from")).set("from", e.attr("to"))
	if e.Name.Local != "iq" {
		r.Kids = append(r.Kids, cloneKids(e)...)
	} else if len(e.Kids) > 0 {
		r.Kids = append(r.Kids, e.Kids[0].clone())
	}
	er := el("error", elNS(nsStanzas, c.name)).set("type", c.typ)
	if text != "" {
		er.Kids = append(er.Kids, elNS(nsStanzas, "text").text(text))
	}
	r.Kids = append(r.Kids, er)
	return r
}

func cloneKids(e *elem) []*elem {
	out := make([]*elem, 0, len(e.Kids))
	for _, k := range e.Kids {
		out = append(out, k.clone())
	}
	return out
}

// iqResult is the empty result of iq, with optional payload.
func iqResult(iq *elem, payload *elem) *elem {
	r := el("iq").set("type", "result").set("id", iq.attr("id")).set("to", iq.attr("from")).set("from", iq.attr("to"))
	if payload != nil {
		r.Kids = append(r.Kids, payload)
	}
	return r
}

// fromClient handles a stanza read from a bound client: its 'from' is
// stamped with the client's full JID whatever it said (RFC 6120 §8.1.2.1).
func (s *Server) fromClient(c *c2s, e *elem) {
	e.set("from", c.jid.String())
	to := jid.JID{}
	if t := e.attr("to"); t != "" {
		var err error
		to, err = jid.Parse(t)
		if err != nil {
			c.reply(errorReply(e, condJIDMalformed, ""))
			return
		}
	}
	switch e.Name.Local {
	case "presence":
		s.clientPresence(c, e, to)
	case "iq":
		if to.Equal(jid.JID{}) || to.Equal(s.host) || to.Equal(c.jid.Bare()) {
			s.serverIQ(c, e)
			return
		}
		s.route(e, to)
	default:
		s.route(e, to)
	}
}

// reply sends e (if not nil) back to the client c.
func (c *c2s) reply(e *elem) {
	if e != nil {
		if e.attr("from") == "" {
			e.set("from", c.srv.host.String())
		}
		c.deliver(e)
	}
}

// route delivers e to its addressee to (RFC 6120 §10, RFC 6121 §8).
func (s *Server) route(e *elem, to jid.JID) {
	switch {
	case to.Domainpart() == s.host.Domainpart():
	case s.component(to.Domainpart()) != nil:
		s.component(to.Domainpart()).receive(e)
		return
	default:
		s.bounce(e, condRemoteNotFound, "this server does not federate; only "+s.host.String()+" and its services are reachable")
		return
	}
	if to.Localpart() == "" {
		if e.Name.Local == "iq" {
			// An IQ for the server from a component (e.g. disco).
			s.bounce(e, condServiceUnavail, "")
		}
		return
	}
	if to.Resourcepart() != "" {
		if c := s.session(to); c != nil {
			c.deliver(e)
			return
		}
		switch e.Name.Local {
		case "message":
			s.toBare(e, to.Bare())
		case "iq":
			s.bounce(e, condServiceUnavail, "")
		}
		// Presence to an unavailable resource is dropped (RFC 6121 §8.5.3.2.1).
		return
	}
	switch e.Name.Local {
	case "message":
		s.toBare(e, to)
	case "iq":
		s.bareIQ(e, to)
	case "presence":
		for _, c := range s.resources(to.String()) {
			c.deliver(e)
		}
	}
}

// bounce routes the error answer to e back to its sender.
func (s *Server) bounce(e *elem, c condition, text string) {
	r := errorReply(e, c, text)
	if r == nil {
		return
	}
	if r.attr("from") == "" {
		r.set("from", s.host.String())
	}
	to, err := jid.Parse(r.attr("to"))
	if err != nil || r.attr("to") == "" {
		return
	}
	s.route(r, to)
}

// toBare delivers a message to a local account's available resources with
// non-negative priority (RFC 6121 §8.5.2.1.1); with none, a chat or normal
// message bounces (no offline storage) and others are dropped.
func (s *Server) toBare(e *elem, bare jid.JID) {
	n := 0
	for _, c := range s.resources(bare.String()) {
		c.mu.Lock()
		ok := c.available && c.priority >= 0
		c.mu.Unlock()
		if ok {
			c.deliver(e)
			n++
		}
	}
	if n > 0 {
		return
	}
	switch e.attr("type") {
	case "", "normal", "chat":
		s.bounce(e, condServiceUnavail, "the recipient is not online (this server keeps no offline messages)")
	case "groupchat":
		s.bounce(e, condServiceUnavail, "")
	}
}

// bareIQ answers an IQ addressed to a local account's bare JID on its
// behalf: vCard and disco#info; anything else gets service-unavailable.
func (s *Server) bareIQ(e *elem, to jid.JID) {
	typ := e.attr("type")
	if typ == "result" || typ == "error" {
		return
	}
	if len(e.Kids) != 1 {
		s.bounce(e, condBadRequest, "")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	ok, err := s.cfg.Accounts.Exists(ctx, to.Localpart())
	if err != nil {
		s.bounce(e, condInternal, "")
		return
	}
	if !ok {
		s.bounce(e, condServiceUnavail, "")
		return
	}
	q := e.Kids[0]
	var r *elem
	switch {
	case typ == "get" && q.Name.Space == nsVCard && q.Name.Local == "vCard":
		v, err := s.vcard(ctx, to.Localpart())
		if err != nil {
			s.bounce(e, condInternal, "")
			return
		}
		r = iqResult(e, v)
	case typ == "get" && q.Name.Space == nsDiscoInfo && q.Name.Local == "query":
		r = iqResult(e, elNS(nsDiscoInfo, "query",
			el("identity").set("category", "account").set("type", "registered"),
			el("feature").set("var", nsDiscoInfo), el("feature").set("var", nsVCard)))
	default:
		s.bounce(e, condServiceUnavail, "")
		return
	}
	r.set("from", to.String())
	rto, _ := jid.Parse(r.attr("to"))
	s.route(r, rto)
}

// serverIQ answers an IQ a client sent to the server or its own bare JID.
func (s *Server) serverIQ(c *c2s, e *elem) {
	typ := e.attr("type")
	if typ == "result" || typ == "error" {
		return // answers to roster pushes
	}
	if typ != "get" && typ != "set" {
		c.reply(errorReply(e, condBadRequest, "unknown IQ type"))
		return
	}
	if len(e.Kids) != 1 {
		c.reply(errorReply(e, condBadRequest, "an IQ get or set carries exactly one payload"))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	q := e.Kids[0]
	get := typ == "get"
	switch {
	case q.Name.Space == nsRoster && q.Name.Local == "query":
		if get {
			s.rosterGet(ctx, c, e)
		} else {
			s.rosterSet(ctx, c, e, q)
		}
	case q.Name.Space == nsVCard && q.Name.Local == "vCard":
		if get {
			v, err := s.vcard(ctx, c.user)
			if err != nil {
				c.reply(errorReply(e, condInternal, ""))
				return
			}
			c.reply(iqResult(e, v))
			return
		}
		if err := s.setVCard(ctx, c.user, q); err != nil {
			c.reply(errorReply(e, condInternal, ""))
			return
		}
		c.reply(iqResult(e, nil))
	case get && q.Name.Space == nsPing && q.Name.Local == "ping":
		c.reply(iqResult(e, nil))
	case !get && q.Name.Space == nsSession && q.Name.Local == "session":
		c.reply(iqResult(e, nil)) // RFC 3921 session establishment: a no-op
	case get && q.Name.Space == nsDiscoInfo && q.Name.Local == "query":
		if e.attr("to") != "" && e.attr("to") != s.host.String() {
			q := elNS(nsDiscoInfo, "query",
				el("identity").set("category", "account").set("type", "registered"),
				el("feature").set("var", nsDiscoInfo), el("feature").set("var", nsVCard))
			c.reply(iqResult(e, q))
			return
		}
		c.reply(iqResult(e, s.discoInfo(q.attr("node"))))
	case get && q.Name.Space == nsDiscoItem && q.Name.Local == "query":
		items := elNS(nsDiscoItem, "query")
		if e.attr("to") == "" || e.attr("to") == s.host.String() {
			s.mu.RLock()
			for d := range s.comps {
				items.Kids = append(items.Kids, el("item").set("jid", d).set("name", "Conferences"))
			}
			s.mu.RUnlock()
		}
		c.reply(iqResult(e, items))
	default:
		c.reply(errorReply(e, condServiceUnavail, ""))
	}
}

func (s *Server) discoInfo(node string) *elem {
	q := elNS(nsDiscoInfo, "query")
	if node != "" {
		q.set("node", node)
	}
	q.Kids = append(q.Kids, el("identity").set("category", "server").set("type", "im").set("name", "cusax-bridge"))
	for _, f := range []string{nsDiscoInfo, nsDiscoItem, nsPing, nsVCard, nsRoster} {
		q.Kids = append(q.Kids, el("feature").set("var", f))
	}
	return q
}

// clientPresence handles a presence from a client (RFC 6121 §4, §3).
func (s *Server) clientPresence(c *c2s, e *elem, to jid.JID) {
	typ := e.attr("type")
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if to.Equal(jid.JID{}) || to.Localpart() == "" {
			c.reply(errorReply(e, condBadRequest, ""))
			return
		}
		if to.Domainpart() != s.host.Domainpart() {
			c.reply(errorReply(e, condRemoteNotFound, "this server does not federate"))
			return
		}
		s.subscription(c, e, typ, to.Bare())
		return
	case "probe", "error":
		return
	case "", "unavailable":
	default:
		c.reply(errorReply(e, condBadRequest, "unknown presence type"))
		return
	}
	if !to.Equal(jid.JID{}) {
		// Directed presence (to a room, a contact).
		if typ == "" {
			c.mu.Lock()
			if len(c.directed) < maxDirected {
				c.directed[to.String()] = true
			}
			c.mu.Unlock()
		} else {
			c.mu.Lock()
			delete(c.directed, to.String())
			c.mu.Unlock()
		}
		s.route(e, to)
		return
	}
	// Broadcast presence.
	c.mu.Lock()
	initial := !c.available && typ == ""
	if typ == "" {
		c.available = true
		c.presence = e
		c.priority = 0
		if p := e.kid("", "priority"); p != nil {
			if v, err := strconv.Atoi(strings.TrimSpace(p.Text)); err == nil && v >= -128 && v <= 127 {
				c.priority = v
			}
		}
	} else {
		c.available = false
		c.presence = nil
	}
	var directed []string
	if typ == "unavailable" {
		for d := range c.directed {
			directed = append(directed, d)
		}
		c.directed = map[string]bool{}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	items, _ := s.cfg.Store.Roster(ctx, c.user)
	for _, it := range items {
		if it.Subscription == "from" || it.Subscription == "both" {
			b := e.clone().set("to", it.JID)
			if j, err := jid.Parse(it.JID); err == nil {
				s.route(b, j)
			}
		}
	}
	// The user's other resources see it too, and the sender gets its own.
	for _, o := range s.resources(c.jid.Bare().String()) {
		o.deliver(e.clone().set("to", o.jid.String()))
	}
	for _, d := range directed {
		if j, err := jid.Parse(d); err == nil {
			s.route(e.clone().set("to", d), j)
		}
	}
	if initial {
		// Probe: the current presence of every contact the user is
		// subscribed to, and of the user's other resources.
		for _, it := range items {
			if it.Subscription == "to" || it.Subscription == "both" {
				s.sendPresencesOf(it.JID, c)
			}
		}
		for _, o := range s.resources(c.jid.Bare().String()) {
			if o != c {
				if p := o.currentPresence(); p != nil {
					c.deliver(p.set("to", c.jid.String()))
				}
			}
		}
		// Subscription requests still awaiting an answer.
		pend, _ := s.cfg.Store.PendingSubscriptions(ctx, c.user)
		for _, from := range pend {
			c.deliver(el("presence").set("type", "subscribe").set("from", from).set("to", c.jid.Bare().String()))
		}
	}
}

// currentPresence returns a copy of the session's broadcast presence.
func (c *c2s) currentPresence() *elem {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.available || c.presence == nil {
		return nil
	}
	return c.presence.clone()
}

// sendPresencesOf delivers the current presence of each available resource
// of bare to c.
func (s *Server) sendPresencesOf(bare string, c *c2s) {
	for _, o := range s.resources(bare) {
		if p := o.currentPresence(); p != nil {
			c.deliver(p.set("to", c.jid.String()))
		}
	}
}

// goneOffline broadcasts unavailable presence for a session that ended
// while available, and to every entity it sent directed presence to (so
// its MUC occupants leave their rooms).
func (c *c2s) goneOffline() {
	c.mu.Lock()
	was := c.available || len(c.directed) > 0
	c.mu.Unlock()
	if !was {
		return
	}
	e := el("presence").set("type", "unavailable").set("from", c.jid.String())
	c.srv.clientPresenceGone(c, e)
}

func (s *Server) clientPresenceGone(c *c2s, e *elem) {
	c.mu.Lock()
	c.available = true // so that clientPresence sends the broadcast
	c.mu.Unlock()
	s.clientPresence(c, e, jid.JID{})
}
