package focus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
	"cusax.dev/bridge/mixer"
)

// coreTimeout bounds calls into the conference core made from SIP or media
// events (the core may persist to its store).
const coreTimeout = 5 * time.Second

// call is one participant's SIP call: its dialog, its seat in the
// conference and its mixer leg.
type call struct {
	dlg  *dialog
	room string
	pid  string // conference participant ID
	leg  *mixer.Leg

	ended   chan struct{} // closed by end
	endOnce sync.Once
	// byeDone is closed once the call's end has been signalled on the
	// wire: the focus's BYE was answered (or not needed, or timed out), or
	// the caller's BYE was answered. An ejection waits for it before it
	// reports success to the referrer.
	byeDone chan struct{}
	byeOnce sync.Once
	// invite holds a token while an INVITE transaction (the initial one or
	// a re-INVITE) runs, until its ACK is processed.
	invite chan struct{}
	// ackDone is closed once the initial INVITE no longer waits for the
	// ACK of its 2xx: the ACK came, the wait gave up, or the focus placed
	// the call (dial-out). Until then the focus sends no BYE (RFC 3261
	// §15).
	ackDone chan struct{}
	ackOnce sync.Once

	mu          sync.Mutex
	local       localMedia // the focus's SDP for this call
	neg         negotiated // the media in force
	started     bool       // leg started (after the first complete offer/answer)
	established bool       // a 2xx to the initial INVITE went out
	ack         *ackWait   // the ACK the running INVITE transaction waits for
	clock       mediaClock // the RTP timeout's view of the call (rtptimeout.go)
	// reason is the Reason header of the focus's BYE (RFC 3326), set once
	// by whoever decides the call ends (a kick, a ban, a timeout).
	reason string
}

// setReason records why the focus ends the call, unless a reason is
// recorded already (the first decision wins).
func (c *call) setReason(cause int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		c.reason = reasonValue(cause, text)
	}
}

// ackWait is an ACK expected for the 2xx to the INVITE with CSeq seq.
type ackWait struct {
	seq uint32
	ch  chan *sip.Request
}

// expectAck arms the wait for the ACK of the INVITE with CSeq seq.
func (c *call) expectAck(seq uint32) <-chan *sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ack = &ackWait{seq: seq, ch: make(chan *sip.Request, 1)}
	return c.ack.ch
}

// deliverAck hands an ACK to the INVITE transaction waiting for it; false
// when none waits for this CSeq (retransmission, stray ACK).
func (c *call) deliverAck(req *sip.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ack == nil || req.CSeq() == nil || req.CSeq().SeqNo != c.ack.seq {
		return false
	}
	c.ack.ch <- req // buffered, and c.ack is cleared: never blocks
	c.ack = nil
	return true
}

// reinviteWait is how long a re-INVITE waits for the previous INVITE
// transaction of its dialog to finish: the peer sends its ACK before a new
// INVITE, but the two may cross on the way or in our handlers.
const reinviteWait = time.Second

// beginInvite takes the dialog's INVITE token; false when the previous
// INVITE transaction did not finish in time or the call ended.
func (c *call) beginInvite() bool {
	t := time.NewTimer(reinviteWait)
	defer t.Stop()
	select {
	case c.invite <- struct{}{}:
		return true
	case <-t.C:
	case <-c.ended:
	}
	return false
}

// endInvite releases the INVITE token.
func (c *call) endInvite() {
	c.mu.Lock()
	c.ack = nil
	c.mu.Unlock()
	<-c.invite
}

// newCall returns a call in room for participant pid on dlg and leg.
func newCall(dlg *dialog, room, pid string, leg *mixer.Leg, local localMedia) *call {
	return &call{dlg: dlg, room: room, pid: pid, leg: leg, local: local,
		ended: make(chan struct{}), byeDone: make(chan struct{}), invite: make(chan struct{}, 1),
		ackDone: make(chan struct{})}
}

// acked closes ackDone, once.
func (c *call) acked() { c.ackOnce.Do(func() { close(c.ackDone) }) }

// signalled closes byeDone, once.
func (c *call) signalled() { c.byeOnce.Do(func() { close(c.byeDone) }) }

