package main

import (
	"context"
	"errors"

	"cusax.dev/bridge/metrics"
	"cusax.dev/bridge/store"
)

// countedStore counts the store's failures in cusax_store_errors_total{op}
// (read, write, ping) for the "store errors" alert. Methods it does not
// override pass through the embedded Store uncounted.
type countedStore struct {
	store.Store
	m *metrics.Metrics
}

// countStoreErrors wraps st so that its failures are counted.
func countStoreErrors(st store.Store, m *metrics.Metrics) store.Store {
	return &countedStore{Store: st, m: m}
}

func (s *countedStore) count(op string, err error) {
	if err != nil && !errors.Is(err, store.ErrClosed) && !errors.Is(err, context.Canceled) {
		s.m.StoreErrors.WithLabelValues(op).Inc()
	}
}

// Ping asks the wrapped store (readiness uses it).
func (s *countedStore) Ping(ctx context.Context) error {
	err := s.Store.Ping(ctx)
	s.count("ping", err)
	return err
}

func (s *countedStore) Rooms(ctx context.Context) ([]store.Room, error) {
	r, err := s.Store.Rooms(ctx)
	s.count("read", err)
	return r, err
}

func (s *countedStore) Room(ctx context.Context, name string) (store.Room, bool, error) {
	r, ok, err := s.Store.Room(ctx, name)
	s.count("read", err)
	return r, ok, err
}

func (s *countedStore) SaveRoom(ctx context.Context, r store.Room) error {
	err := s.Store.SaveRoom(ctx, r)
	s.count("write", err)
	return err
}

func (s *countedStore) DeleteRoom(ctx context.Context, name string) error {
	err := s.Store.DeleteRoom(ctx, name)
	s.count("write", err)
	return err
}

func (s *countedStore) Affiliations(ctx context.Context, room string) ([]store.Affiliation, error) {
	a, err := s.Store.Affiliations(ctx, room)
	s.count("read", err)
	return a, err
}

func (s *countedStore) SetAffiliation(ctx context.Context, a store.Affiliation) error {
	err := s.Store.SetAffiliation(ctx, a)
	s.count("write", err)
	return err
}

func (s *countedStore) AppendMessage(ctx context.Context, msg store.Message, keep int) error {
	err := s.Store.AppendMessage(ctx, msg, keep)
	s.count("write", err)
	return err
}

func (s *countedStore) History(ctx context.Context, room string, limit int) ([]store.Message, error) {
	h, err := s.Store.History(ctx, room, limit)
	s.count("read", err)
	return h, err
}
