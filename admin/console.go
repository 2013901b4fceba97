package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the moderator console: plain HTML, CSS and JavaScript,
// no build step, no third-party code.
//
//go:embed console
var consoleFiles embed.FS

// registerConsole serves the console at /console/. The page loads without
// a token and asks for it; every call it makes goes to the API with it.
func (s *Server) registerConsole(mux *http.ServeMux) {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/console/", http.FileServerFS(sub))
	mux.Handle("GET /console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	}))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusMovedPermanently))
}
