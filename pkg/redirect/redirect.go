// Package redirect holds the hot path of the edge: GET and HEAD /{code},
// resolved through the client-side cache and answered without allocating.
package redirect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/clientip"
	"github.com/shortener/shortener/pkg/geo"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/ratelimit"
)

// Resolver finds the target of a code and enforces click limits;
// *link.Store is one.
type Resolver interface {
	Resolve(ctx context.Context, code []byte) (link.Target, error)
	Take(ctx context.Context, code []byte, t link.Target, consume bool) error
}

// Config configures a Handler.
type Config struct {
	// Status is the redirect status: 301, 302, 307 or 308.
	Status   int
	Resolver Resolver
	Log      *slog.Logger
	Registry prometheus.Registerer
	// Clicks receives a click event for every GET redirect; nil records none.
	Clicks *clicks.Producer
	// Geo finds the visitor's country; nil means "unknown".
	Geo *geo.Resolver
	// Trusted are the proxies whose X-Forwarded-For is believed.
	Trusted *clientip.Trusted
	// Limiter bounds wrong guesses at password-protected links; nil: none.
	Limiter *ratelimit.Limiter
}

// ValidStatus reports whether s is a redirect status the edge may send.
func ValidStatus(s int) bool { return s == 301 || s == 302 || s == 307 || s == 308 }

// CacheControl returns the Cache-Control header fitting a redirect status.
// Permanent redirects may be cached by browsers for a short while (a cached
// redirect is a click analytics never sees); temporary ones must not be.
func CacheControl(status int) string {
	if status == 301 || status == 308 {
		return "public, max-age=300"
	}
	return "private, no-cache"
}

// Handler serves redirects. It is safe for concurrent use.
type Handler struct {
	status       int
	cacheControl string
	resolver     Resolver
	log          *slog.Logger
	bg           context.Context // never cancelled: rueidis takes its fast path
	clicks       *clicks.Producer
	geo          *geo.Resolver
	geoHeader    string
	trusted      *clientip.Trusted
	limiter      *ratelimit.Limiter
	optsCache    *lru.Cache[string, *link.Options]

	redirects struct{ ok, stale, notFound, expired, exhausted, failed prometheus.Counter }
	cache     struct{ hit, miss prometheus.Counter }
}

// Pre-rendered bodies: the error answers do not allocate either.
var (
	body404      = problemBody("not-found", 404, "Not Found", "no link has this code")
	body405      = problemBody("method-not-allowed", 405, "Method Not Allowed", "use GET or HEAD")
	body410      = problemBody("expired", 410, "Gone", "this link has expired")
	body410Limit = problemBody("expired", 410, "Gone", "this link has reached its click limit")
	body503      = problemBody("unavailable", 503, "Service Unavailable", "the link store cannot be reached; try again")
)

// problemBody renders a problem with the same stable type URNs as the API.
func problemBody(typ string, status int, title, detail string) []byte {
	return []byte(fmt.Sprintf(`{"type":"urn:shortener:problem:%s","title":%q,"status":%d,"detail":%q}`, typ, title, status, detail))
}

// New returns a Handler and registers its metrics.
func New(cfg Config) (*Handler, error) {
	if !ValidStatus(cfg.Status) {
		return nil, fmt.Errorf("redirect status must be 301, 302, 307 or 308, got %d", cfg.Status)
	}
	h := &Handler{status: cfg.Status, cacheControl: CacheControl(cfg.Status), resolver: cfg.Resolver, log: cfg.Log,
		bg: context.Background(), clicks: cfg.Clicks, geo: cfg.Geo, trusted: cfg.Trusted, limiter: cfg.Limiter}
	h.optsCache, _ = lru.New[string, *link.Options](4096)
	if h.trusted == nil {
		h.trusted, _ = clientip.ParseTrusted("")
	}
	if h.geo != nil {
		h.geoHeader = h.geo.Header()
	}
	redirects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_edge_redirects_total",
		Help: "Answers to GET and HEAD /{code} by result: ok (redirected), stale (redirected from the outage fallback while Redis is unreachable), not_found, expired, limit_reached (max_clicks used up), error.",
	}, []string{"result"})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_edge_cache_lookups_total",
		Help: "Code lookups by the client-side cache outcome: hit (no Redis round trip) or miss.",
	}, []string{"result"})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(redirects); err != nil {
			return nil, err
		}
		if err := cfg.Registry.Register(cache); err != nil {
			return nil, err
		}
	}
	h.redirects.ok = redirects.WithLabelValues("ok")
	h.redirects.stale = redirects.WithLabelValues("stale")
	h.redirects.notFound = redirects.WithLabelValues("not_found")
	h.redirects.expired = redirects.WithLabelValues("expired")
	h.redirects.exhausted = redirects.WithLabelValues("limit_reached")
	h.redirects.failed = redirects.WithLabelValues("error")
	h.cache.hit = cache.WithLabelValues("hit")
	h.cache.miss = cache.WithLabelValues("miss")
	return h, nil
}

