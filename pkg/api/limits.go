package api

import (
	"context"
	"net/netip"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/clientip"
	"github.com/shortener/shortener/pkg/ratelimit"
)

// Rate-limit buckets.
const (
	BucketCreate = "create" // POST /links
	BucketAPI    = "api"    // every other API call
)

// Limits are the API rate limits. A Limit with N <= 0 is unlimited. Admin
// keys are never limited.
type Limits struct {
	CreateAnonymous, CreateKey ratelimit.Limit
	APIAnonymous, APIKey       ratelimit.Limit
}

// DefaultLimits: 10 creations a minute for anonymous callers, more for keys.
var DefaultLimits = Limits{
	CreateAnonymous: ratelimit.Limit{N: 10, Window: time.Minute},
	CreateKey:       ratelimit.Limit{N: 120, Window: time.Minute},
	APIAnonymous:    ratelimit.Limit{N: 120, Window: time.Minute},
	APIKey:          ratelimit.Limit{N: 1200, Window: time.Minute},
}

func (l Limits) of(p auth.Principal, bucket string) ratelimit.Limit {
	switch {
	case p.Admin:
		return ratelimit.Limit{}
	case bucket == BucketCreate && p.Anonymous():
		return l.CreateAnonymous
	case bucket == BucketCreate:
		return l.CreateKey
	case p.Anonymous():
		return l.APIAnonymous
	}
	return l.APIKey
}

// identity is who a limit applies to: the key's owner, else the client IP.
func (a *API) identity(ctx *fasthttp.RequestCtx, p auth.Principal) string {
	if !p.Anonymous() {
		return "owner:" + p.Owner
	}
	var peer netip.Addr
	if ip := ctx.RemoteIP(); ip != nil {
		peer, _ = netip.AddrFromSlice(ip)
	}
	trusted := a.cfg.Trusted
	if trusted == nil {
		trusted, _ = clientip.ParseTrusted("")
	}
	return "ip:" + trusted.ClientIP(peer.Unmap(), ctx.Request.Header.Peek("X-Forwarded-For")).String()
}

// allow applies the caller's limit for bucket. It returns the decision
// (nil when the caller is not limited) and false after answering 429 with
// Retry-After. When the limiter cannot reach Redis the request goes through
// (the call itself then succeeds or fails on its own).
func (a *API) allow(ctx *fasthttp.RequestCtx, p auth.Principal, bucket string) (*ratelimit.Decision, bool) {
	lim := a.cfg.Limits.of(p, bucket)
	if a.cfg.Limiter == nil || lim.N <= 0 {
		return nil, true
	}
	c, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	d, err := a.cfg.Limiter.Allow(c, bucket, a.identity(ctx, p), lim)
	if err != nil {
		a.cfg.Log.Warn("rate limiter unavailable; request let through", "bucket", bucket, "err", err)
		return nil, true
	}
	if !d.Allowed {
		a.limited.WithLabelValues(bucket).Inc()
		WriteProblem(ctx, 429, TypeRateLimited, "Too Many Requests",
			"rate limit of "+strconv.Itoa(d.Limit)+" requests per "+lim.Window.String()+" reached; retry after "+strconv.FormatInt(d.RetryAfterSeconds(), 10)+" s")
		ctx.Response.Header.Set("Retry-After", strconv.FormatInt(d.RetryAfterSeconds(), 10))
		return &d, false
	}
	return &d, true
}

// setLimitHeaders adds the X-RateLimit-* headers of d to the answer.
func setLimitHeaders(ctx *fasthttp.RequestCtx, d *ratelimit.Decision) {
	if d == nil {
		return
	}
	h := &ctx.Response.Header
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.ResetSeconds(), 10))
}
