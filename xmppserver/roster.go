package xmppserver

import (
	"context"
	"strings"

	"mellium.im/xmpp/jid"

	"cusax.dev/bridge/store"
)

// Bounds of one roster item's strings, and of the subscription requests
// kept for one account.
const (
	maxPending    = 100
	maxItemName   = 256
	maxGroups     = 16
	maxGroupBytes = 256
)

func itemElem(it store.RosterItem) *elem {
	x := el("item").set("jid", it.JID).set("subscription", it.Subscription).set("name", it.Name)
	if it.Subscription == "" {
		x.set("subscription", "none")
	}
	if it.Ask {
		x.set("ask", "subscribe")
	}
	for _, g := range it.Groups {
		x.Kids = append(x.Kids, el("group").text(g))
	}
	return x
}

// rosterGet answers a roster get (RFC 6121 §2.2) and marks the session as
// interested in pushes.
func (s *Server) rosterGet(ctx context.Context, c *c2s, e *elem) {
	items, err := s.cfg.Store.Roster(ctx, c.user)
	if err != nil {
		c.reply(errorReply(e, condInternal, ""))
		return
	}
	q := elNS(nsRoster, "query")
	for _, it := range items {
		q.Kids = append(q.Kids, itemElem(it))
	}
	c.mu.Lock()
	c.interest = true
	c.mu.Unlock()
	c.reply(iqResult(e, q))
}

// rosterSet adds, updates or removes one item (RFC 6121 §2.3, §2.5).
func (s *Server) rosterSet(ctx context.Context, c *c2s, e, q *elem) {
	if len(q.Kids) != 1 || q.Kids[0].Name.Local != "item" {
		c.reply(errorReply(e, condBadRequest, "a roster set carries exactly one item"))
		return
	}
	x := q.Kids[0]
	j, err := jid.Parse(x.attr("jid"))
	if err != nil || x.attr("jid") == "" || j.Resourcepart() != "" {
		c.reply(errorReply(e, condBadRequest, "the item needs a bare JID"))
		return
	}
	contact := j.String()
	if contact == c.jid.Bare().String() {
		c.reply(errorReply(e, condNotAllowed, "you cannot add yourself"))
		return
	}
	items, err := s.cfg.Store.Roster(ctx, c.user)
	if err != nil {
		c.reply(errorReply(e, condInternal, ""))
		return
	}
	var cur *store.RosterItem
	for i := range items {
		if items[i].JID == contact {
			cur = &items[i]
		}
	}
	if x.attr("subscription") == "remove" {
		if cur == nil {
			c.reply(errorReply(e, condItemNotFound, ""))
			return
		}
		if err := s.cfg.Store.DeleteRosterItem(ctx, c.user, contact); err != nil {
			c.reply(errorReply(e, condInternal, ""))
			return
		}
		c.reply(iqResult(e, nil))
		s.push(c.user, store.RosterItem{JID: contact, Subscription: "remove"})
		// Cancel the subscriptions both ways (RFC 6121 §2.5.2).
		if cur.Subscription == "to" || cur.Subscription == "both" || cur.Ask {
			s.subscription(c, el("presence").set("type", "unsubscribe").set("from", c.jid.String()), "unsubscribe", j)
		}
		if cur.Subscription == "from" || cur.Subscription == "both" {
			s.subscription(c, el("presence").set("type", "unsubscribed").set("from", c.jid.String()), "unsubscribed", j)
		}
		return
	}
	if cur == nil && len(items) >= s.cfg.MaxRosterItems {
		s.count("roster_full")
		c.reply(errorReply(e, condResourceLimit, "the roster is full"))
		return
	}
	it := store.RosterItem{Owner: c.user, JID: contact, Subscription: "none"}
	if cur != nil {
		it = *cur
	}
	it.Name = x.attr("name")
	it.Groups = nil
	seen := map[string]bool{}
	for _, g := range x.Kids {
		if g.Name.Local != "group" {
			continue
		}
		name := strings.TrimSpace(g.Text)
		if name == "" || len(name) > maxGroupBytes || strings.ContainsAny(name, "\n\x00") || len(it.Groups) >= maxGroups {
			c.reply(errorReply(e, condNotAllowed, "bad or too many groups"))
			return
		}
		if !seen[name] {
			seen[name] = true
			it.Groups = append(it.Groups, name)
		}
	}
	if len(it.Name) > maxItemName {
		c.reply(errorReply(e, condNotAllowed, "name too long"))
		return
	}
	if err := s.cfg.Store.SaveRosterItem(ctx, it); err != nil {
		c.reply(errorReply(e, condInternal, ""))
		return
	}
	c.reply(iqResult(e, nil))
	s.push(c.user, it)
}

// push sends a roster push for it to every interested resource of user.
func (s *Server) push(user string, it store.RosterItem) {
	bare := user + "@" + s.host.Domainpart()
	x := itemElem(it)
	if it.Subscription == "remove" {
		x = el("item").set("jid", it.JID).set("subscription", "remove")
	}
	for _, c := range s.resources(bare) {
		c.mu.Lock()
		ok := c.interest
		c.mu.Unlock()
		if !ok {
			continue
		}
		iq := el("iq", elNS(nsRoster, "query", x)).set("type", "set").set("id", "push-"+randomID()).set("to", c.jid.String())
		c.deliver(iq)
	}
}

