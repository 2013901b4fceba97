// Package confstate owns what the SIP focus publishes as RFC 4575 conference
// state: Renderer turns a conference.Snapshot into a full conference-info
// document (with the RFC 7106 grouptextchat service URI), View keeps one
// subscription's versioned, throttled stream of full and partial documents,
// and Split cuts a document into a version-consecutive sequence that fits a
// byte budget for subscribers reachable only over UDP. It knows nothing of
// SIP transactions: the focus sends what it returns.
package confstate
