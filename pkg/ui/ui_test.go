package ui

import (
	"io/fs"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/shortener/shortener/pkg/webhook"
)

// client talks to one in-memory fasthttp.Server that runs Handler as the
// edge's server would (HEAD bodies dropped, Content-Length set), for the
// whole test binary.
var client = sync.OnceValue(func() *fasthttp.Client {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: Handler, NoDefaultContentType: true, NoDefaultServerHeader: true}
	go func() { _ = srv.Serve(ln) }()
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
})

// serve answers one request through Handler.
func serve(t *testing.T, method, uri string, header map[string]string) *fasthttp.Response {
	t.Helper()
	c := client()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://shortener.test" + uri)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp := &fasthttp.Response{}
	if method == "HEAD" {
		resp.SkipBody = true
	}
	require.NoError(t, c.DoTimeout(req, resp, 5*time.Second), "%s %s", method, uri)
	return resp
}

func header(r *fasthttp.Response, name string) string { return string(r.Header.Peek(name)) }

func TestContentTypes(t *testing.T) {
	tests := []struct {
		name, path, contentType, contains string
	}{
		{"index", "/ui/", "text/html; charset=utf-8", "<!doctype html>"},
		{"index by name", "/ui/index.html", "text/html; charset=utf-8", "<!doctype html>"},
		{"stylesheet", "/ui/app.css", "text/css; charset=utf-8", ".topbar"},
		{"script", "/ui/app.js", "text/javascript; charset=utf-8", "'use strict'"},
		{"icon", "/ui/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, "GET", tc.path, nil)
			assert.Equal(t, 200, r.StatusCode(), "GET %s", tc.path)
			assert.Equal(t, tc.contentType, header(r, "Content-Type"), "GET %s", tc.path)
			assert.Contains(t, string(r.Body()), tc.contains)
			assert.Equal(t, "nosniff", header(r, "X-Content-Type-Options"))
			assert.Equal(t, CSP, header(r, "Content-Security-Policy"))
			assert.Regexp(t, `^"[0-9a-f]{16}"$`, header(r, "ETag"))
			assert.NotEmpty(t, header(r, "Cache-Control"))
		})
	}
}

func TestCSP(t *testing.T) {
	want := "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui", "/ui/nope.js"} {
		r := serve(t, "GET", p, nil)
		assert.Equal(t, want, header(r, "Content-Security-Policy"), "GET %s", p)
		assert.Equal(t, "nosniff", header(r, "X-Content-Type-Options"), "GET %s", p)
		assert.Equal(t, "DENY", header(r, "X-Frame-Options"), "GET %s", p)
		assert.Equal(t, "no-referrer", header(r, "Referrer-Policy"), "GET %s", p)
	}
}

// The CSP forbids inline script and style: the page must not need them,
// and must load nothing from another origin.
func TestPageNeedsNothingInline(t *testing.T) {
	index := string(serve(t, "GET", "/ui/", nil).Body())
	assert.NotRegexp(t, `(?i)<script(\s[^>]*)?>[^<]`, index, "inline script")
	assert.NotRegexp(t, `(?i)<style`, index, "inline <style>")
	assert.NotRegexp(t, `(?i)\sstyle=`, index, "style attribute")
	assert.NotRegexp(t, `(?i)\son[a-z]+=`, index, "inline event handler")
	assert.NotRegexp(t, `(?i)(src|href)="(https?:)?//`, index, "another origin")
	js := string(serve(t, "GET", "/ui/app.js", nil).Body())
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "localStorage"} {
		assert.NotContains(t, js, bad)
	}
	css := string(serve(t, "GET", "/ui/app.css", nil).Body())
	assert.NotRegexp(t, `@import|url\(\s*['"]?(https?:)?//`, css, "the stylesheet loads from another origin")
}

