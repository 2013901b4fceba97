package focus

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/confinfo"
	"cusax.dev/bridge/focus/confstate"
)

// serve is a subscription's sender: it sends the first NOTIFY (full
// state), then, each time it is poked or its throttle timer fires, the
// partial documents its View hands out, and finally the terminating
// NOTIFY. One goroutine per subscription keeps its NOTIFYs in order and
// lets a slow subscriber wait alone. It removes the subscription when it
// returns.
func (f *Focus) serve(s *subscription) {
	defer f.subs.wg.Done()
	defer f.dropSubscription(s)
	now := time.Now()
	s.mu.Lock()
	fetch := s.fetch
	s.mu.Unlock()
	if fetch {
		f.sendDocs(s, s.view.Initial(now), "terminated;reason=timeout")
		return
	}
	if !f.sendDocs(s, s.view.Initial(now), "") {
		return
	}
	throttle := time.NewTimer(time.Hour)
	throttle.Stop()
	defer throttle.Stop()
	var throttleAt time.Time
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		s.mu.Lock()
		end, exp := s.end, s.expires
		refresh, resync, lost := s.refresh, s.resync, s.lost
		retryTCP := s.retryTCP
		s.refresh, s.resync, s.retryTCP, s.lost = false, false, false, 0
		s.mu.Unlock()
		now = time.Now()
		if end == endNone && !now.Before(exp) {
			end = endTimeout
		}
		if end != endNone {
			f.finish(s, end, now)
			return
		}
		if retryTCP && s.udpOnly {
			s.udpOnly = false
			s.view.SetBudget(0)
		}
		var docs []*confinfo.Document
		var next time.Time
		switch {
		case resync:
			docs = s.view.Resync(now, lost)
		case refresh:
			docs = s.view.Refresh(now)
		default:
			docs, next = s.view.Update(now)
		}
		if len(docs) > 0 && !f.sendDocs(s, docs, "") {
			return
		}
		if !next.IsZero() && !next.Equal(throttleAt) {
			throttle.Reset(time.Until(next))
			throttleAt = next
		}
		expiry.Reset(time.Until(exp))
		select {
		case <-s.wake:
		case <-throttle.C:
			throttleAt = time.Time{}
		case <-expiry.C:
		}
	}
}

// finish sends the terminating NOTIFY for reason.
func (f *Focus) finish(s *subscription, reason endReason, now time.Time) {
	switch reason {
	case endNoResource:
		f.sendDocs(s, []*confinfo.Document{s.view.Ended(now)}, "terminated;reason=noresource")
	case endRejected:
		f.sendDocs(s, s.view.Final(now), "terminated;reason=rejected")
	default:
		f.sendDocs(s, s.view.Final(now), "terminated;reason=timeout")
	}
	f.log.Info("conference subscription ended", "room", s.room, "call-id", s.key.callID, "reason", reason.String())
}

func (r endReason) String() string {
	switch r {
	case endTimeout:
		return "timeout"
	case endRejected:
		return "rejected"
	case endNoResource:
		return "noresource"
	}
	return "none"
}

// dropSubscription takes s out of the table, once.
func (f *Focus) dropSubscription(s *subscription) {
	if f.subs.remove(s) && f.m != nil {
		f.m.SubscriptionsActive.Dec()
	}
	close(s.done)
}

// sendOutcome is what became of one NOTIFY.
type sendOutcome int

const (
	sentOK     sendOutcome = iota
	sentGone               // the subscription must end without another NOTIFY
	sentLater              // refused for now (Retry-After): resynchronise later
	sentTooBig             // neither TCP nor UDP can carry it
)

// sendDocs sends docs as consecutive NOTIFYs; the last carries
// finalState as its Subscription-State when finalState is not empty. When
// a document is too big for UDP and TCP to the subscriber fails, the
// subscription switches to UDP-sized documents for good (until a refresh)
// and starts over with full state cut to the UDP size, numbered from the
// version that did not get through (RFC 3261 §18.1.1 allows the fall back;
// the subscriber sees no gap). A NOTIFY refused for now (Retry-After) is
// followed by full state at the next change, also numbered from its
// version. It returns false when the subscription
// is over (failed or terminated).
func (f *Focus) sendDocs(s *subscription, docs []*confinfo.Document, finalState string) bool {
	for i := 0; i < len(docs); i++ {
		state := finalState
		if i < len(docs)-1 || finalState == "" {
			state = f.activeState(s)
		}
		switch f.sendDoc(s, docs[i], state) {
		case sentOK:
		case sentLater:
			s.mu.Lock()
			s.resync, s.lost = true, docs[i].Version
			s.mu.Unlock()
			return finalState == ""
		case sentTooBig:
			if s.udpOnly {
				f.log.Warn("conference state does not fit a UDP NOTIFY; subscription ended", "room", s.room, "call-id", s.key.callID)
				return false
			}
			f.log.Info("TCP to subscriber failed; sending UDP-sized documents", "room", s.room, "call-id", s.key.callID)
			s.udpOnly = true
			s.view.SetBudget(s.udpBudget())
			docs, i = s.view.Resync(time.Now(), docs[i].Version), -1
		default:
			return false
		}
	}
	return finalState == ""
}

