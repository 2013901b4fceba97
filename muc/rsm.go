package muc

import (
	"strconv"
	"unicode/utf8"
)

// NSRSM is Result Set Management (XEP-0059).
const NSRSM = "http://jabber.org/protocol/rsm"

// Limits on what the service sends (Config.MaxStanzaBytes, disco#items
// pages).
const (
	// DefaultMaxStanzaBytes caps any stanza the service sends: half of
	// Prosody's default component stanza limit (512 KiB), which cuts the
	// component connection when crossed.
	DefaultMaxStanzaBytes = 256 << 10
	// maxItemsPage is the most disco#items the service returns at once,
	// asked or not (XEP-0059 §2.6: a responding entity may return a
	// limited result set with <set/> unrequested).
	maxItemsPage = 100
)

// rsmRequest is a parsed <set xmlns='http://jabber.org/protocol/rsm'/>.
type rsmRequest struct {
	max       int    // -1: not given
	after     string // item key to page after; "" none
	before    string // item key to page before
	hasBefore bool   // <before/> present (empty: the last page)
	index     int    // -1: not given
}

// parseRSM reads the <set/> of a query; ok is false for a malformed one
// (bad-request). A query without <set/> gives max -1.
func parseRSM(q *node) (r rsmRequest, ok bool) {
	r = rsmRequest{max: -1, index: -1}
	set := q.child(NSRSM, "set")
	if set == nil {
		return r, true
	}
	if m, present := rsmText(set, "max"); present {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return r, false
		}
		r.max = n
	}
	if a, present := rsmText(set, "after"); present {
		if a == "" {
			return r, false
		}
		r.after = a
	}
	if b, present := rsmText(set, "before"); present {
		r.before, r.hasBefore = b, true
	}
	if i, present := rsmText(set, "index"); present {
		n, err := strconv.Atoi(i)
		if err != nil || n < 0 {
			return r, false
		}
		r.index = n
	}
	if r.after != "" && r.hasBefore {
		return r, false
	}
	return r, true
}

// page picks the window of keys (sorted) the request asks for, at most
// maxItemsPage long. found is false when after or before names a key that
// is not in the list (item-not-found, XEP-0059 §2.4).
func (r rsmRequest) page(keys []string) (from, to int, found bool) {
	limit := maxItemsPage
	if r.max >= 0 && r.max < limit {
		limit = r.max
	}
	n := len(keys)
	switch {
	case r.after != "":
		i := indexOf(keys, r.after)
		if i < 0 {
			return 0, 0, false
		}
		from = i + 1
		to = min(from+limit, n)
	case r.hasBefore && r.before != "":
		i := indexOf(keys, r.before)
		if i < 0 {
			return 0, 0, false
		}
		to = i
		from = max(0, to-limit)
	case r.hasBefore:
		to = n
		from = max(0, n-limit)
	case r.index >= 0:
		from = min(r.index, n)
		to = min(from+limit, n)
	default:
		to = min(limit, n)
	}
	return from, to, true
}

func indexOf(keys []string, k string) int {
	for i, x := range keys {
		if x == k {
			return i
		}
	}
	return -1
}

// rsmSet is the <set/> of an answer: first and last keys of the page, its
// index, and the total count.
func rsmSet(keys []string, from, to int) *node {
	set := elNS(NSRSM, "set")
	if to > from {
		set.add(textEl("first", keys[from]).set("index", strconv.Itoa(from)), textEl("last", keys[to-1]))
	}
	return set.add(textEl("count", strconv.Itoa(len(keys))))
}

// sizeBound returns an upper bound of the bytes n takes when serialised
// (every character counted as if it had to be escaped as an entity of up
// to 6 bytes when it is one of & < > " ' or a control character).
func (n *node) sizeBound() int {
	size := 2*len(n.Name.Local) + 5 // <x>…</x>
	if n.Name.Space != "" {
		size += len(n.Name.Space) + 10 // xmlns='…'
	}
	for _, a := range n.Attr {
		size += len(a.Name.Local) + len(a.Name.Space) + 4 + escapedBound(a.Value)
	}
	size += escapedBound(n.Text)
	for _, k := range n.Kids {
		size += k.sizeBound()
	}
	return size
}

func escapedBound(s string) int {
	size := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' || c < 0x20:
			size += 5
		case c >= utf8.RuneSelf:
			// Invalid UTF-8 is replaced by U+FFFD (3 bytes) per byte.
			size += 2
		}
	}
	return size
}

// rsmText returns the text of <set/>'s child local (in the RSM namespace,
// or none), and whether it exists.
func rsmText(set *node, local string) (string, bool) {
	c := set.child(NSRSM, local)
	if c == nil {
		c = set.child("", local)
	}
	if c == nil {
		return "", false
	}
	return c.Text, true
}
