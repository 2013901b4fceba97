package focus

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"cusax.dev/bridge/conference"
)

// byeTimeout bounds one focus-initiated BYE transaction (UDP would
// otherwise retransmit for 64*T1).
const byeTimeout = 5 * time.Second

// onBye ends a call the caller hung up: 200, media closed, the core told
// the participant departed.
func (f *Focus) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c, ok := f.inDialogCall(req, tx)
	if !ok {
		return
	}
	// Out of the table before the 200 goes out, so that nothing after it
	// (a retransmitted or second BYE) still finds the dialog.
	first := f.end(c)
	f.reply(tx, req, 200, "OK", nil)
	c.signalled()
	if first {
		f.log.Info("call ended by caller", "call-id", c.dlg.key.callID, "room", c.room, "participant", c.pid)
		f.leave(c, conference.Departed, conference.OriginSIP)
	}
}

// hangup ends a call from the focus's side: out of the table, media
// closed, the core told how the participant left (unless tellCore is false
// because the core removed it already), and a BYE once a 2xx went out. Only
// the first of concurrent hangups (or the caller's BYE) does anything.
func (f *Focus) hangup(ctx context.Context, c *call, how conference.Departure, origin conference.Origin, tellCore bool) {
	if !f.end(c) {
		return
	}
	f.finishHangup(ctx, c, how, origin, tellCore)
}

// finishHangup is the rest of hangup once end returned true: the core,
// the BYE, the log line.
func (f *Focus) finishHangup(ctx context.Context, c *call, how conference.Departure, origin conference.Origin, tellCore bool) {
	if tellCore {
		f.leave(c, how, origin)
	}
	c.setReason(defaultReason(how))
	c.mu.Lock()
	established := c.established
	c.mu.Unlock()
	if established {
		// RFC 3261 §15: no BYE before the ACK of the 2xx (or the end of
		// the wait for it).
		f.awaitAck(ctx, c)
		f.bye(ctx, c)
	}
	c.signalled()
	f.log.Info("call ended by focus", "call-id", c.dlg.key.callID, "room", c.room, "participant", c.pid, "how", how)
}

// ackBeforeBye bounds how long a hang-up from the focus waits for the ACK
// of the 2xx it sent before the BYE goes out anyway.
const ackBeforeBye = 2 * time.Second

// awaitAck waits until the initial INVITE of c is acknowledged or no
// longer waits for its ACK, bounded by ackBeforeBye (and AckTimeout) and
// ctx.
func (f *Focus) awaitAck(ctx context.Context, c *call) {
	select {
	case <-c.ackDone:
		return
	default:
	}
	t := time.NewTimer(min(ackBeforeBye, f.cfg.AckTimeout))
	defer t.Stop()
	select {
	case <-c.ackDone:
	case <-t.C:
		f.log.Info("BYE sent without the ACK of the 2xx", "call-id", c.dlg.key.callID, "room", c.room, "participant", c.pid)
	case <-ctx.Done():
	}
}

// hangupNow is hangup for a failure found while handling a request of the
// call itself.
func (f *Focus) hangupNow(c *call, how conference.Departure) {
	f.hangup(f.detached(), c, how, conference.OriginSIP, true)
}

// bye sends BYE on the call's dialog and waits (bounded) for the answer.
func (f *Focus) bye(ctx context.Context, c *call) {
	ctx, cancel := context.WithTimeout(ctx, byeTimeout)
	defer cancel()
	req := c.dlg.request(sip.BYE)
	c.mu.Lock()
	if c.reason != "" {
		req.AppendHeader(sip.NewHeader("Reason", c.reason))
	}
	c.mu.Unlock()
	res, err := f.do(ctx, req)
	switch {
	case err != nil:
		f.log.Info("BYE got no answer", "call-id", c.dlg.key.callID, "err", err)
	case res.StatusCode >= 300 && res.StatusCode != 481:
		f.log.Info("BYE refused", "call-id", c.dlg.key.callID, "status", res.StatusCode)
	}
}

// defaultReason is the Reason of a BYE when nothing more specific was
// recorded: a moderator's removal (403), a media or signalling failure
// (408), the call leaving otherwise (the conference ended, the bridge
// shutting down, a replaced call: 200).
func defaultReason(how conference.Departure) (int, string) {
	switch how {
	case conference.Booted:
		return 403, "removed from the conference by a moderator"
	case conference.Failed:
		return 408, "no media or no answer from the phone"
	}
	return 200, "call ended by the conference"
}
