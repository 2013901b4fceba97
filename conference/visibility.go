package conference

// Who may see whose real identity (XEP-0045 §5.2.1 whois, RFC 4575 §5.6
// anonymous users, DESIGN.md §6.5) is one rule, here; every renderer — the
// MUC presences, the SIP conference-info, the admin views — asks it.

// Whois is a room's muc#roomconfig_whois: who may see occupants' real JIDs.
type Whois string

// Whois policies.
const (
	// WhoisModerators: a semi-anonymous room; moderators see real JIDs.
	WhoisModerators Whois = "moderators"
	// WhoisAnyone: a non-anonymous room; everyone sees them.
	WhoisAnyone Whois = "anyone"
)

// ParseWhois reads a whois value; anything but "anyone" is
// WhoisModerators, the default.
func ParseWhois(s string) Whois {
	if Whois(s) == WhoisAnyone {
		return WhoisAnyone
	}
	return WhoisModerators
}

// WhoisPolicy is the room's whois policy.
func (c Config) WhoisPolicy() Whois { return ParseWhois(c.Whois) }

// Viewer is who looks at a participant.
type Viewer struct {
	// Self: the participant looks at itself.
	Self bool
	// Moderator: the viewer holds the moderator role in the room.
	Moderator bool
	// Operator: the admin API (its token was checked).
	Operator bool
}

// Everyone is the viewer every rendering shared by all may assume: not a
// moderator, not the participant itself (a SIP subscriber's conference
// state, a MUC occupant without rights).
var Everyone = Viewer{}

// Reveals reports whether v may see a participant's real identity (its
// JID) under this policy: oneself and operators always, moderators always,
// everyone else only in a non-anonymous room.
func (w Whois) Reveals(v Viewer) bool {
	return v.Self || v.Operator || v.Moderator || w == WhoisAnyone
}

// NonAnonymous reports whether everyone sees real JIDs.
func (w Whois) NonAnonymous() bool { return w == WhoisAnyone }

// publicActor is how an action's actor is recorded where everyone may read
// it (RFC 4575 disconnection-info/by, Leave.By): a SIP actor by its AOR; a
// chat actor by its real JID only when the room reveals JIDs to everyone,
// else by its user entity (anonymous in a semi-anonymous room) or nick.
// Called with c.mu held.
func (c *Conference) publicActor(au authority, a Actor) string {
	if a.API || (au.self == nil && a.JID == "" && a.AOR == "") {
		return au.name(a)
	}
	if au.self != nil && au.self.AOR != "" && !au.self.Bound {
		return au.self.AOR
	}
	if au.self == nil && a.JID == "" {
		return a.AOR
	}
	if c.cfg.WhoisPolicy().Reveals(Everyone) {
		if au.self != nil && au.self.JID != "" {
			return "xmpp:" + au.self.BareJID()
		}
		return "xmpp:" + bare(a.JID)
	}
	if au.self != nil {
		return au.self.Entity
	}
	return ""
}