// The webhook form offers every event type the API knows, in its order,
// and nothing else; the API, not the browser, judges what is entered, so
// its refusals are the ones shown.
func TestWebhookFormEvents(t *testing.T) {
	index := string(serve(t, "GET", "/ui/", nil).Body())
	form := regexp.MustCompile(`(?s)<form[^>]*id="wh-form"[^>]*>.*?</form>`).FindString(index)
	require.NotEmpty(t, form, "index.html has the webhook form")
	assert.Contains(t, form[:strings.Index(form, ">")], " novalidate")
	var events []string
	for _, m := range regexp.MustCompile(`<input type="checkbox" name="events" value="([^"]+)">`).FindAllStringSubmatch(form, -1) {
		events = append(events, m[1])
	}
	assert.Equal(t, webhook.EventTypes, events)
	for _, id := range []string{"webhooks", "wh-list", "wh-url", "wh-description", "wh-create", "wh-form-error", "wh-error", "wh-created", "wh-empty", "wh-reload"} {
		assert.Contains(t, index, `id="`+id+`"`)
	}
}

// The page keeps nothing but the key and the window in sessionStorage: a
// webhook secret is shown once and never stored.
func TestPageStoresNoSecret(t *testing.T) {
	js := string(serve(t, "GET", "/ui/app.js", nil).Body())
	calls := regexp.MustCompile(`sessionStorage\.setItem\(([^,]+),`).FindAllStringSubmatch(js, -1)
	require.NotEmpty(t, calls)
	for _, c := range calls {
		assert.Contains(t, []string{"KEY_STORE", "DAYS_STORE"}, c[1], "sessionStorage.setItem(%s, …)", c[1])
	}
}

func TestVersionedAssets(t *testing.T) {
	index := string(serve(t, "GET", "/ui/", nil).Body())
	assert.Equal(t, "no-cache", header(serve(t, "GET", "/ui/", nil), "Cache-Control"))
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		m := regexp.MustCompile(regexp.QuoteMeta(name) + `\?v=([0-9a-f]{16})"`).FindStringSubmatch(index)
		require.NotNil(t, m, "index.html names %s with its version", name)
		r := serve(t, "GET", "/ui/"+name+"?v="+m[1], nil)
		assert.Equal(t, 200, r.StatusCode())
		assert.Equal(t, `"`+m[1]+`"`, header(r, "ETag"), "the version of %s is its ETag", name)
		assert.Equal(t, "public, max-age=31536000, immutable", header(r, "Cache-Control"), "%s?v=current", name)
		assert.Equal(t, "no-cache", header(serve(t, "GET", "/ui/"+name+"?v=0000000000000000", nil), "Cache-Control"), "%s?v=old", name)
		assert.Equal(t, "no-cache", header(serve(t, "GET", "/ui/"+name, nil), "Cache-Control"), "%s without a version", name)
	}
}

func TestNotFound(t *testing.T) {
	for _, p := range []string{"/ui/nope", "/ui/nope.js", "/ui/static/app.js", "/ui/app.js/", "/ui/../go.mod", "/ui/%2e%2e/ui.go",
		"/ui/APP.JS", "/ui/ui.go", "/ui/index.htm", "/uix", "/ui/.", "/ui/app.css%00"} {
		r := serve(t, "GET", p, nil)
		if p == "/ui/../go.mod" || p == "/ui/%2e%2e/ui.go" || p == "/ui/." {
			// fasthttp normalises these to paths outside /ui/ or to /ui/ itself;
			// either way no file outside static/ is ever served.
			assert.NotContains(t, string(r.Body()), "module ", "GET %s", p)
			assert.NotContains(t, string(r.Body()), "package ui", "GET %s", p)
			continue
		}
		assert.Equal(t, 404, r.StatusCode(), "GET %s", p)
		assert.Equal(t, "text/plain; charset=utf-8", header(r, "Content-Type"), "GET %s", p)
		assert.Equal(t, CSP, header(r, "Content-Security-Policy"), "GET %s", p)
		assert.Equal(t, "nosniff", header(r, "X-Content-Type-Options"), "GET %s", p)
		assert.Empty(t, header(r, "ETag"), "GET %s", p)
	}
}

