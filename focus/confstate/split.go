package confstate

import (
	"math"

	"cusax.dev/bridge/confinfo"
)

// UDPBudget is a conference-info body budget for NOTIFYs sent over UDP.
// sipgo refuses UDP messages over 1300 bytes (LIBRARIES.md §1.7.2); a focus
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
// A single user, or the first document without any user, that alone exceeds
// the budget is still emitted, over budget, in a document of its own: the
// caller must then send that one over a stream transport or give up the
// subscription (sipgo fails such a UDP send with ErrUDPMTUCongestion).
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
	probe.Users.Users = one
	sizes := make([]int, len(d.Users.Users))
	for i := range d.Users.Users {
		one[0] = d.Users.Users[i]
		sizes[i] = size(probe) - empty
	}
	probe.Users.Users = nil

	head := *d
	head.Users = &confinfo.Users{State: d.Users.State}
	head.Version = math.MaxUint32 // widest version: every real one fits
	headSize := size(&head)
	head.Version = d.Version

	users := d.Users.Users
	out := make([]*confinfo.Document, 0, 4)
	cut := take(sizes, 0, budget-headSize, false)
	head.Users.Users = users[:cut:cut]
	first := head
	out = append(out, &first)
	for next := cut; next < len(users); {
		end := take(sizes, next, budget-empty, true)
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
