package main

import (
	"context"
	"errors"

	"cusax.dev/bridge/store"
)

// errNoBindings: the wrapped store keeps no bindings.
var errNoBindings = errors.New("store: this store keeps no bindings")

// AllBindings passes store.Bindings through the error-counting wrapper, so
// the core persists verified bindings (issue 8).
func (s *countedStore) AllBindings(ctx context.Context) ([]store.Binding, error) {
	bs, ok := s.Store.(store.Bindings)
	if !ok {
		return nil, nil
	}
	out, err := bs.AllBindings(ctx)
	s.count("read", err)
	return out, err
}

// SaveBinding implements store.Bindings on the wrapper.
func (s *countedStore) SaveBinding(ctx context.Context, b store.Binding) error {
	bs, ok := s.Store.(store.Bindings)
	if !ok {
		return errNoBindings
	}
	err := bs.SaveBinding(ctx, b)
	s.count("write", err)
	return err
}

var _ store.Bindings = (*countedStore)(nil)
