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
package conference
