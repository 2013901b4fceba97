package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// A verified binding survives a restart (reopening the database), saving it
// again refreshes it, and bad identities are refused.
func TestBindingsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	s, err := OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, b := range []Binding{
		{JID: "bob@example.com", AOR: "sip:bob@example.com", Source: "config", At: at},
		{JID: "alice@example.com", AOR: "sip:alice@example.com", Source: "vcard", At: at},
		{JID: "alice@example.com", AOR: "sip:alice@example.com", Source: "vcard", At: at.Add(time.Hour)},
	} {
		if err := s.SaveBinding(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveBinding(ctx, Binding{JID: "", AOR: "sip:x@y"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty jid: %v", err)
	}
	if err := s.SaveBinding(ctx, Binding{JID: "a b@c", AOR: "sip:x@y"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("jid with a space: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.AllBindings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].JID != "alice@example.com" || !got[0].At.Equal(at.Add(time.Hour)) || got[1].Source != "config" {
		t.Fatalf("after reopen: %+v", got)
	}
	m := NewMemory()
	if err := m.SaveBinding(ctx, Binding{JID: "bob@example.com", AOR: "sip:bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	if mb, _ := m.AllBindings(ctx); len(mb) != 1 || mb[0].At.IsZero() {
		t.Fatalf("memory: %+v", mb)
	}
}
