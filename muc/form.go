package muc

import (
	"strconv"
	"strings"

	"cusax.dev/bridge/conference"
)

// Room configuration fields (XEP-0045 §16.5.3). The subject is not a
// registered field, so it is namespaced in Clark notation (XEP-0068 §3.4).
const (
	fRoomName    = "muc#roomconfig_roomname"
	fRoomDesc    = "muc#roomconfig_roomdesc"
	fSubject     = "{urn:xmpp:cusax:muc}roomconfig_subject"
	fPersistent  = "muc#roomconfig_persistentroom"
	fPublic      = "muc#roomconfig_publicroom"
	fModerated   = "muc#roomconfig_moderatedroom"
	fMembersOnly = "muc#roomconfig_membersonly"
	fPwProtected = "muc#roomconfig_passwordprotectedroom"
	fSecret      = "muc#roomconfig_roomsecret"
	fMaxUsers    = "muc#roomconfig_maxusers"
	fWhois       = "muc#roomconfig_whois"
	fHistory     = "muc#maxhistoryfetch"
	fHistoryAlt  = "muc#roomconfig_historylength" // Prosody's name, accepted
	fAllowPM     = "muc#roomconfig_allowpm"
	fSubjectMod  = "muc#roomconfig_changesubject"
	fFormType    = "FORM_TYPE"
)

// field builds a data form field.
func field(v, typ, label string, values ...string) *node {
	f := el("field").set("var", v).set("type", typ).set("label", label)
	for _, val := range values {
		f.add(textEl("value", val))
	}
	return f
}

// option adds list options to a list-single field.
func option(f *node, opts ...string) *node {
	for i := 0; i+1 < len(opts); i += 2 {
		f.add(el("option", textEl("value", opts[i+1])).set("label", opts[i]))
	}
	return f
}

func boolValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// configForm is the muc#owner configuration form with room's values.
func configForm(room string, c conference.Config, subject string) *node {
	maxUsers := ""
	if c.MaxParticipants > 0 {
		maxUsers = strconv.Itoa(c.MaxParticipants)
	}
	allowPM := "none"
	if c.AllowPrivateMessages {
		allowPM = "anyone"
	}
	return elNS(NSData, "x",
		textEl("title", "Configuration of room "+room),
		textEl("instructions", "Submit the form to configure the room; an empty form keeps the defaults."),
		field(fFormType, "hidden", "", NSRoomCfg),
		field(fRoomName, "text-single", "Room name", c.Title),
		field(fRoomDesc, "text-single", "Description", c.Description),
		field(fSubject, "text-single", "Subject", subject),
		field(fPersistent, "boolean", "Keep the room when it is empty", boolValue(c.Persistent)),
		field(fPublic, "boolean", "List the room publicly", boolValue(c.Public)),
		field(fModerated, "boolean", "Moderated: only members have voice", boolValue(c.Moderated)),
		field(fMembersOnly, "boolean", "Members only", boolValue(c.MembersOnly)),
		field(fPwProtected, "boolean", "Password required to enter", boolValue(c.Password != "")),
		field(fSecret, "text-private", "Password", c.Password),
		field(fMaxUsers, "text-single", "Maximum number of participants (empty: no limit)", maxUsers),
		option(field(fWhois, "list-single", "Who may see real JIDs", string(whoisOf(c))), "Moderators", "moderators", "Anyone", "anyone"),
		field(fHistory, "text-single", "Messages of history kept and sent", strconv.Itoa(c.HistoryLength)),
		option(field(fAllowPM, "list-single", "Who may send private messages", allowPM), "Anyone", "anyone", "Nobody", "none"),
		field(fSubjectMod, "boolean", "Participants may change the subject", boolValue(c.AllowSubjectChange)),
	).set("type", "form")
}

// formError is a rejected form submission.
type formError struct {
	cond condition
	text string
}

func (e *formError) Error() string { return e.text }

func badValue(v string) *formError {
	return &formError{condNotAcceptable, "invalid value for " + v}
}

// parseConfig applies a submitted configuration form to cur. It returns the
// new configuration and the subject, nil when the form does not set it. The
// core bounds the values (lengths, history size); the form rejects what it
// cannot read.
func parseConfig(x *node, cur conference.Config) (conference.Config, *string, error) {
	cfg := cur
	var subject *string
	var protect *bool
	var secret *string
	for _, f := range x.children(NSData, "field") {
		v := f.attr("var")
		var vals []string
		for _, val := range f.children(NSData, "value") {
			vals = append(vals, val.Text)
		}
		first := ""
		if len(vals) > 0 {
			first = strings.TrimSpace(vals[0])
		}
		b, berr := parseBool(first)
		switch v {
		case fFormType:
			if first != NSRoomCfg {
				return cfg, subject, &formError{condBadRequest, "FORM_TYPE is not " + NSRoomCfg}
			}
		case fRoomName:
			cfg.Title = first
		case fRoomDesc:
			cfg.Description = first
		case fSubject:
			if len(vals) > 0 {
				subject = &vals[0]
			}
		case fPersistent, fPublic, fModerated, fMembersOnly, fPwProtected, fSubjectMod:
			if berr != nil {
				return cfg, subject, badValue(v)
			}
			switch v {
			case fPersistent:
				cfg.Persistent = b
			case fPublic:
				cfg.Public = b
			case fModerated:
				cfg.Moderated = b
			case fMembersOnly:
				cfg.MembersOnly = b
			case fPwProtected:
				protect = &b
			case fSubjectMod:
				cfg.AllowSubjectChange = b
			}
		case fSecret:
			secret = &first
		case fMaxUsers:
			n := 0
			if first != "" && first != "none" {
				var err error
				if n, err = strconv.Atoi(first); err != nil || n < 0 {
					return cfg, subject, badValue(v)
				}
			}
			cfg.MaxParticipants = n
		case fWhois:
			if first != "moderators" && first != "anyone" {
				return cfg, subject, badValue(v)
			}
			cfg.Whois = first
		case fHistory, fHistoryAlt:
			n, err := strconv.Atoi(first)
			if err != nil || n < 0 {
				return cfg, subject, badValue(v)
			}
			cfg.HistoryLength = n
		case fAllowPM:
			// The core allows private messages to everyone or to nobody,
			// so the form offers exactly those two options.
			switch first {
			case "anyone":
				cfg.AllowPrivateMessages = true
			case "none":
				cfg.AllowPrivateMessages = false
			default:
				return cfg, subject, badValue(v)
			}
		}
	}
	if secret != nil {
		cfg.Password = *secret
	}
	if protect != nil && !*protect {
		cfg.Password = ""
	}
	if protect != nil && *protect && cfg.Password == "" {
		return cfg, subject, &formError{condNotAcceptable, "a password-protected room needs a password"}
	}
	return cfg, subject, nil
}

// parseBool reads an xs:boolean.
func parseBool(s string) (bool, error) {
	switch s {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, strconv.ErrSyntax
}