func TestRootRedirects(t *testing.T) {
	r := serve(t, "GET", "/ui", nil)
	assert.Equal(t, 301, r.StatusCode())
	assert.Equal(t, "/ui/", header(r, "Location"))
	r = serve(t, "GET", "/ui?x=1", nil)
	assert.Equal(t, "/ui/?x=1", header(r, "Location"))
}

func TestETagNotModified(t *testing.T) {
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/app.css", "/ui/favicon.svg"} {
		first := serve(t, "GET", p, nil)
		etag := header(first, "ETag")
		require.NotEmpty(t, etag, "GET %s", p)
		assert.Equal(t, etag, header(serve(t, "GET", p, nil), "ETag"), "the ETag of %s is stable", p)

		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			r := serve(t, "GET", p, map[string]string{"If-None-Match": inm})
			assert.Equal(t, 304, r.StatusCode(), "GET %s If-None-Match: %s", p, inm)
			assert.Empty(t, r.Body(), "GET %s If-None-Match: %s", p, inm)
			assert.Equal(t, etag, header(r, "ETag"))
			assert.Equal(t, CSP, header(r, "Content-Security-Policy"))
		}
		r := serve(t, "GET", p, map[string]string{"If-None-Match": `"0000000000000000"`})
		assert.Equal(t, 200, r.StatusCode(), "GET %s with a stale ETag", p)
		assert.Equal(t, first.Body(), r.Body())
	}
}

func TestMethods(t *testing.T) {
	r := serve(t, "HEAD", "/ui/app.js", nil)
	assert.Equal(t, 200, r.StatusCode())
	assert.Equal(t, "text/javascript; charset=utf-8", header(r, "Content-Type"))
	assert.Equal(t, len(files["app.js"].body), r.Header.ContentLength(), "HEAD has the GET's length")
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		r := serve(t, m, "/ui/", nil)
		assert.Equal(t, 405, r.StatusCode(), "%s /ui/", m)
		assert.Equal(t, "GET, HEAD", header(r, "Allow"), "%s /ui/", m)
	}
}

// The page's own files all have the content type they are served with.
func TestEveryFileServed(t *testing.T) {
	n := 0
	require.NoError(t, fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		r := serve(t, "GET", "/ui/"+strings.TrimPrefix(p, "static/"), nil)
		assert.Equal(t, 200, r.StatusCode(), "GET %s", p)
		ct, _, _ := strings.Cut(header(r, "Content-Type"), ";")
		sniffed, _, _ := strings.Cut(http.DetectContentType(r.Body()), ";")
		if ct == "text/html" || ct == "image/png" {
			assert.Equal(t, ct, sniffed, "%s looks like what it says it is", p)
		}
		return nil
	}))
	assert.GreaterOrEqual(t, n, 4)
}

func TestLoadRefusesUnknownTypes(t *testing.T) {
	_, err := load(fstest.MapFS{
		"static/index.html": {Data: []byte("<!doctype html>")},
		"static/x.exe":      {Data: []byte("MZ")},
	})
	assert.ErrorContains(t, err, "no content type")
	_, err = load(fstest.MapFS{"static/app.js": {Data: []byte("")}})
	assert.ErrorContains(t, err, "index.html is missing")
}

// Handler must be cheap to call from the edge's router: it reads only
// precomputed state.
func TestHandlerConcurrent(t *testing.T) {
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 50; j++ {
				var ctx fasthttp.RequestCtx
				ctx.Request.SetRequestURI("/ui/app.css")
				Handler(&ctx)
				if ctx.Response.StatusCode() != 200 {
					t.Errorf("GET /ui/app.css = %d, want 200", ctx.Response.StatusCode())
					return
				}
			}
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}
