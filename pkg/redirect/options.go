package redirect

import (
	"bytes"
	"context"
	"html/template"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/ratelimit"
)

// PasswordLimit bounds wrong-password guesses per link and client IP.
var PasswordLimit = ratelimit.Limit{N: 10, Window: time.Minute}

// options returns the parsed options of a raw options string, from a small
// cache (parsing JSON allocates; a hot link with options parses once).
func (h *Handler) options(raw string) (*link.Options, error) {
	if o, ok := h.optsCache.Get(raw); ok {
		return o, nil
	}
	o, err := link.ParseOptions(raw)
	if err != nil {
		return nil, err
	}
	h.optsCache.Add(strings.Clone(raw), &o)
	return &o, nil
}

// serveOptions answers a link with options: its password form, targeting
// rules, query forwarding and own redirect status.
func (h *Handler) serveOptions(ctx *fasthttp.RequestCtx, code []byte, t link.Target) {
	o, err := h.options(t.Options)
	if err != nil {
		h.fail(ctx, code, err)
		return
	}
	post := ctx.IsPost()
	if o.PasswordHash != "" {
		if !post {
			h.passwordForm(ctx, fasthttp.StatusOK, "")
			return
		}
		if !h.checkPassword(ctx, code, o) {
			return
		}
	} else if post {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeProblem(ctx, fasthttp.StatusMethodNotAllowed, body405)
		return
	}
	click := ctx.IsGet() || post
	if t.MaxClicks > 0 {
		if err := h.resolver.Take(h.bg, code, t, click); err != nil {
			h.fail(ctx, code, err)
			return
		}
	}
	dest := t.URL
	if len(o.Rules) > 0 {
		dest = h.target(ctx, o.Rules, dest)
	}
	if o.ForwardQuery {
		dest = MergeQuery(dest, ctx.URI().QueryString())
	}
	status, cc := h.status, h.cacheControl
	if o.RedirectStatus != 0 {
		status, cc = o.RedirectStatus, CacheControl(o.RedirectStatus)
	}
	if o.PasswordHash != "" || len(o.Rules) > 0 || o.ForwardQuery {
		cc = "private, no-store" // the answer depends on the visitor: no shared caching
	}
	h.redirect(ctx, code, t, dest, status, cc, click)
}

// checkPassword checks a posted password, rate-limiting wrong guesses per
// link and client IP. It answers (401 form, 429) and returns false when the
// visitor may not pass.
func (h *Handler) checkPassword(ctx *fasthttp.RequestCtx, code []byte, o *link.Options) bool {
	ip, _ := h.visitor(ctx)
	identity := string(code) + ":" + ip.String()
	if h.limiter != nil {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		d, err := h.limiter.Allow(c, "password", identity, PasswordLimit)
		cancel()
		if err == nil && !d.Allowed {
			h.passwordForm(ctx, fasthttp.StatusTooManyRequests, "Too many attempts. Try again later.")
			ctx.Response.Header.Set("Retry-After", itoa(d.RetryAfterSeconds()))
			return false
		}
	}
	if !link.CheckPassword(o, string(ctx.PostArgs().Peek("password"))) {
		h.passwordForm(ctx, fasthttp.StatusUnauthorized, "Wrong password.")
		return false
	}
	return true
}

func itoa(n int64) string { return string(fasthttp.AppendUint(nil, int(n))) }

var formTemplate = template.Must(template.New("form").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Password required</title>
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:15vh auto;padding:0 1rem}
input{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.5rem 0}
button{font:inherit;padding:.5rem 1rem}.err{color:#b00020}</style></head>
<body><h1>Password required</h1><p>This link is protected.</p>
{{if .Error}}<p class="err" role="alert">{{.Error}}</p>{{end}}
<form method="post"><label for="pw">Password</label>
<input id="pw" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Continue</button></form></body></html>
`))

func (h *Handler) passwordForm(ctx *fasthttp.RequestCtx, status int, msg string) {
	var b bytes.Buffer
	_ = formTemplate.Execute(&b, struct{ Error string }{msg})
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "private, no-store")
	ctx.Response.Header.Set("X-Frame-Options", "DENY")
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	ctx.Response.SetBody(b.Bytes())
}

// target returns the URL of the first rule the visitor matches, else dest.
// The device check is cheap substring matching on the User-Agent, not a
// full parse.
func (h *Handler) target(ctx *fasthttp.RequestCtx, rules []link.Rule, dest string) string {
	ua := ctx.Request.Header.UserAgent()
	device := DeviceOf(ua)
	lang := PrimaryLanguage(ctx.Request.Header.Peek("Accept-Language"))
	country := ""
	for _, r := range rules {
		if r.Device != "" && r.Device != device {
			continue
		}
		if r.Language != "" && r.Language != lang {
			continue
		}
		if r.Country != "" {
			if country == "" {
				_, country = h.visitor(ctx)
			}
			if r.Country != country {
				continue
			}
		}
		return r.URL
	}
	return dest
}

// DeviceOf classifies a User-Agent for targeting: ios, android or desktop.
func DeviceOf(ua []byte) string {
	switch {
	case bytes.Contains(ua, []byte("iPhone")), bytes.Contains(ua, []byte("iPad")), bytes.Contains(ua, []byte("iPod")):
		return "ios"
	case bytes.Contains(ua, []byte("Android")):
		return "android"
	}
	return "desktop"
}

// PrimaryLanguage returns the primary subtag of the visitor's first
// language in Accept-Language, lower-cased ("" when none).
func PrimaryLanguage(h []byte) string {
	first, _, _ := bytes.Cut(h, []byte(","))
	first, _, _ = bytes.Cut(first, []byte(";"))
	first, _, _ = bytes.Cut(bytes.TrimSpace(first), []byte("-"))
	if len(first) < 2 || len(first) > 3 {
		return ""
	}
	return strings.ToLower(string(first))
}

// MergeQuery appends the visitor's raw query string to dest's query,
// keeping dest's bytes and fragment. A query with spaces or control bytes is
// not forwarded.
func MergeQuery(dest string, q []byte) string {
	if len(q) == 0 {
		return dest
	}
	for _, c := range q {
		if c <= ' ' || c == 0x7f {
			return dest
		}
	}
	frag := ""
	if i := strings.IndexByte(dest, '#'); i >= 0 {
		dest, frag = dest[:i], dest[i:]
	}
	sep := "?"
	if strings.IndexByte(dest, '?') >= 0 {
		sep = "&"
		if strings.HasSuffix(dest, "?") || strings.HasSuffix(dest, "&") {
			sep = ""
		}
	}
	return dest + sep + string(q) + frag
}
