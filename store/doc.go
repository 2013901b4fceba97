// Package store owns the bridge's durable state: room configuration and
// subject, affiliations (bans included) and the last N chat messages of each
// room. The conference core talks to it through the small Store interface;
// SQLite (modernc.org/sqlite, pure Go, WAL, schema migrations at open) is the
// embedded default and Memory is the in-process double for tests. Every write
// is committed before its method returns, so the core may acknowledge an
// action as soon as the call succeeds and a restart loses none of it.
package store
