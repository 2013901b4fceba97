package client

// ConnState is the state of one of the two connections (RFC 7081 §2: the
// Chat connection is XMPP, the Voice connection is SIP).
type ConnState string

// Connection states.
const (
	StateOff        ConnState = "off" // not configured
	StateConnecting ConnState = "connecting"
	StateConnected  ConnState = "connected"
	StateFailed     ConnState = "failed"
)

// Event is something the engine reports to a front end. Script mode writes
// each as one JSON line; the "event" field names its kind.
type Event interface{ Kind() string }

// StatusEvent reports both connections' states ("status").
type StatusEvent struct {
	Event string    `json:"event"`
	Chat  ConnState `json:"chat"`
	Voice ConnState `json:"voice"`
	// Reason says why a connection failed ("chat: …; voice: …").
	Reason string `json:"reason,omitempty"`
}

// JoinedEvent reports a meeting joined ("joined").
type JoinedEvent struct {
	Event string `json:"event"`
	// Room is the chat room's bare JID, if the chat half is joined.
	Room string `json:"room"`
	// ConferenceURI is the conference URI the focus publishes (conf-uris),
	// else the one the room advertises (audio-video-uri).
	ConferenceURI string `json:"conference_uri"`
	// ChatURI is the grouptextchat URI the focus publishes, else the room's
	// xmpp: URI.
	ChatURI string `json:"chat_uri"`
	// Related is true when both halves name each other (RFC 7081 §4).
	Related bool `json:"related"`
	// Chat and Voice say which halves are joined.
	Chat  bool `json:"chat"`
	Voice bool `json:"voice"`
}

// Row is one person in the merged participant list.
type Row struct {
	Name     string `json:"name"`
	JID      string `json:"jid"`
	SIP      string `json:"sip"`
	Level    string `json:"level"` // text, audio or both
	Muted    bool   `json:"muted"`
	Role     string `json:"role"`
	Verified bool   `json:"verified"`
	Self     bool   `json:"self,omitempty"`
}

// ParticipantsEvent carries the full merged list ("participants").
type ParticipantsEvent struct {
	Event string `json:"event"`
	List  []Row  `json:"list"`
}

// MessageEvent is a chat message ("message"); Delayed marks room history.
type MessageEvent struct {
	Event   string `json:"event"`
	From    string `json:"from"`
	Body    string `json:"body"`
	Private bool   `json:"private"`
	Delayed bool   `json:"delayed,omitempty"`
}

// SubjectEvent is the room's subject ("subject").
type SubjectEvent struct {
	Event   string `json:"event"`
	Subject string `json:"subject"`
}

// ErrorEvent reports a failed command or a problem ("error").
type ErrorEvent struct {
	Event   string `json:"event"`
	Message string `json:"message"`
	Command string `json:"command,omitempty"`
}

// LeftEvent reports that a half, or the meeting, was left ("left"). Half is
// "chat", "voice" or "both"; Reason says why when the far end ended it.
type LeftEvent struct {
	Event  string `json:"event"`
	Half   string `json:"half"`
	Reason string `json:"reason,omitempty"`
}

// Contact is a roster entry; TEL is the phone number or SIP URI its vCard
// carries, which the Call action dials (RFC 7081 §3.2).
type Contact struct {
	JID  string `json:"jid"`
	Name string `json:"name,omitempty"`
	TEL  string `json:"tel,omitempty"`
}

// RosterEvent carries the roster ("roster").
type RosterEvent struct {
	Event    string    `json:"event"`
	Contacts []Contact `json:"contacts"`
}

// OKEvent acknowledges a command that produced no other event ("ok").
type OKEvent struct {
	Event   string `json:"event"`
	Command string `json:"command"`
}

// Kind returns "status".
func (StatusEvent) Kind() string { return "status" }

// Kind returns "joined".
func (JoinedEvent) Kind() string { return "joined" }

// Kind returns "participants".
func (ParticipantsEvent) Kind() string { return "participants" }

// Kind returns "message".
func (MessageEvent) Kind() string { return "message" }

// Kind returns "subject".
func (SubjectEvent) Kind() string { return "subject" }

// Kind returns "error".
func (ErrorEvent) Kind() string { return "error" }

// Kind returns "left".
func (LeftEvent) Kind() string { return "left" }

// Kind returns "roster".
func (RosterEvent) Kind() string { return "roster" }

// Kind returns "ok".
func (OKEvent) Kind() string { return "ok" }