// isEnded reports whether end ran.
func (c *call) isEnded() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

// end takes the call out of the table and closes its media, once. Exactly
// one caller gets true: that one tells the core and sends any BYE.
func (f *Focus) end(c *call) bool {
	first := false
	c.endOnce.Do(func() {
		first = true
		f.calls.remove(c)
		close(c.ended)
		if err := c.leg.Close(); err != nil {
			f.log.Warn("closing media leg", "room", c.room, "participant", c.pid, "err", err)
		}
	})
	return first
}

// leave tells the core that the call's participant left.
func (f *Focus) leave(c *call, how conference.Departure, origin conference.Origin) {
	ctx, cancel := context.WithTimeout(f.detached(), coreTimeout) // also at shutdown
	defer cancel()
	if err := f.reg.Leave(ctx, c.room, c.pid, how, origin); err != nil && !errors.Is(err, conference.ErrNotFound) {
		f.log.Warn("conference leave failed", "room", c.room, "participant", c.pid, "err", err)
	}
}

// applyMedia puts negotiated media into force: it starts the leg after the
// first complete offer/answer and updates it afterwards.
func (f *Focus) applyMedia(c *call, n negotiated) error {
	p := mixer.LegParams{Remote: n.Remote, RemoteRTCP: n.RemoteRTCP, Codec: n.Codec,
		DTMFPayloadType: n.DTMF, Direction: n.Mixer(), RTCPMux: n.RTCPMux}
	c.mu.Lock()
	defer c.mu.Unlock()
	p.SRTP = srtpParams(n, c.local.SRTPKey)
	var err error
	if !c.started {
		err = c.leg.Start(c.room, p, f.legHandlers(c.room, c.pid))
		c.started = err == nil
	} else {
		err = c.leg.Update(p)
	}
	if err != nil {
		return err
	}
	c.neg = n
	return nil
}

// updateCore reports the negotiated media of a call to the core (codec,
// hold) and its current Contact.
func (f *Focus) updateCore(c *call, n negotiated) {
	c.dlg.mu.Lock()
	endpoint := c.dlg.remoteTarget.Addr()
	c.dlg.mu.Unlock()
	ctx, cancel := f.coreCtx()
	defer cancel()
	err := f.reg.UpdateAudio(ctx, c.room, c.pid, func(a *conference.Audio) {
		a.Codec, a.OnHold, a.Endpoint = n.Codec.Name, n.OnHold(), endpoint
	})
	if err != nil && !errors.Is(err, conference.ErrNotFound) {
		f.log.Warn("conference media update failed", "room", c.room, "participant", c.pid, "err", err)
	}
}

// legHandlers turn the mixer's events for one leg into core calls: DTMF
// digits (the core runs the *6 and *1PIN# menu), the energy gate, and the
// remote SSRC.
func (f *Focus) legHandlers(room, pid string) mixer.Handlers {
	return mixer.Handlers{
		DTMF: func(d rune) {
			ctx, cancel := f.coreCtx()
			defer cancel()
			if err := f.reg.DTMF(ctx, room, pid, d); err != nil {
				f.log.Debug("DTMF not taken", "room", room, "participant", pid, "digit", string(d), "err", err)
			}
		},
		Speaking: func(s bool) { f.reg.SetSpeaking(room, pid, s) },
		SSRC: func(ssrc uint32) {
			ctx, cancel := f.coreCtx()
			defer cancel()
			if err := f.reg.UpdateAudio(ctx, room, pid, func(a *conference.Audio) { a.SSRC = ssrc }); err != nil {
				f.log.Debug("SSRC not recorded", "room", room, "participant", pid, "err", err)
			}
		},
	}
}

// syncMute sets the leg's mute from the core's current state of the
// participant; false when the participant is no longer in the conference.
// It reads the core under the call's lock, so the last sync always applies
// the newest state whatever the order of events and joins.
func (f *Focus) syncMute(c *call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := f.reg.Participant(c.room, c.pid)
	if !ok {
		return false
	}
	c.leg.SetMuted(p.Muted)
	return true
}
