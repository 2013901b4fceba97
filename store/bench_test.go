package store

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkAppendMessage appends to a room whose history is full (keep=50),
// so every op is an insert plus a trim in one committed transaction.
func BenchmarkAppendMessage(b *testing.B) {
	for _, impl := range implementations() {
		b.Run(impl.name, func(b *testing.B) {
			s := impl.open(b)
			m := Message{Room: "team", ID: "id", Nick: "alice", FromJID: "alice@example.com/phone", Body: strings.Repeat("x", 120)}
			for range 60 {
				if err := s.AppendMessage(ctx, m, 50); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.AppendMessage(ctx, m, 50); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAffiliations reads a room's list of 20 affiliations (what the core
// does when checking a join against bans and members-only).
func BenchmarkAffiliations(b *testing.B) {
	for _, impl := range implementations() {
		b.Run(impl.name, func(b *testing.B) {
			s := impl.open(b)
			for i := range 20 {
				v := AffMember
				if i%4 == 0 {
					v = AffOutcast
				}
				if err := s.SetAffiliation(ctx, Affiliation{Room: "team", Identity: fmt.Sprintf("user%02d@example.com", i), Value: v}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a, err := s.Affiliations(ctx, "team")
				if err != nil || len(a) != 20 {
					b.Fatal(len(a), err)
				}
			}
		})
	}
}

// BenchmarkHistory reads the 50 messages a joiner is sent.
func BenchmarkHistory(b *testing.B) {
	for _, impl := range implementations() {
		b.Run(impl.name, func(b *testing.B) {
			s := impl.open(b)
			m := Message{Room: "team", Nick: "alice", Body: strings.Repeat("x", 120)}
			for range 50 {
				if err := s.AppendMessage(ctx, m, 50); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h, err := s.History(ctx, "team", 50)
				if err != nil || len(h) != 50 {
					b.Fatal(len(h), err)
				}
			}
		})
	}
}
