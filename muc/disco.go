package muc

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// AudioVideoURIField is the muc#roominfo field that carries the room's SIP
// conference URI (RFC 7081 §4).
const AudioVideoURIField = "audio-video-uri"

const (
	featSelfPing = "http://jabber.org/protocol/muc#self-ping-optimization" // XEP-0410
	nodeRoomUser = "x-roomuser-item"                                       // reserved nick query, XEP-0045 §7.12
)

func feature(v string) *node { return el("feature").set("var", v) }

// pick returns a when cond holds, else b.
func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// discoInfo answers disco#info for the service or a room. The room's reply
// carries the XEP-0128 muc#roominfo form with audio-video-uri, built by hand
// since mellium's disco drops forms.
func (s *Service) discoInfo(ctx context.Context, st *stanza, room string, q *node) {
	nodeAttr := q.attr("node")
	if room == "" {
		if nodeAttr != "" {
			s.send(errorReply(st, condItemNotFound, "", ""))
			return
		}
		s.send(iqResult(st, elNS(NSDiscoInfo, "query",
			el("identity").set("category", "conference").set("type", "text").set("name", s.cfg.Name),
			feature(NSDiscoInfo), feature(NSDiscoItem), feature(NSMUC), feature(NSPing), feature(NSRSM))))
		return
	}
	by := s.roomJID(room)
	if !s.exists(ctx, room) {
		s.send(errorReply(st, condItemNotFound, "no such room", by))
		return
	}
	if nodeAttr == nodeRoomUser {
		// No reserved nicks (XEP-0045 §7.12): an empty answer.
		s.send(iqResult(st, elNS(NSDiscoInfo, "query").set("node", nodeRoomUser)))
		return
	}
	if nodeAttr != "" {
		if !s.commandInfo(st, room, nodeAttr) {
			s.send(errorReply(st, condItemNotFound, "", by))
		}
		return
	}
	snap, err := s.reg.Snapshot(ctx, room)
	if err != nil {
		s.send(s.errorFor(st, room, err))
		return
	}
	c := snap.Config
	name := c.Title
	if name == "" {
		name = room
	}
	form := elNS(NSData, "x",
		field(fFormType, "hidden", "", NSRoomInfo),
		field("muc#roominfo_description", "text-single", "Description", c.Description),
		field("muc#roominfo_subject", "text-single", "Subject", snap.Subject),
		field("muc#roominfo_occupants", "text-single", "Number of occupants", strconv.Itoa(len(snap.Participants))),
		field("muc#roominfo_subjectmod", "boolean", "Occupants may change the subject", boolValue(c.AllowSubjectChange)),
		field(fRoomName, "text-single", "Room name", name),
	).set("type", "result")
	if s.cfg.SIPDomain != "" {
		form.add(field(AudioVideoURIField, "text-single", "Audio/video conference", ConferenceURI(room, s.cfg.SIPDomain)))
	}
	s.send(iqResult(st, elNS(NSDiscoInfo, "query",
		el("identity").set("category", "conference").set("type", "text").set("name", name),
		feature(NSMUC), feature(NSDiscoInfo), feature(featSelfPing), feature(NSPing), feature(NSSID), feature(NSCommands),
		feature(pick(c.Persistent, "muc_persistent", "muc_temporary")),
		feature(pick(c.Moderated, "muc_moderated", "muc_unmoderated")),
		feature(pick(c.MembersOnly, "muc_membersonly", "muc_open")),
		feature(pick(c.Password != "", "muc_passwordprotected", "muc_unsecured")),
		feature(pick(c.Public, "muc_public", "muc_hidden")),
		feature(pick(whoisOf(c).NonAnonymous(), "muc_nonanonymous", "muc_semianonymous")),
		form)))
}

// discoItems lists the public rooms of the service; a room lists no items
// (its occupant list is not public).
func (s *Service) discoItems(ctx context.Context, st *stanza, room string, q *node) {
	res := elNS(NSDiscoItem, "query")
	if room != "" {
		if !s.exists(ctx, room) {
			s.send(errorReply(st, condItemNotFound, "no such room", s.roomJID(room)))
			return
		}
		if q.attr("node") == NSCommands {
			s.commandItems(st, room)
			return
		}
		s.send(iqResult(st, res))
		return
	}
	if q.attr("node") != "" {
		s.send(errorReply(st, condItemNotFound, "", ""))
		return
	}
	req, ok := parseRSM(q)
	if !ok {
		s.send(errorReply(st, condBadRequest, "malformed result set request", ""))
		return
	}
	rooms, err := s.reg.Rooms(ctx)
	if err != nil {
		s.log.Warn("list rooms", "err", err)
		s.send(errorReply(st, condInternal, "", ""))
		return
	}
	// Paged by room JID in sorted order (XEP-0059): at most maxItemsPage
	// items per answer, with a <set/> whenever the list does not fit in
	// one page or the request asked for one.
	var keys, names []string
	for _, r := range rooms {
		if !r.Public {
			continue
		}
		name := r.Title
		if name == "" {
			name = r.Name
		}
		keys = append(keys, s.roomJID(r.Name))
		names = append(names, name)
	}
	sortTogether(keys, names)
	from, to, found := req.page(keys)
	if !found {
		s.send(errorReply(st, condItemNotFound, "no such item in the result set", ""))
		return
	}
	for i := from; i < to; i++ {
		res.add(el("item").set("jid", keys[i]).set("name", names[i]))
	}
	if q.child(NSRSM, "set") != nil || to-from < len(keys) {
		res.add(rsmSet(keys, from, to))
	}
	s.send(iqResult(st, res))
}

// sortTogether sorts keys and reorders vals alike.
func sortTogether(keys, vals []string) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	k2, v2 := make([]string, len(keys)), make([]string, len(vals))
	for i, j := range idx {
		k2[i], v2[i] = keys[j], vals[j]
	}
	copy(keys, k2)
	copy(vals, v2)
}
