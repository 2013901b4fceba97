package client

import (
	"slices"
	"strconv"
	"strings"

	"cusax.dev/bridge/confinfo"
)

// occupant is a MUC occupant as the client tracks it from presence.
type occupant struct {
	Nick        string
	JID         string // bare real JID, when the room shows it
	Role        string
	Affiliation string
	Self        bool
	// Level flags from a participation-level presence extension (an
	// element with text/audio attributes, DESIGN.md §6.4), when present.
	HasLevel           bool
	Text, Audio, Muted bool
}

// selfIDs identify the client's own legs: its call's Call-ID (matched
// against the endpoints' call-info) and its MUC nick (status 110).
type selfIDs struct {
	CallID string
	Nick   string
	JID    string
	AOR    string
}

// Merge builds the participant list, one row per person, from the
// conference state (RFC 4575 users) and the room's occupants:
//
//   - an occupant and a conference user are one person when the occupant's
//     real JID is the user's xmpp: entity or one of its associated-aors
//     (the binding the bridge publishes), else when the occupant's nick is
//     the user's display-text (the bridge presents one participant under
//     one name on both sides; a de-duplicated nick "Name (2)" matches an
//     otherwise unmatched audio user "Name");
//   - the client's own SIP leg (its Call-ID in call-info) and its own
//     occupant (status 110) are one row, marked self;
//   - users whose every endpoint is disconnected have left.
//
// A row is verified when the bridge itself links its SIP AOR and JID (the
// conference user names both; an associated xmpp: URI the bridge marks
// "unverified" links nothing), or the bridge's participation element says
// the occupant is both in the chat and on the call (the bridge makes one
// participant of two legs only for a verified binding), or it is the
// client's own row. The level
// comes from the bridge's participation element in room presence
// (urn:cusax:participation:0) when there is one.
func Merge(doc *confinfo.Document, occs []occupant, self selfIDs) []Row {
	type person struct {
		row               Row
		audio, text       bool
		user              bool
		selfSIP, selfText bool
	}
	var people []*person
	var users []confinfo.User
	if doc != nil && doc.Users != nil {
		users = doc.Users.Users
	}
	for _, u := range users {
		p := &person{user: true}
		live := false
		for _, ep := range u.Endpoints {
			if ep.Status == confinfo.StatusDisconnected || ep.Status == confinfo.StatusDisconnecting {
				continue
			}
			live = true
			if ep.Status == confinfo.StatusMutedViaFocus {
				p.row.Muted = true
			}
			for _, m := range ep.Media {
				if m.Type == confinfo.MediaTypeAudio && m.Status == confinfo.MediaRecvOnly {
					p.row.Muted = true
				}
			}
			if self.CallID != "" && ep.CallInfo != nil && ep.CallInfo.SIP != nil && ep.CallInfo.SIP.CallID == self.CallID {
				p.selfSIP = true
			}
		}
		if len(u.Endpoints) > 0 && !live {
			continue // departed
		}
		p.audio = live
		p.text = len(u.Endpoints) == 0
		p.row.Name = u.DisplayText
		ids := []string{u.Entity}
		if u.AssociatedAORs != nil {
			for _, a := range u.AssociatedAORs.Entries {
				// A JID the bridge could not verify (RFC 7081 §3.4) is
				// shown so, and binds nothing.
				if a.DisplayText == "unverified" {
					continue
				}
				ids = append(ids, a.URI)
			}
		}
		for _, id := range ids {
			id = stripParams(id)
			switch {
			case strings.HasPrefix(id, "xmpp:") && p.row.JID == "":
				p.row.JID = strings.ToLower(strings.TrimPrefix(id, "xmpp:"))
			case (strings.HasPrefix(id, "sip:") || strings.HasPrefix(id, "sips:") || strings.HasPrefix(id, "tel:")) &&
				p.row.SIP == "" && !strings.HasSuffix(id, "@anonymous.invalid"):
				p.row.SIP = id
			}
		}
		if len(u.Roles) > 0 {
			p.row.Role = u.Roles[0]
		}
		p.row.Verified = p.row.JID != "" && p.row.SIP != "" && live
		if p.row.Name == "" {
			p.row.Name = firstNonEmpty(p.row.JID, p.row.SIP, u.Entity)
		}
		people = append(people, p)
	}
	// Occupants are matched to conference users in passes, surest first:
	// real JID; then a text-only user whose display-text (for a chat user
	// the nick itself) is the nick; then an audio user whose display name is
	// the nick, or the nick without the " (N)" the bridge adds to make a
	// caller's nick unique.
	taken := make([]bool, len(people))
	owner := make([]int, len(occs))
	for k := range owner {
		owner[k] = -1
	}
	passes := []func(o occupant, p *person) bool{
		func(o occupant, p *person) bool { return o.JID != "" && p.row.JID == o.JID },
		func(o occupant, p *person) bool {
			return !p.audio && p.row.Name == o.Nick && (o.JID == "" || p.row.JID == "")
		},
		func(o occupant, p *person) bool {
			return p.audio && p.row.Name == o.Nick && (o.JID == "" || p.row.JID == "")
		},
		func(o occupant, p *person) bool {
			base := trimDedup(o.Nick)
			return base != o.Nick && o.JID == "" && p.audio && p.row.Name == base
		},
	}
	for _, pass := range passes {
		for k, o := range occs {
			if owner[k] >= 0 {
				continue
			}
			for i, p := range people {
				if !taken[i] && pass(o, p) {
					taken[i], owner[k] = true, i
					break
				}
			}
		}
	}
	for k, o := range occs {
		var p *person
		if i := owner[k]; i >= 0 {
			p = people[i]
		} else {
			p = &person{}
			people = append(people, p)
		}
		// The bridge presents every SIP caller as an occupant: an occupant
		// is a chat user only when it is no caller's presentation.
		switch {
		case o.HasLevel:
			p.text = p.text || o.Text
			p.audio = p.audio || o.Audio
			// One occupant on the chat and the call is one participant of
			// the bridge with two legs: a binding it verified.
			if o.Text && o.Audio {
				p.row.Verified = true
			}
		case owner[k] < 0 || !p.audio || o.Self:
			p.text = true
		}
		p.row.Name = o.Nick
		if o.JID != "" {
			p.row.JID = o.JID
		}
		if o.Role != "" {
			p.row.Role = o.Role
		}
		if o.Role == "visitor" || (o.HasLevel && o.Muted) {
			p.row.Muted = true
		}
		if o.Self {
			p.selfText = true
		}
	}
	// The client's own legs are one person, whatever the bridge knows.
	var selfRow *person
	out := people[:0:0]
	for _, p := range people {
		if p.selfSIP || p.selfText {
			if selfRow == nil {
				selfRow = p
				out = append(out, p)
				continue
			}
			selfRow.audio = selfRow.audio || p.audio
			selfRow.text = selfRow.text || p.text
			selfRow.row.Muted = selfRow.row.Muted || p.row.Muted
			if p.selfText {
				selfRow.row.Name, selfRow.row.Role = p.row.Name, p.row.Role
			}
			selfRow.selfText = selfRow.selfText || p.selfText
			continue
		}
		out = append(out, p)
	}
	rows := make([]Row, 0, len(out))
	for _, p := range out {
		r := p.row
		switch {
		case p.audio && p.text:
			r.Level = "both"
		case p.audio:
			r.Level = "audio"
		default:
			r.Level = "text"
		}
		if p == selfRow {
			r.Self, r.Verified = true, true
			r.JID = firstNonEmpty(self.JID, r.JID)
			if p.audio {
				r.SIP = firstNonEmpty(self.AOR, r.SIP)
			}
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b Row) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	// Names are what commands address: make them unique.
	seen := make(map[string]bool, len(rows))
	for i := range rows {
		name := rows[i].Name
		for n := 2; seen[name]; n++ {
			name = rows[i].Name + " #" + strconv.Itoa(n)
		}
		rows[i].Name = name
		seen[name] = true
	}
	return rows
}

// trimDedup removes a trailing " (N)" from a nick.
func trimDedup(nick string) string {
	i := strings.LastIndex(nick, " (")
	if i < 0 || !strings.HasSuffix(nick, ")") {
		return nick
	}
	if _, err := strconv.Atoi(nick[i+2 : len(nick)-1]); err != nil {
		return nick
	}
	return nick[:i]
}

func stripParams(uri string) string {
	uri, _, _ = strings.Cut(uri, ";")
	uri, _, _ = strings.Cut(uri, "?")
	return uri
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
