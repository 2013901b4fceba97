// Package conference is the domain core of the bridge: the registry of
// conferences, their participants (a SIP audio leg, a MUC occupant, or both),
// room policy, roles and affiliations, and every moderation rule (who may
// mute, kick, ban or configure whom). It imports no SIP, RTP or XMPP code.
//
// Adapters (focus, muc, the admin API) translate protocol requests into calls
// such as Join, Mute, Kick or SetAffiliation (Moderate for a batch of role
// and affiliation changes, checked and applied all or nothing), each carrying
// an Actor and an Origin. The core decides, persists what must survive a restart through
// store before it returns, and emits exactly one Event per state change on
// the stream every adapter follows. Adapters render events and never call
// each other, which keeps mirroring between SIP and XMPP loop-free.
//
// The core also owns identity: the one canonical form of every SIP address
// and JID it compares or stores (Identities), who may see whose real
// identity (Whois.Reveals), and the bindings that make a trusted caller and
// a JID's occupant one participant with two legs. A binding is verified
// through a VCards source the MUC adapter provides; the core never speaks
// XMPP itself.
//
// limits.go bounds what strangers can make the core hold: a room made by
// joining is temporary (destroyed, memory and store, after
// Limits.IdleGrace unless declared or made persistent by an owner), room
// quotas per creator and in all, calls limited to existing rooms
// (sip.room_creation: listed), and moderator PIN attempts per participant
// and per room.
package conference
