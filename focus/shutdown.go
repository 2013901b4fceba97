package focus

import (
	"context"
	"sync"
	"time"

	"cusax.dev/bridge/conference"
)

// shutdown ends the focus once its lifetime is over: new calls are refused
// (stopping), every call gets a BYE and every subscription a terminating
// NOTIFY (in parallel, bounded by ShutdownTimeout, under a context that
// outlives the lifetime), participants leave the conference, the event
// stream stops, the follower, the sweep and their hang-ups end, running
// handlers finish, and the listeners and the SIP stack close. Closing the
// SIP stack ends every transaction, so a handler still waiting on one (a
// dial-out's CANCEL to a silent callee) returns then; shutdown waits for
// it and for the listener loops before it returns.
func (f *Focus) shutdown(stream *conference.Stream) {
	calls := f.calls.close()
	f.log.Info("SIP focus shutting down", "calls", len(calls))
	ctx, cancel := context.WithTimeout(f.detached(), f.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			f.safely("shutdown hang-up", func() { f.hangup(ctx, c, conference.Departed, conference.OriginSystem, true) })
		})
	}
	wg.Go(func() { f.safely("shutdown of subscriptions", func() { f.endSubscriptions(ctx) }) })
	wg.Wait()

	stream.Close() // the follower returns; the sweep returned at the end of life
	f.work.Wait()

	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	if !waitBounded(&f.handlers, f.cfg.ShutdownTimeout) {
		f.log.Warn("SIP handlers still running at shutdown; closing the SIP stack under them")
	}
	f.closeListeners()
	if err := f.ua.Close(); err != nil {
		f.log.Debug("closing SIP stack", "err", err)
	}
	if !waitBounded(&f.handlers, f.cfg.ShutdownTimeout) {
		f.log.Error("SIP handlers still running after the SIP stack closed")
	}
	f.serving.Wait()
}

// waitBounded waits for wg at most d and reports whether it finished.
func waitBounded(wg *sync.WaitGroup, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return waitCtx(ctx, wg)
}

// waitCtx waits for wg until ctx ends and reports whether it finished. The
// waiting goroutine ends with wg (the goroutines wg counts are owned and
// bounded by their own code).
func waitCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
