// Package ui serves the analytics page under /ui/: plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing loaded from
// another origin). The page asks for an API key, keeps it in the tab's
// sessionStorage and reads everything it shows from this origin's /api/v1.
//
// Every answer carries a strict Content-Security-Policy and
// X-Content-Type-Options: nosniff; the files carry strong ETags and answer
// If-None-Match with 304. index.html names its stylesheet and script with a
// ?v= content hash, so those may be cached for a year while index.html is
// revalidated on every load.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// Prefix is the path the page lives under; Root (Prefix without its slash)
// redirects to it.
const (
	Prefix = "/ui/"
	Root   = "/ui"
)

// CSP is the Content-Security-Policy sent with every answer: the page loads
// and talks to nothing but its own origin, has no inline script or style,
// and may not be framed.
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// contentTypes maps the extensions of the embedded files to their
// Content-Type. A file with any other extension fails the package's init.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Cache-Control values: index.html (and assets asked for without the current
// version) are revalidated each time; versioned assets never change.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

// file is one embedded file, ready to send.
type file struct {
	body        []byte
	contentType string
	etag        string // quoted, strong
	version     string // the ?v= value index.html uses for it
}

// files maps a path under Prefix ("" for index.html) to its file. It is
// built once at init and only read afterwards, so it is safe for concurrent
// use.
var files = mustLoad(static)

func mustLoad(fsys fs.FS) map[string]*file {
	m, err := load(fsys)
	if err != nil {
		panic(err)
	}
	return m
}

// load reads every file under static/, and rewrites index.html so that it
// names each asset with the hash of its content.
func load(fsys fs.FS) (map[string]*file, error) {
	m := map[string]*file{}
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("ui: no content type for %q", p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("ui: cannot read %q: %w", p, err)
		}
		m[strings.TrimPrefix(p, "static/")] = newFile(b, ct)
		return nil
	})
	if err != nil {
		return nil, err
	}
	index, ok := m["index.html"]
	if !ok {
		return nil, fmt.Errorf("ui: static/index.html is missing")
	}
	body := index.body
	for name, f := range m {
		if name == "index.html" {
			continue
		}
		for _, attr := range []string{`href="`, `src="`} {
			body = bytes.ReplaceAll(body, []byte(attr+name+`"`), []byte(attr+name+"?v="+f.version+`"`))
		}
	}
	delete(m, "index.html")
	m[""] = newFile(body, index.contentType)
	return m, nil
}

func newFile(b []byte, contentType string) *file {
	sum := sha256.Sum256(b)
	v := hex.EncodeToString(sum[:8])
	return &file{body: b, contentType: contentType, etag: `"` + v + `"`, version: v}
}

// Handler serves Root and everything under Prefix: Root redirects to
// Prefix, Prefix is the page, the page's files are served by name, and
// anything else is 404. Only GET and HEAD are allowed. It is safe for
// concurrent use.
func Handler(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")

	if !ctx.IsGet() && !ctx.IsHead() {
		h.Set("Allow", "GET, HEAD")
		plain(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	p := string(ctx.Path())
	if p == Root {
		loc := Prefix
		if q := ctx.URI().QueryString(); len(q) > 0 {
			loc += "?" + string(q)
		}
		h.Set("Location", loc)
		h.Set("Cache-Control", "no-cache")
		ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(p, Prefix)
	if name == "index.html" {
		name = ""
	}
	f := files[name]
	if !ok || f == nil {
		plain(ctx, fasthttp.StatusNotFound, "not found\n")
		return
	}

	h.Set("ETag", f.etag)
	if name != "" && string(ctx.QueryArgs().Peek("v")) == f.version {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheRevalidate)
	}
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatch(string(inm), f.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	h.SetContentType(f.contentType)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(f.body)
}

// etagMatch reports whether an If-None-Match list names etag, by the weak
// comparison RFC 9110 asks for there ("*" matches any).
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func plain(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(msg)
}
