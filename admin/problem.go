package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"cusax.dev/bridge/conference"
)

// Problem is an RFC 9457 problem detail. Field names the request field a
// validation error is about.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

func (p *Problem) Error() string { return p.Detail }

// problem builds a problem of type about:blank (RFC 9457 §4.2.1), whose
// title is the status phrase.
func problem(status int, detail string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

func fieldProblem(status int, field, detail string) *Problem {
	p := problem(status, detail)
	p.Field = field
	return p
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// coreProblem maps an error of the conference core to a problem.
func coreProblem(err error, what string) *Problem {
	switch {
	case errors.Is(err, conference.ErrInvalidName):
		return problem(http.StatusNotFound, "no such room: room names are 1–64 of a-z 0-9 . _ -")
	case errors.Is(err, conference.ErrNotFound):
		return problem(http.StatusNotFound, "no such "+what)
	case errors.Is(err, conference.ErrConflict), errors.Is(err, conference.ErrNickConflict):
		return problem(http.StatusConflict, "conflict: "+err.Error())
	case errors.Is(err, conference.ErrBadRequest):
		return problem(http.StatusUnprocessableEntity, "the conference refused the values: "+err.Error())
	case errors.Is(err, conference.ErrForbidden), errors.Is(err, conference.ErrNotAllowed):
		return problem(http.StatusForbidden, err.Error())
	case errors.Is(err, conference.ErrClosed):
		return problem(http.StatusServiceUnavailable, "the bridge is shutting down")
	}
	return problem(http.StatusInternalServerError, "internal error")
}