// Serve answers a request whose path is /{code}.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if len(path) < 2 || path[0] != '/' || !link.ValidLookup(path[1:]) {
		h.redirects.notFound.Inc()
		writeProblem(ctx, fasthttp.StatusNotFound, body404)
		return
	}
	post := ctx.IsPost() // only a password form posts
	if !ctx.IsGet() && !ctx.IsHead() && !post {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeProblem(ctx, fasthttp.StatusMethodNotAllowed, body405)
		return
	}
	code := path[1:]
	t, err := h.resolver.Resolve(h.bg, code)
	if t.Cached {
		h.cache.hit.Inc()
	} else {
		h.cache.miss.Inc()
	}
	if err != nil {
		h.fail(ctx, code, err)
		return
	}
	if t.Options != "" { // links with options take the slower path
		h.serveOptions(ctx, code, t)
		return
	}
	if post {
		ctx.Response.Header.Set("Allow", "GET, HEAD")
		writeProblem(ctx, fasthttp.StatusMethodNotAllowed, body405)
		return
	}
	if t.MaxClicks > 0 { // only limited links pay a round trip
		if err := h.resolver.Take(h.bg, code, t, ctx.IsGet()); err != nil {
			h.fail(ctx, code, err)
			return
		}
	}
	h.redirect(ctx, code, t, t.URL, h.status, h.cacheControl, ctx.IsGet())
}

// redirect answers with the redirect and records the click.
func (h *Handler) redirect(ctx *fasthttp.RequestCtx, code []byte, t link.Target, location string, status int, cacheControl string, click bool) {
	if t.Stale {
		h.redirects.stale.Inc()
	} else {
		h.redirects.ok.Inc()
	}
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.Set("Location", location)
	ctx.Response.Header.Set("Cache-Control", cacheControl)
	if h.clicks != nil {
		if click {
			h.record(ctx, code, clicks.KindClick)
		} else if ctx.IsHead() {
			h.record(ctx, code, clicks.KindHead)
		}
	}
}

// fail answers a code that cannot be redirected.
func (h *Handler) fail(ctx *fasthttp.RequestCtx, code []byte, err error) {
	switch {
	case errors.Is(err, link.ErrNotFound):
		h.redirects.notFound.Inc()
		writeProblem(ctx, fasthttp.StatusNotFound, body404)
		h.orphan(ctx, code)
	case errors.Is(err, link.ErrExpired):
		h.redirects.expired.Inc()
		writeProblem(ctx, fasthttp.StatusGone, body410)
		h.orphan(ctx, code)
	case errors.Is(err, link.ErrExhausted):
		h.redirects.exhausted.Inc()
		writeProblem(ctx, fasthttp.StatusGone, body410Limit)
	default:
		h.redirects.failed.Inc()
		h.log.Warn("cannot resolve code", "code", string(code), "err", err)
		writeProblem(ctx, fasthttp.StatusServiceUnavailable, body503)
	}
}

// record hands the click to the producer. The event points into request
// buffers; Record copies what it keeps before returning.
// orphan records a GET of a code that leads nowhere (unknown or expired), so
// broken campaign links show up in GET /api/v1/stats/orphans.
func (h *Handler) orphan(ctx *fasthttp.RequestCtx, code []byte) {
	if h.clicks != nil && ctx.IsGet() {
		h.record(ctx, code, clicks.KindOrphan)
	}
}

func (h *Handler) record(ctx *fasthttp.RequestCtx, code []byte, kind clicks.Kind) {
	ip, country := h.visitor(ctx)
	var ipBuf [48]byte
	ipText := ipBuf[:0]
	if ip.IsValid() {
		ipText = ip.AppendTo(ipText)
	}
	ev := clicks.Event{
		Code:      b2s(code),
		Time:      time.Now(),
		IP:        b2s(ipText),
		UserAgent: b2s(ctx.Request.Header.UserAgent()),
		Referer:   b2s(ctx.Request.Header.Referer()),
		Country:   country,
		Kind:      kind,
	}
	h.clicks.Record(&ev)
}

// visitor returns the client's address (behind trusted proxies) and country.
func (h *Handler) visitor(ctx *fasthttp.RequestCtx) (netip.Addr, string) {
	var peer netip.Addr
	if ip := ctx.RemoteIP(); ip != nil {
		peer, _ = netip.AddrFromSlice(ip)
		peer = peer.Unmap()
	}
	ip := h.trusted.ClientIP(peer, ctx.Request.Header.Peek("X-Forwarded-For"))
	country := clicks.CountryUnknown
	if h.geo != nil {
		var hv []byte
		if h.geoHeader != "" {
			hv = ctx.Request.Header.Peek(h.geoHeader)
		}
		country = h.geo.Country(hv, ip)
	}
	return ip, country
}

// b2s views b as a string without copying; only for values that do not
// outlive the request (Record copies them).
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func writeProblem(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/problem+json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.SetBodyRaw(body)
}
