package confstate

import (
	"math"

	"cusax.dev/bridge/confinfo"
)

// UDPBudget is a conference-info body budget for NOTIFYs sent over UDP.
// sipgo refuses UDP messages over 1300 bytes (sip.UDPMTUSize-200,
// ErrUDPMTUCongestion, no TCP fallback of its own); a focus
// NOTIFY's start line and headers (Via, From/To with tags, Call-ID, CSeq,
// Contact;isfocus, Event, Subscription-State, Content-Type, Content-Length,
// Max-Forwards) take roughly 350–450 bytes, which leaves about 900 for the
// body.
const UDPBudget = 900

// Split cuts d into a sequence of documents that each marshal to at most
// budget bytes whatever their version numbers, numbered d.Version,
// d.Version+1, … (exactly +1 each), such
// that a subscriber applying them in order with confinfo.State ends with the
// same state as applying d alone. A budget ≤ 0, a document that already fits
// and a deleted document give []*Document{d}.
//
// The first document keeps everything of d but its users: its
// conference-description, conference-state and the like, and as many users
// as fit; it keeps d's state (a full d gives a full first document, which
// lists fewer users than the conference has until the rest arrive). Each
// following document is a partial holding only <users state="partial"> with
// the next users in d's order. Users are independent keyed entries, so their
// order across documents does not matter for the result.
//
// A user that alone exceeds the budget is cut into pieces that merge back
// into it (the user without endpoints, then per endpoint its scalar
// fields, its *-info elements, media and call-info, as partial users and
// endpoints; see pieces),
// one piece per document, when every piece fits. One that still does not
// fit, or a first document without any user that exceeds the budget, is
// emitted over budget in a document of its own: the caller must then send
// that one over a stream transport or give up the subscription (sipgo
// fails such a UDP send with ErrUDPMTUCongestion).
// Renderer bounds the free-text values it copies (MaxSubject,
// MaxDisplayText, MaxReason), so one user (about 500 bytes) fits UDPBudget
// unless its URIs are unusually long. The head is about 750 bytes with a
// short room name, title and subject; a long subject or title can take it
// over UDPBudget.
//
// d is not modified; the returned documents share its users.
func Split(d *confinfo.Document, budget int) []*confinfo.Document {
	if d == nil {
		return nil
	}
	if budget <= 0 || d.State == confinfo.StateDeleted || d.Users == nil || len(d.Users.Users) == 0 {
		return []*confinfo.Document{d}
	}
	var buf []byte
	size := func(doc *confinfo.Document) int {
		var err error
		buf, err = doc.AppendTo(buf[:0])
		if err != nil {
			return math.MaxInt / 4 // cannot be rendered: let the caller's Marshal report it
		}
		return len(buf)
	}
	// Sizes are measured with the widest version, so that the result fits
	// whatever versions the caller numbers it with.
	widest := *d
	widest.Version = math.MaxUint32
	if size(&widest) <= budget {
		return []*confinfo.Document{d}
	}

	// User sizes are additive: the encoder writes each user the same way
	// wherever it stands.
	probe := &confinfo.Document{Entity: d.Entity, State: confinfo.StatePartial, Version: math.MaxUint32,
		Users: &confinfo.Users{State: confinfo.StatePartial}}
	empty := size(probe)
	one := make([]confinfo.User, 1)
	userSize := func(u confinfo.User) int {
		one[0] = u
		probe.Users.Users = one
		n := size(probe) - empty
		probe.Users.Users = nil
		return n
	}
	// A user too big for a document of its own is cut into pieces that
	// merge back into it (see pieces), when every piece fits.
	users := make([]confinfo.User, 0, len(d.Users.Users))
	sizes := make([]int, 0, len(d.Users.Users))
	piece := make([]bool, 0, len(d.Users.Users)) // users[i] is a piece of a cut user
	for _, u := range d.Users.Users {
		n := userSize(u)
		if n > budget-empty {
			ps := pieces(u)
			psz := make([]int, len(ps))
			fit := len(ps) > 1
			for j := range ps {
				psz[j] = userSize(ps[j])
				fit = fit && psz[j] <= budget-empty
			}
			if fit {
				users = append(users, ps...)
				sizes = append(sizes, psz...)
				for range ps {
					piece = append(piece, true)
				}
				continue
			}
		}
		users = append(users, u)
		sizes = append(sizes, n)
		piece = append(piece, false)
	}

	head := *d
	head.Users = &confinfo.Users{State: d.Users.State}
	head.Version = math.MaxUint32 // widest version: every real one fits
	headSize := size(&head)
	head.Version = d.Version

	out := make([]*confinfo.Document, 0, 4)
	// Pieces of a cut user go one per document (two would repeat a key)
	// and never into the head (a full head lists full users only).
	whole := func(from, end int) int {
		for k := from; k < end; k++ {
			if piece[k] {
				return k
			}
		}
		return end
	}
	cut := whole(0, take(sizes, 0, budget-headSize, false))
	head.Users.Users = users[:cut:cut]
	first := head
	out = append(out, &first)
	for next := cut; next < len(users); {
		end := next + 1
		if !piece[next] {
			end = max(whole(next, take(sizes, next, budget-empty, true)), next+1)
		}
		out = append(out, &confinfo.Document{
			Entity:  d.Entity,
			State:   confinfo.StatePartial,
			Version: d.Version + uint32(len(out)),
			Users:   &confinfo.Users{State: confinfo.StatePartial, Users: users[next:end:end]},
		})
		next = end
	}
	return out
}

