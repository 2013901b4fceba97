package focus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
)

// endedTx is a client transaction that sipgo ended without a final
// response and without an error: Done is closed, Err is nil. That is how a
// NOTIFY in flight looked at shutdown when it was recovered as a nil-pointer
// panic.
type endedTx struct {
	sip.ClientTransaction
	done      chan struct{}
	responses chan *sip.Response
}

func newEndedTx() *endedTx {
	tx := &endedTx{done: make(chan struct{}), responses: make(chan *sip.Response)}
	close(tx.done)
	return tx
}

func (tx *endedTx) Done() <-chan struct{}           { return tx.done }
func (tx *endedTx) Err() error                      { return nil }
func (tx *endedTx) Responses() <-chan *sip.Response { return tx.responses }

// A transaction that ends without a response and without an error is an
// error for the caller (errNoResponse), never (nil, nil); so is a closed
// response channel.
func TestFinalResponseNeverNilNil(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := finalResponse(ctx, newEndedTx())
	if res != nil || !errors.Is(err, errNoResponse) {
		t.Errorf("ended transaction: %v, %v; want nil, errNoResponse", res, err)
	}
	closedCh := &endedTx{done: make(chan struct{}), responses: make(chan *sip.Response)}
	close(closedCh.responses)
	res, err = finalResponse(ctx, closedCh)
	if res != nil || !errors.Is(err, errNoResponse) {
		t.Errorf("closed responses: %v, %v; want nil, errNoResponse", res, err)
	}
}

// notifyOutcome takes a missing response without an error as a NOTIFY
// without answer: the subscription ends (no panic).
func TestNotifyOutcomeNilResponse(t *testing.T) {
	f := &Focus{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if got := f.notifyOutcome(&subscription{room: "team"}, nil, nil); got != sentGone {
		t.Errorf("notifyOutcome(nil, nil) = %v, want sentGone", got)
	}
}

// waitBounded gives up after its bound on goroutines that do not finish,
// and returns as soon as they do. In a synctest bubble the bound passes in
// fake time: the test takes no real second.
func TestWaitBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		release := make(chan struct{})
		wg.Go(func() { <-release })
		start := time.Now()
		if waitBounded(&wg, 5*time.Second) {
			t.Fatal("waitBounded reported a running goroutine done")
		}
		if waited := time.Since(start); waited != 5*time.Second {
			t.Errorf("waited %v, want the bound (5s)", waited)
		}
		close(release)
		start = time.Now()
		if !waitBounded(&wg, 5*time.Second) {
			t.Fatal("waitBounded missed the end")
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("waited %v for a finished group", waited)
		}
		synctest.Wait() // the waiting goroutines of both calls have ended
	})
}

// A re-INVITE waits at most reinviteWait for the running INVITE
// transaction of its dialog, and not at all once the call ended.
func TestBeginInviteBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCall(nil, "team", "p1", nil, localMedia{})
		if !c.beginInvite() {
			t.Fatal("first INVITE refused")
		}
		start := time.Now()
		if c.beginInvite() {
			t.Fatal("second INVITE admitted while the first runs")
		}
		if waited := time.Since(start); waited != reinviteWait {
			t.Errorf("waited %v, want reinviteWait (%v)", waited, reinviteWait)
		}
		got := make(chan bool)
		go func() { got <- c.beginInvite() }()
		synctest.Wait() // the re-INVITE is waiting for the token
		c.endInvite()
		if !<-got {
			t.Error("re-INVITE refused after the running INVITE ended")
		}
		close(c.ended)
		start = time.Now()
		if c.beginInvite() || time.Since(start) != 0 {
			t.Error("re-INVITE of an ended call admitted or kept waiting")
		}
	})
}
