package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"cusax.dev/bridge/conference"
)

// Request bodies. Optional fields are pointers so that "absent" and
// "zero" differ.

// CreateRoom is the body of POST /rooms.
type CreateRoom struct {
	Name            string   `json:"name"`
	Subject         *string  `json:"subject,omitempty"`
	Moderators      []string `json:"moderators,omitempty"`
	PIN             *string  `json:"pin,omitempty"`
	MaxParticipants *int     `json:"max_participants,omitempty"`
}

// PatchRoom is the body of PATCH /rooms/{room}.
type PatchRoom struct {
	Subject *string `json:"subject,omitempty"`
	Locked  *bool   `json:"locked,omitempty"`
}

// Mute is the body of POST …/participants/{id}/mute.
type Mute struct {
	Muted  *bool  `json:"muted"`
	Reason string `json:"reason,omitempty"`
}

// Reason is the body of POST …/kick and PUT …/bans/{identity}; the body
// may be empty.
type Reason struct {
	Reason string `json:"reason,omitempty"`
}

// DialOut is the body of POST …/dialout.
type DialOut struct {
	URI string `json:"uri"`
}

// maxReason bounds reasons below the core's own limit: an operator's
// sentence, not a document.
const maxReason = 1024

// decodeJSON reads one JSON object into v: at most limit bytes, no unknown
// fields, nothing after it. emptyOK accepts an empty body as {}.
func decodeJSON(r io.Reader, limit int64, v any, emptyOK bool) *Problem {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(data)) > limit:
		return problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
	case err != nil:
		return problem(http.StatusBadRequest, "the body could not be read")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if emptyOK {
			return nil
		}
		return problem(http.StatusBadRequest, "a JSON object is required")
	}
	if !utf8.Valid(data) {
		return problem(http.StatusBadRequest, "the body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return fieldProblem(http.StatusUnprocessableEntity, te.Field, fmt.Sprintf("field %q must be of type %s", te.Field, te.Type))
		case errors.As(err, &te):
			return problem(http.StatusBadRequest, "the body must be a JSON object")
		case errors.As(err, &se):
			return problem(http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d", se.Offset))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return fieldProblem(http.StatusUnprocessableEntity, f, fmt.Sprintf("unknown field %q", f))
		}
		return problem(http.StatusBadRequest, "malformed JSON")
	}
	if dec.More() {
		return problem(http.StatusBadRequest, "one JSON object is expected, more data follows it")
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem(http.StatusBadRequest, "one JSON object is expected, more data follows it")
	}
	return nil
}

func checkText(field, s string, limit int) *Problem {
	switch {
	case len(s) > limit:
		return fieldProblem(http.StatusUnprocessableEntity, field, fmt.Sprintf("field %q is longer than %d bytes", field, limit))
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\n' && r != '\t' || r == 0x7f }):
		return fieldProblem(http.StatusUnprocessableEntity, field, fmt.Sprintf("field %q holds control characters", field))
	}
	return nil
}

// validIdentity reports whether s names a ban target: a sip:, sips: or
// xmpp: URI with something after the scheme.
func validIdentity(s string) bool {
	if len(s) > conference.MaxShort || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	scheme, rest, ok := strings.Cut(s, ":")
	scheme = strings.ToLower(scheme)
	return ok && rest != "" && (scheme == "sip" || scheme == "sips" || scheme == "xmpp")
}

// DecodeCreateRoom reads and checks a CreateRoom body.
func DecodeCreateRoom(r io.Reader, limit int64) (CreateRoom, *Problem) {
	var v CreateRoom
	if p := decodeJSON(r, limit, &v, false); p != nil {
		return v, p
	}
	switch {
	case v.Name == "":
		return v, fieldProblem(http.StatusUnprocessableEntity, "name", `field "name" is required`)
	case !conference.ValidName(v.Name):
		return v, fieldProblem(http.StatusUnprocessableEntity, "name", `field "name" must be 1–64 of a-z 0-9 . _ -`)
	case v.MaxParticipants != nil && (*v.MaxParticipants < 0 || *v.MaxParticipants > 100000):
		return v, fieldProblem(http.StatusUnprocessableEntity, "max_participants", `field "max_participants" must be 0 (no limit) to 100000`)
	case len(v.Moderators) > 256:
		return v, fieldProblem(http.StatusUnprocessableEntity, "moderators", `field "moderators" lists more than 256 entries`)
	}
	if v.Subject != nil {
		if p := checkText("subject", *v.Subject, conference.MaxText); p != nil {
			return v, p
		}
	}
	if v.PIN != nil && *v.PIN != "" && !conference.ValidPIN(*v.PIN) {
		return v, fieldProblem(http.StatusUnprocessableEntity, "pin", `field "pin" must be 2 to 16 digits`)
	}
	for _, m := range v.Moderators {
		if !validIdentity(m) {
			return v, fieldProblem(http.StatusUnprocessableEntity, "moderators", fmt.Sprintf("moderator %q must be a sip: URI or an xmpp: JID", m))
		}
	}
	return v, nil
}

// DecodePatchRoom reads and checks a PatchRoom body.
func DecodePatchRoom(r io.Reader, limit int64) (PatchRoom, *Problem) {
	var v PatchRoom
	if p := decodeJSON(r, limit, &v, false); p != nil {
		return v, p
	}
	if v.Subject == nil && v.Locked == nil {
		return v, problem(http.StatusUnprocessableEntity, `give "subject" or "locked"`)
	}
	if v.Subject != nil {
		if p := checkText("subject", *v.Subject, conference.MaxText); p != nil {
			return v, p
		}
	}
	return v, nil
}

// DecodeMute reads and checks a Mute body.
func DecodeMute(r io.Reader, limit int64) (Mute, *Problem) {
	var v Mute
	if p := decodeJSON(r, limit, &v, false); p != nil {
		return v, p
	}
	if v.Muted == nil {
		return v, fieldProblem(http.StatusUnprocessableEntity, "muted", `field "muted" (true or false) is required`)
	}
	return v, checkText("reason", v.Reason, maxReason)
}

// DecodeReason reads and checks a Reason body (empty allowed).
func DecodeReason(r io.Reader, limit int64) (Reason, *Problem) {
	var v Reason
	if p := decodeJSON(r, limit, &v, true); p != nil {
		return v, p
	}
	return v, checkText("reason", v.Reason, maxReason)
}

// DecodeDialOut reads and checks a DialOut body.
func DecodeDialOut(r io.Reader, limit int64) (DialOut, *Problem) {
	var v DialOut
	if p := decodeJSON(r, limit, &v, false); p != nil {
		return v, p
	}
	v.URI = strings.TrimSpace(v.URI)
	switch {
	case v.URI == "":
		return v, fieldProblem(http.StatusUnprocessableEntity, "uri", `field "uri" is required`)
	case !conference.ValidDialOutURI(v.URI):
		return v, fieldProblem(http.StatusUnprocessableEntity, "uri", `field "uri" must be a sip: or sips: URI with a host`)
	}
	return v, nil
}
