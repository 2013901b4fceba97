package focus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
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
