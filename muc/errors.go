package muc

import (
	"errors"

	"cusax.dev/bridge/conference"
)

// errCase maps one core error to a stanza error condition and text.
type errCase struct {
	err  error
	cond condition
	text string
}

// coreErrors is how the room service reports the core's refusals
// (XEP-0045 §7.2.17 for joins, §8–§10 for moderation and configuration).
// Anything not listed is an internal-server-error.
var coreErrors = []errCase{
	{conference.ErrForbidden, condForbidden, "you may not do that in this room"},
	{conference.ErrNotAllowed, condNotAllowed, "not allowed on that occupant"},
	{conference.ErrConflict, condConflict, "conflicting request"},
	{conference.ErrNickConflict, condConflict, "that nick is already in use"},
	{conference.ErrBadRequest, condBadRequest, ""},
	{conference.ErrNotFound, condItemNotFound, ""},
	{conference.ErrInvalidName, condItemNotFound, "no such room"},
	{conference.ErrNotOccupant, condNotAcceptable, "you are not in the room"},
	{conference.ErrNoText, condServiceUnavail, "that occupant is in the audio conference only and cannot receive messages"},
	{conference.ErrPasswordRequired, condNotAuthorized, "a password is required"},
	{conference.ErrBanned, condForbidden, "you are banned from this room"},
	{conference.ErrMembersOnly, condRegistrationReq, "this room is members-only"},
	{conference.ErrFull, condFull, "the room is full"},
	{conference.ErrLocked, condItemNotFound, "the room is being created"},
	{conference.ErrCreationRestricted, condNotAllowed, "room creation is restricted"},
	{conference.ErrRoomQuota, condResourceLimit, "too many rooms; none can be created now"},
	{conference.ErrClosed, condServiceUnavail, "the service is shutting down"},
	{conference.ErrUntrusted, condNotAcceptable, "that caller's SIP identity is not verified (no digest authentication or trusted P-Asserted-Identity): rights cannot be granted to it"},
}

// Overrides of coreErrors for particular requests.
var (
	// joinErrors: a join presence (XEP-0045 §7.2.1, §7.2.17).
	joinErrors = []errCase{
		{conference.ErrBadRequest, condJIDMalformed, "invalid nick"},
		{conference.ErrNotFound, condItemNotFound, "no such room"},
	}
	// nickErrors: a nick change (§7.6).
	nickErrors = []errCase{
		{conference.ErrBadRequest, condJIDMalformed, "invalid nick"},
	}
	// ownerErrors: a configuration the core refuses is not acceptable
	// (§10.2).
	ownerErrors = []errCase{
		{conference.ErrBadRequest, condNotAcceptable, "the configuration cannot be applied"},
		{conference.ErrForbidden, condForbidden, "only owners may configure or destroy the room"},
	}
)

// stanzaError maps a core error to a condition and text: the first matching
// override, else the table, else internal-server-error.
func stanzaError(err error, overrides ...errCase) (condition, string) {
	for _, table := range [][]errCase{overrides, coreErrors} {
		for _, c := range table {
			if errors.Is(err, c.err) {
				return c.cond, c.text
			}
		}
	}
	return condInternal, ""
}

// errorFor is the error answer to st for the core error err: by the room
// (when room is not ""), with the muc <x/> on presence errors (XEP-0045
// §7.2.17, §7.6). Internal errors are logged as warnings.
func (s *Service) errorFor(st *stanza, room string, err error, overrides ...errCase) *node {
	cond, text := stanzaError(err, overrides...)
	if cond == condInternal {
		s.log.Warn("request failed", "kind", st.kind, "room", room, "from", st.from.String(), "err", err)
	}
	return s.errorTo(st, room, cond, text)
}

// errorTo is the error answer to st with cond and text, by room's JID
// when room is not "".
func (s *Service) errorTo(st *stanza, room string, cond condition, text string) *node {
	by := ""
	if room != "" {
		by = s.roomJID(room)
	}
	var extra []*node
	if st.kind == "presence" {
		extra = append(extra, elNS(NSMUC, "x"))
	}
	return errorReply(st, cond, text, by, extra...)
}
