package focus

import (
	"context"
	"sync"
	"time"

	"cusax.dev/bridge/conference"
)

// shutdown ends the focus: new calls are refused, every call gets a BYE
// and every subscription a terminating NOTIFY (in parallel, bounded by
// ShutdownTimeout), participants leave the conference, the
// event stream stops, running handlers finish, and the listeners and the
// SIP stack close.
func (f *Focus) shutdown(stream *conference.Stream, followed <-chan struct{}) {
	f.draining.Store(true)
	close(f.stop)
	calls := f.calls.close()
	f.log.Info("SIP focus shutting down", "calls", len(calls))
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			f.safely("shutdown hang-up", func() { f.hangup(ctx, c, conference.Departed, conference.OriginSystem, true) })
		})
	}
	wg.Go(func() { f.safely("shutdown of subscriptions", func() { f.endSubscriptions(ctx) }) })
	wg.Wait()

	stream.Close()
	<-followed
	f.sweeper.Wait() // it stops at f.stop; its hangups are in f.bg
	f.bg.Wait()

	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		f.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(f.cfg.ShutdownTimeout):
		f.log.Warn("SIP handlers still running at shutdown")
	}
	f.closeListeners()
	if err := f.ua.Close(); err != nil {
		f.log.Debug("closing SIP stack", "err", err)
	}
}
