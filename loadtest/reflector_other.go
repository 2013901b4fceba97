//go:build !linux

package loadtest

import "context"

// RunPoll falls back to Run off Linux (no epoll).
func (r *Reflector) RunPoll(ctx context.Context) error {
	r.Run(ctx)
	return nil
}