// udpBudget is the body size that keeps a NOTIFY of s within the UDP
// limit, from the size of its last NOTIFY's start line and headers (with
// room for the Via and for longer version and expires numbers).
func (s *subscription) udpBudget() int {
	hdr := s.headerLen
	if hdr <= 0 {
		hdr = udpLimit - confstate.UDPBudget
	}
	return max(udpLimit-hdr-viaSlack-16, 1)
}

// activeState is the Subscription-State of a NOTIFY that keeps s.
func (f *Focus) activeState(s *subscription) string {
	s.mu.Lock()
	left := time.Until(s.expires)
	s.mu.Unlock()
	secs := int(math.Ceil(left.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return "active;expires=" + strconv.Itoa(secs)
}

// udpLimit is the largest SIP message sipgo sends over UDP
// (sip.UDPMTUSize-200); viaSlack is room for the Via the client adds.
const (
	udpLimit = 1300
	viaSlack = 120
)

// sendDoc sends one conference NOTIFY. A message too big for UDP goes over
// TCP to the same address (RFC 3261 §18.1.1) unless the subscription is
// UDP-only; sentTooBig means TCP failed (or a UDP-only document still does
// not fit).
func (f *Focus) sendDoc(s *subscription, doc *confinfo.Document, state string) sendOutcome {
	body, err := doc.Marshal()
	if err != nil {
		f.log.Error("conference-info not renderable; subscription ended", "room", s.room, "err", err)
		return sentGone
	}
	udp := strings.EqualFold(s.dlg.transport, "udp")
	req := f.notifyRequest(s.dlg, s.event.String(), conferenceInfoType, body, state)
	size := len(req.String())
	s.headerLen = size - len(body)
	big := udp && !s.udpOnly && size+viaSlack > udpLimit
	if big {
		req.SetTransport("TCP")
	}
	res, err := f.sendNotify(req)
	switch {
	case big && err != nil:
		f.log.Debug("NOTIFY over TCP failed", "room", s.room, "call-id", s.key.callID, "err", err)
		return sentTooBig
	case errors.Is(err, sip.ErrUDPMTUCongestion):
		return sentTooBig
	}
	return f.notifyOutcome(s, res, err)
}

// notifyOutcome applies RFC 6665 §4.2.2 to a NOTIFY's answer: a timeout or
// an error response without Retry-After removes the subscription (481 and
// 408 included); an error with Retry-After keeps it for a later resync.
func (f *Focus) notifyOutcome(s *subscription, res *sip.Response, err error) sendOutcome {
	switch {
	case err == nil && res == nil:
		err = errNoResponse
		fallthrough
	case err != nil:
		f.log.Info("NOTIFY got no answer; subscription removed", "room", s.room, "call-id", s.key.callID, "err", err)
		return sentGone
	case res.IsSuccess():
		return sentOK
	case res.GetHeader("Retry-After") != nil && res.StatusCode != 481:
		f.log.Info("NOTIFY refused for now", "room", s.room, "call-id", s.key.callID, "status", res.StatusCode)
		return sentLater
	default:
		f.log.Info("NOTIFY refused; subscription removed", "room", s.room, "call-id", s.key.callID, "status", res.StatusCode)
		return sentGone
	}
}

// notify sends one NOTIFY in dlg and returns its final response; ctx may
// end the wait early.
func (f *Focus) notify(ctx context.Context, dlg *dialog, event, contentType string, body []byte, state string) (*sip.Response, error) {
	return f.sendNotifyCtx(ctx, f.notifyRequest(dlg, event, contentType, body, state))
}

// notifyRequest builds a NOTIFY in dlg.
func (f *Focus) notifyRequest(dlg *dialog, event, contentType string, body []byte, state string) *sip.Request {
	req := dlg.request(sip.NOTIFY)
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
	return req
}

// sendNotify sends a conference NOTIFY (bounded by NotifyTimeout) and
// returns its final response. It goes out also while the focus shuts down:
// the final NOTIFYs of shutdown are such NOTIFYs.
func (f *Focus) sendNotify(req *sip.Request) (*sip.Response, error) {
	return f.sendNotifyCtx(f.detached(), req)
}

// sendNotifyCtx sends a NOTIFY and returns its final response; the wait
// ends after NotifyTimeout or with ctx. It is counted in notify_sent_total
// once it is on the wire (a TCP connection that cannot be made sends
// nothing). A response is never nil without an error.
func (f *Focus) sendNotifyCtx(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.NotifyTimeout)
	defer cancel()
	f.prepare(req)
	tx, err := f.cli.TransactionRequest(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return nil, err
	}
	defer tx.Terminate()
	if f.m != nil {
		pkg, _, _ := strings.Cut(req.GetHeader("Event").Value(), ";")
		f.m.NotifySent.WithLabelValues(pkg).Inc()
	}
	return finalResponse(ctx, tx)
}

// errNoResponse is a client transaction that ended without a final
// response and without an error of its own (sipgo ends transactions that
// way, at shutdown for one).
var errNoResponse = errors.New("focus: transaction ended without a final response")

// finalResponse waits for tx's final response, skipping provisional ones,
// until tx ends or ctx does. It never returns (nil, nil).
func finalResponse(ctx context.Context, tx sip.ClientTransaction) (*sip.Response, error) {
	for {
		select {
		case res := <-tx.Responses():
			if res == nil {
				return nil, errNoResponse
			}
			if res.IsProvisional() {
				continue
			}
			return res, nil
		case <-tx.Done():
			if err := tx.Err(); err != nil {
				return nil, err
			}
			return nil, errNoResponse
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
