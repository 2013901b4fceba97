// Package confinfo owns the RFC 4575 conference-info XML document: a Go model
// of conference-info+xml in schema order, a byte-stable marshaller for the
// focus (the notifier renders full and partial documents), a bounded, strict
// parser, and the subscriber-side partial-state merge of RFC 4575 §4.6
// (State.Apply) for the bundled client. It depends on the standard library
// only and knows nothing of SIP transactions, conferences or rooms.
package confinfo
