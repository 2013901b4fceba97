// Package confstate owns what the SIP focus publishes as RFC 4575 conference
// state. Renderer turns a conference.Snapshot into a full conference-info
// document (with the RFC 7106 grouptextchat service URI); a Feed holds one
// conference's current state, rendered once and diffed once per change for
// all its subscriptions; a View is one subscription's versioned, throttled
// stream of full and partial documents; Split cuts a document into a
// version-consecutive sequence that fits a byte budget, for subscribers the
// focus can reach only over UDP. It knows nothing of SIP transactions: the
// focus sends what it returns.
package confstate
