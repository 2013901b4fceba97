package muc

import (
	"strings"
	"sync"
	"time"
)

// Bounds of the invitation bookkeeping.
const (
	// invitesPerMinute is how many invitations one occupant may send per
	// minute; more get policy-violation.
	invitesPerMinute = 20
	// inviteTTL is how long a relayed invitation may be declined.
	inviteTTL = 24 * time.Hour
	// maxPendingInvites bounds the invitations remembered for declines; the
	// oldest are forgotten first.
	maxPendingInvites = 4096
)

// invitations remembers the mediated invitations the service relayed
// (XEP-0045 §7.8.2), so that a decline is forwarded only to someone who
// invited the decliner to that room (the room is no open relay), and
// bounds how many invitations an occupant sends. It is presentation state:
// the core decides who may invite and records the membership it implies.
type invitations struct {
	mu      sync.Mutex
	pending map[inviteKey][]pendingInvite
	n       int // entries in pending
	rate    map[occKey]rateWindow
}

// inviteKey is a room and the invitee's bare JID.
type inviteKey struct{ room, invitee string }

type pendingInvite struct {
	inviter string // full JID the invitation came from
	expires time.Time
}

type rateWindow struct {
	start time.Time
	n     int
}

func newInvitations() *invitations {
	return &invitations{pending: map[inviteKey][]pendingInvite{}, rate: map[occKey]rateWindow{}}
}

// allow reports whether occupant (room, id) may send n more invitations
// now, and counts them if so.
func (iv *invitations) allow(room, id string, n int, now time.Time) bool {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	key := occKey{room, id}
	w := iv.rate[key]
	if now.Sub(w.start) >= time.Minute {
		w = rateWindow{start: now}
	}
	if w.n+n > invitesPerMinute {
		return false
	}
	w.n += n
	iv.rate[key] = w
	if len(iv.rate) > maxPendingInvites {
		for k, v := range iv.rate {
			if now.Sub(v.start) >= time.Minute {
				delete(iv.rate, k)
			}
		}
	}
	return true
}

// record remembers that inviter (a full JID) invited the bare JID invitee
// to room.
func (iv *invitations) record(room, invitee, inviter string, now time.Time) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	key := inviteKey{room, strings.ToLower(invitee)}
	list := iv.pending[key]
	for i := range list {
		if list[i].inviter == inviter {
			list[i].expires = now.Add(inviteTTL)
			return
		}
	}
	if iv.n >= maxPendingInvites {
		iv.evict(now)
	}
	iv.pending[key] = append(list, pendingInvite{inviter: inviter, expires: now.Add(inviteTTL)})
	iv.n++
}

// evict drops expired invitations and, if none had expired, the one
// closest to expiry. Called with mu held.
func (iv *invitations) evict(now time.Time) {
	var oldest inviteKey
	var oldestAt time.Time
	for k, list := range iv.pending {
		kept := list[:0]
		for _, p := range list {
			if now.Before(p.expires) {
				kept = append(kept, p)
				if oldestAt.IsZero() || p.expires.Before(oldestAt) {
					oldest, oldestAt = k, p.expires
				}
			}
		}
		iv.n -= len(list) - len(kept)
		if len(kept) == 0 {
			delete(iv.pending, k)
		} else {
			iv.pending[k] = kept
		}
	}
	if iv.n < maxPendingInvites || oldestAt.IsZero() {
		return
	}
	list := iv.pending[oldest]
	for i, p := range list {
		if p.expires.Equal(oldestAt) {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	iv.n--
	if len(list) == 0 {
		delete(iv.pending, oldest)
	} else {
		iv.pending[oldest] = list
	}
}

// take finds and forgets the invitation to room that the bare JID decliner
// declines towards to: a full JID must be the inviter's, a bare JID its
// bare JID; an empty to matches when exactly one invitation is pending. It
// returns the inviter's full JID on record.
func (iv *invitations) take(room, decliner, to string, now time.Time) (string, bool) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	key := inviteKey{room, strings.ToLower(decliner)}
	list := iv.pending[key]
	live := list[:0]
	for _, p := range list {
		if now.Before(p.expires) {
			live = append(live, p)
		}
	}
	iv.n -= len(list) - len(live)
	found := -1
	for i, p := range live {
		bareInviter, _, _ := strings.Cut(p.inviter, "/")
		if p.inviter == to || bareInviter == to || (to == "" && len(live) == 1) {
			found = i
			break
		}
	}
	var inviter string
	if found >= 0 {
		inviter = live[found].inviter
		live = append(live[:found], live[found+1:]...)
		iv.n--
	}
	if len(live) == 0 {
		delete(iv.pending, key)
	} else {
		iv.pending[key] = live
	}
	return inviter, found >= 0
}