// take returns the end index of the longest run sizes[from:end] whose sum
// fits room; with atLeastOne it takes one entry even if that does not fit.
func take(sizes []int, from, room int, atLeastOne bool) int {
	end, sum := from, 0
	for end < len(sizes) && sum+sizes[end] <= room {
		sum += sizes[end]
		end++
	}
	if end == from && atLeastOne && from < len(sizes) {
		end++
	}
	return end
}

// pieces cuts a user into a sequence of users with its entity which, merged
// in order by the rules of RFC 4575 §4.6, give the user back: first the
// user without endpoints (in the user's own state, so that a full user
// still replaces the held one), then per endpoint a partial user holding
// the endpoint's scalar fields (in the endpoint's own state), then one
// partial endpoint each for referred, joining-info, disconnection-info,
// the media and call-info.
// A deleted user, or one without endpoints, is one piece.
func pieces(u confinfo.User) []confinfo.User {
	if u.State == confinfo.StateDeleted || len(u.Endpoints) == 0 {
		return []confinfo.User{u}
	}
	head := u
	head.Endpoints = nil
	out := []confinfo.User{head}
	part := func(ep confinfo.Endpoint) confinfo.User {
		return confinfo.User{Entity: u.Entity, State: confinfo.StatePartial, Endpoints: []confinfo.Endpoint{ep}}
	}
	for _, ep := range u.Endpoints {
		core := ep
		core.Referred, core.JoiningInfo, core.DisconnectionInfo, core.Media, core.CallInfo = nil, nil, nil, nil, nil
		out = append(out, part(core))
		if ep.State == confinfo.StateDeleted {
			continue
		}
		rest := []confinfo.Endpoint{
			{Referred: ep.Referred}, {JoiningInfo: ep.JoiningInfo}, {DisconnectionInfo: ep.DisconnectionInfo},
			{Media: ep.Media}, {CallInfo: ep.CallInfo},
		}
		for _, r := range rest {
			if r.Referred == nil && r.JoiningInfo == nil && r.DisconnectionInfo == nil && len(r.Media) == 0 && r.CallInfo == nil {
				continue
			}
			r.Entity, r.State = ep.Entity, confinfo.StatePartial
			out = append(out, part(r))
		}
	}
	return out
}