// update loads user's item for contact, applies f and saves and pushes it
// when f reports a change. A missing item is created when create is set.
func (s *Server) update(ctx context.Context, user, contact string, create bool, f func(*store.RosterItem) bool) {
	items, err := s.cfg.Store.Roster(ctx, user)
	if err != nil {
		return
	}
	var it *store.RosterItem
	for i := range items {
		if items[i].JID == contact {
			it = &items[i]
		}
	}
	if it == nil {
		if !create || len(items) >= s.cfg.MaxRosterItems {
			return
		}
		it = &store.RosterItem{Owner: user, JID: contact, Subscription: "none"}
	}
	if !f(it) {
		return
	}
	if err := s.cfg.Store.SaveRosterItem(ctx, *it); err != nil {
		s.log.Warn("save roster item", "err", err)
		return
	}
	s.push(user, *it)
}

// subscription handles a subscription presence from c's user to the local
// bare JID contact (RFC 6121 §3).
func (s *Server) subscription(c *c2s, e *elem, typ string, contact jid.JID) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	me := c.jid.Bare().String()
	other := contact.String()
	if other == me {
		return
	}
	exists, err := s.cfg.Accounts.Exists(ctx, contact.Localpart())
	if err != nil || !exists {
		c.reply(errorReply(e, condItemNotFound, "no such user on this server"))
		return
	}
	out := el("presence").set("type", typ).set("from", me).set("to", other)
	switch typ {
	case "subscribe":
		already := false
		s.update(ctx, c.user, other, true, func(it *store.RosterItem) bool {
			if it.Subscription == "to" || it.Subscription == "both" {
				already = true
				return false
			}
			if it.Ask {
				return false
			}
			it.Ask = true
			return true
		})
		if already {
			return
		}
		// Kept until the contact answers, and delivered again at each of
		// its logins (RFC 6121 §3.1.3), up to maxPending per contact.
		if pend, err := s.cfg.Store.PendingSubscriptions(ctx, contact.Localpart()); err == nil && len(pend) < maxPending {
			if err := s.cfg.Store.AddPendingSubscription(ctx, contact.Localpart(), me); err != nil {
				s.log.Warn("store pending subscription", "err", err)
			}
		}
		s.route(out, contact)
	case "subscribed":
		// RFC 6121 §3.1.5: an approval the contact never asked for (no
		// pending subscribe in its roster) is ignored
		if !s.askedBy(ctx, contact.Localpart(), me) {
			return
		}
		_ = s.cfg.Store.DeletePendingSubscription(ctx, c.user, other)
		changed := false
		s.update(ctx, c.user, other, true, func(it *store.RosterItem) bool {
			switch it.Subscription {
			case "none":
				it.Subscription = "from"
			case "to":
				it.Subscription = "both"
			default:
				return false
			}
			changed = true
			return true
		})
		if !changed {
			return
		}
		s.update(ctx, contact.Localpart(), me, false, func(it *store.RosterItem) bool {
			it.Ask = false
			switch it.Subscription {
			case "none":
				it.Subscription = "to"
			case "from":
				it.Subscription = "both"
			}
			return true
		})
		s.route(out, contact)
		// The contact now sees our current presence.
		for _, r := range s.resources(me) {
			if p := r.currentPresence(); p != nil {
				s.route(p.set("to", other), contact)
			}
		}
	case "unsubscribe":
		_ = s.cfg.Store.DeletePendingSubscription(ctx, contact.Localpart(), me)
		s.update(ctx, c.user, other, false, func(it *store.RosterItem) bool {
			it.Ask = false
			switch it.Subscription {
			case "to":
				it.Subscription = "none"
			case "both":
				it.Subscription = "from"
			}
			return true
		})
		s.update(ctx, contact.Localpart(), me, false, func(it *store.RosterItem) bool {
			switch it.Subscription {
			case "from":
				it.Subscription = "none"
			case "both":
				it.Subscription = "to"
			default:
				return false
			}
			return true
		})
		s.route(out, contact)
	case "unsubscribed":
		_ = s.cfg.Store.DeletePendingSubscription(ctx, c.user, other)
		s.update(ctx, c.user, other, false, func(it *store.RosterItem) bool {
			switch it.Subscription {
			case "from":
				it.Subscription = "none"
			case "both":
				it.Subscription = "to"
			default:
				return false
			}
			return true
		})
		s.update(ctx, contact.Localpart(), me, false, func(it *store.RosterItem) bool {
			it.Ask = false
			switch it.Subscription {
			case "to":
				it.Subscription = "none"
			case "both":
				it.Subscription = "from"
			}
			return true
		})
		s.route(out, contact)
		// The contact no longer sees us.
		for _, r := range s.resources(me) {
			s.route(el("presence").set("type", "unavailable").set("from", r.jid.String()).set("to", other), contact)
		}
	}
}

// askedBy reports whether user's roster holds a subscription request of
// its own to jid, not yet answered (Ask).
func (s *Server) askedBy(ctx context.Context, user, jid string) bool {
	items, err := s.cfg.Store.Roster(ctx, user)
	if err != nil {
		s.log.Warn("read roster", "user", user, "err", err)
		return false
	}
	for _, it := range items {
		if it.JID == jid {
			return it.Ask
		}
	}
	return false
}
