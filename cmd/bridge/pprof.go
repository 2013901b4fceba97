package main

import (
	"net/http"
	"net/http/pprof"
)

// withPprof adds Go's runtime profiles under /debug/pprof/ to mux when on
// (admin.pprof), for `go tool pprof` and `go tool trace` under load.
func withPprof(mux *http.ServeMux, on bool) *http.ServeMux {
	if !on {
		return mux
	}
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
