// Package api holds the edge's JSON REST API under /api/v1: links, stats,
// API-key authentication and problem+json errors.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/clientip"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/qr"
	"github.com/shortener/shortener/pkg/ratelimit"
	"github.com/shortener/shortener/pkg/webhook"
)

// Prefix is the path prefix of the API.
const Prefix = "/api/v1"

// DefaultListLimit is the page size of GET /links without ?limit.
const DefaultListLimit = 50

// Config configures the API.
type Config struct {
	Store     *link.Store
	Keys      *auth.Keys
	Analytics *analytics.Reader
	QR        *qr.Renderer
	// Limiter and Limits rate-limit the API; a nil Limiter limits nothing.
	Limiter *ratelimit.Limiter
	Limits  Limits
	// Trusted are the proxies whose X-Forwarded-For names the client (the
	// identity of anonymous callers).
	Trusted        *clientip.Trusted
	BaseURL        string // prefix of short_url, without a trailing slash
	Webhooks       *webhook.Registry
	AllowAnonymous bool
	Log            *slog.Logger
	Registry       prometheus.Registerer
	// Timeout bounds the Redis work of one API call.
	Timeout time.Duration
}

// API serves /api/v1. It is safe for concurrent use.
type API struct {
	cfg      Config
	requests *prometheus.CounterVec
	limited  *prometheus.CounterVec
}

// New returns the API and registers its metrics.
func New(cfg Config) (*API, error) {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	a := &API{cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_edge_api_requests_total",
		Help: "API requests by route and status code.",
	}, []string{"route", "status"}), limited: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortener_edge_rate_limited_total",
		Help: "API requests refused with 429, by bucket (create, api).",
	}, []string{"bucket"})}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{a.requests, a.limited} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// route names are the metric's label values: a fixed, bounded set.
const (
	routeCreate      = "create_link"
	routeList        = "list_links"
	routeGet         = "get_link"
	routeDelete      = "delete_link"
	routePatch       = "patch_link"
	routeStats       = "stats"
	routeTop         = "stats_top"
	routeAnalytic    = "link_analytics"
	routeQR          = "link_qr"
	routeTag         = "tag_analytics"
	routeBulk        = "bulk_create"
	routeOrphans     = "stats_orphans"
	routeAnalyticCSV = "link_analytics_csv"
	routeClicksCSV   = "link_clicks_csv"
	routeShlink      = "shlink_create"
	routeBitly       = "bitly_shorten"
	routeNotFound    = "unknown"

	routeCreateWebhook = "create_webhook"
	routeListWebhooks  = "list_webhooks"
	routeGetWebhook    = "get_webhook"
	routeDeleteWebhook = "delete_webhook"
	routeDeadLetters   = "webhook_dead_letters"
	routeReplayWebhook = "replay_webhook"
	routeUpdateWebhook = "update_webhook"
	routeTestWebhook   = "test_webhook"
)

// Serve answers a request whose path starts with /api/.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	route := a.serve(ctx)
	a.requests.WithLabelValues(route, strconv.Itoa(ctx.Response.StatusCode())).Inc()
}

// serve authenticates, applies the rate limit of the caller, then routes.
func (a *API) serve(ctx *fasthttp.RequestCtx) string {
	p, authErr := a.authenticate(ctx)
	bucket := BucketAPI
	switch string(ctx.Path()) {
	case Prefix + "/links", Prefix + "/links/bulk", ShlinkPath, BitlyPath:
		if ctx.IsPost() {
			bucket = BucketCreate
		}
	}
	d, ok := a.allow(ctx, p, bucket)
	defer setLimitHeaders(ctx, d) // on every answer, whatever the handler wrote
	if !ok {
		return "rate_limited"
	}
	if authErr != nil {
		a.failAuth(ctx, authErr)
		return "unauthorized"
	}
	return a.dispatch(ctx, p)
}

func (a *API) dispatch(ctx *fasthttp.RequestCtx, p auth.Principal) string {
	path := string(ctx.Path())
	route, allowed, found := matchRoute(string(ctx.Method()), path)
	switch {
	case !found:
		WriteProblem(ctx, 404, TypeNotFound, "Not Found", "no such API route")
		return routeNotFound
	case allowed != "":
		methodNotAllowed(ctx, allowed)
		return route
	}
	switch route {
	case routeShlink:
		a.shlinkCreate(ctx, p)
	case routeBitly:
		a.bitlyShorten(ctx, p)
	case routeCreate:
		a.create(ctx, p)
	case routeList:
		a.list(ctx, p)
	case routeBulk:
		a.bulk(ctx, p)
	case routeGet:
		a.get(ctx, pathParam(path))
	case routeDelete:
		a.delete(ctx, p, pathParam(path))
	case routePatch:
		a.patch(ctx, p, pathParam(path))
	case routeAnalytic:
		a.analytics(ctx, p, pathParam(path))
	case routeQR:
		a.qrCode(ctx, pathParam(path))
	case routeTag:
		a.tagAnalytics(ctx, p, pathParam(path))
	case routeAnalyticCSV:
		a.analyticsCSV(ctx, p, pathParam(path))
	case routeClicksCSV:
		a.clicksCSV(ctx, p, pathParam(path))
	case routeOrphans:
		a.orphans(ctx, p)
	case routeTop:
		a.top(ctx)
	case routeStats:
		a.stats(ctx)
	case routeOpenAPI:
		a.openAPI(ctx)
	case routeCreateWebhook:
		a.createWebhook(ctx, p)
	case routeListWebhooks:
		a.listWebhooks(ctx, p)
	case routeGetWebhook:
		a.getWebhook(ctx, p, pathParam(path))
	case routeDeleteWebhook:
		a.deleteWebhook(ctx, p, pathParam(path))
	case routeDeadLetters:
		a.webhookDeadLetters(ctx, p, pathParam(path))
	case routeReplayWebhook:
		a.replayWebhook(ctx, p, pathParam(path))
	case routeUpdateWebhook:
		a.updateWebhook(ctx, p, pathParam(path))
	case routeTestWebhook:
		a.testWebhook(ctx, p, pathParam(path))
	}
	return route
}

func methodNotAllowed(ctx *fasthttp.RequestCtx, allow string) {
	WriteProblem(ctx, 405, TypeMethod, "Method Not Allowed", "allowed: "+allow)
	ctx.Response.Header.Set("Allow", allow)
}

func (a *API) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), a.cfg.Timeout)
}

// fail answers with the problem for err; unknown errors are logged, and
// only a generic detail reaches the client.
func (a *API) fail(ctx *fasthttp.RequestCtx, err error) {
	status, typ, title, public := errorStatus(err)
	detail := "the link store cannot be reached; try again"
	if public {
		detail = err.Error()
	} else {
		a.cfg.Log.Error("API call failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
	}
	WriteProblem(ctx, status, typ, title, detail)
}

// errBadAuthorization is an Authorization header that is not "Bearer KEY".
var errBadAuthorization = errors.New("Authorization must be \"Bearer KEY\"")

// authenticate resolves the caller's key: an anonymous principal when the
// request carries none, an error when it carries a bad or unknown one.
func (a *API) authenticate(ctx *fasthttp.RequestCtx) (auth.Principal, error) {
	key := ""
	if h := ctx.Request.Header.Peek("Authorization"); len(h) > 0 {
		scheme, rest, found := bytes.Cut(h, []byte(" "))
		if !found || !bytes.EqualFold(scheme, []byte("Bearer")) || len(bytes.TrimSpace(rest)) == 0 {
			return auth.Principal{}, errBadAuthorization
		}
		key = string(bytes.TrimSpace(rest))
	} else if h := ctx.Request.Header.Peek("X-API-Key"); len(h) > 0 {
		key = string(h)
	}
	if key == "" {
		return auth.Principal{}, nil
	}
	c, cancel := a.context()
	defer cancel()
	return a.cfg.Keys.Lookup(c, key)
}

// failAuth answers a failed authentication: 401, or 503 when the key store
// cannot be reached.
func (a *API) failAuth(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, errBadAuthorization) {
		WriteProblem(ctx, 401, TypeUnauthorized, "Unauthorized", err.Error())
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="shortener"`)
		return
	}
	a.fail(ctx, err)
	if errors.Is(err, auth.ErrUnknownKey) {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="shortener", error="invalid_token"`)
	}
}

func requireKey(ctx *fasthttp.RequestCtx, p auth.Principal) bool {
	if p.Anonymous() {
		WriteProblem(ctx, 401, TypeUnauthorized, "Unauthorized", "this call needs an API key (Authorization: Bearer KEY or X-API-Key)")
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="shortener"`)
		return false
	}
	return true
}

// linkJSON is the link object of the contract.
type linkJSON struct {
	Code      string  `json:"code"`
	ShortURL  string  `json:"short_url"`
	URL       string  `json:"url"`
	Owner     string  `json:"owner"`
	CreatedAt string  `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
	MaxClicks *int64  `json:"max_clicks"`
	Clicks    int64   `json:"clicks"`
	Existing  bool    `json:"existing,omitempty"`

	RedirectStatus    *int        `json:"redirect_status"`
	ForwardQuery      bool        `json:"forward_query"`
	PasswordProtected bool        `json:"password_protected"`
	Rules             []link.Rule `json:"rules"`
	Tags              []string    `json:"tags"`
}

func (a *API) toJSON(l link.Link, clicks int64) linkJSON { return linkView(a.cfg.BaseURL, l, clicks) }

// linkEventJSON is the data of a link event: the link as the API shows
// it, without the click count (a changing figure, not part of the link).
type linkEventJSON struct {
	linkJSON
	Clicks *int64 `json:"clicks,omitempty"`
}

// LinkData returns the link store's Describe: the data of link events, the
// link as GET /api/v1/links/{code} shows it but without "clicks".
func LinkData(baseURL string) func(l *link.Link) []byte {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(l *link.Link) []byte {
		b, err := json.Marshal(linkEventJSON{linkJSON: linkView(baseURL, *l, 0)})
		if err != nil {
			return []byte("{}")
		}
		return b
	}
}

func linkView(baseURL string, l link.Link, clicks int64) linkJSON {
	j := linkJSON{
		Code: l.Code, ShortURL: baseURL + "/" + l.Code, URL: l.URL, Owner: l.Owner,
		CreatedAt: l.CreatedAt.UTC().Format(time.RFC3339), Clicks: clicks,
	}
	if j.Owner == "" {
		j.Owner = link.AnonymousOwner
	}
	if !l.ExpiresAt.IsZero() {
		s := l.ExpiresAt.UTC().Format(time.RFC3339)
		j.ExpiresAt = &s
	}
	if l.MaxClicks > 0 {
		m := l.MaxClicks
		j.MaxClicks = &m
	}
	o := l.Options
	if o.RedirectStatus != 0 {
		st := o.RedirectStatus
		j.RedirectStatus = &st
	}
	j.ForwardQuery, j.PasswordProtected = o.ForwardQuery, o.PasswordHash != ""
	j.Rules, j.Tags = o.Rules, o.Tags
	if j.Rules == nil {
		j.Rules = []link.Rule{}
	}
	if j.Tags == nil {
		j.Tags = []string{}
	}
	return j
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		WriteProblem(ctx, 500, TypeInternal, "Internal Server Error", "cannot encode the answer")
		return
	}
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.SetBody(buf.Bytes())
}

// createBody is the body of POST /links. Unknown fields are refused.
type createBody struct {
	URL        *string         `json:"url"`
	CustomCode string          `json:"custom_code"`
	TTL        json.RawMessage `json:"ttl"`
	ExpiresAt  *string         `json:"expires_at"`
	MaxClicks  json.RawMessage `json:"max_clicks"`
	Dedupe     bool            `json:"dedupe"`
	// Options beyond a plain redirect.
	RedirectStatus int         `json:"redirect_status"`
	ForwardQuery   bool        `json:"forward_query"`
	Password       string      `json:"password"`
	Rules          []link.Rule `json:"rules"`
	Tags           []string    `json:"tags"`
}

// requestError is a refused request body: its answer, ready to write.
type requestError struct {
	status     int
	typ, title string
	detail     string
}

func (e *requestError) Error() string { return e.detail }

func (e *requestError) write(ctx *fasthttp.RequestCtx) {
	WriteProblem(ctx, e.status, e.typ, e.title, e.detail)
}

// decodeJSON reads exactly one JSON object of the expected shape from body.
func decodeJSON(contentType, body []byte, v any) *requestError {
	mt, _, _ := bytes.Cut(contentType, []byte(";"))
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/json")) {
		return &requestError{415, TypeMediaType, "Unsupported Media Type", "send the body as Content-Type: application/json"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &requestError{400, TypeInvalidBody, "Invalid Request Body", "body is not the expected JSON object: " + jsonErr(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &requestError{400, TypeInvalidBody, "Invalid Request Body", "body must hold exactly one JSON object"}
	}
	return nil
}

// parseCreate turns a POST /links body into a create request for owner.
// It checks the body's shape and field types; the link rules (URL, code,
// times) are the store's.
func parseCreate(contentType, body []byte, owner string) (link.CreateRequest, *requestError) {
	var b createBody
	if e := decodeJSON(contentType, body, &b); e != nil {
		return link.CreateRequest{}, e
	}
	if b.URL == nil {
		return link.CreateRequest{}, &requestError{400, TypeInvalidURL, "Invalid URL", "url is required"}
	}
	bad := func(err error) *requestError {
		return &requestError{400, TypeInvalidBody, "Invalid Request Body", err.Error()}
	}
	req := link.CreateRequest{URL: *b.URL, CustomCode: b.CustomCode, Owner: owner, Dedupe: b.Dedupe,
		Options: link.OptionsRequest{RedirectStatus: b.RedirectStatus, ForwardQuery: b.ForwardQuery, Password: b.Password, Rules: b.Rules, Tags: b.Tags}}
	if b.TTL != nil && string(b.TTL) != "null" {
		v, ok := wholeNumber(b.TTL)
		if !ok || v <= 0 || v > int64(link.MaxTTL/time.Second) {
			return req, bad(link.ErrTTL)
		}
		req.TTL = time.Duration(v) * time.Second
	}
	if b.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339, *b.ExpiresAt)
		if err != nil {
			return req, bad(link.ErrExpiresAt)
		}
		req.ExpiresAt = t
	}
	if b.MaxClicks != nil && string(b.MaxClicks) != "null" {
		v, ok := wholeNumber(b.MaxClicks)
		if !ok || v < 1 {
			return req, bad(link.ErrMaxClicks)
		}
		req.MaxClicks = v
	}
	return req, nil
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be a %s", te.Field, te.Type)
	case errors.Is(err, io.EOF):
		return "body is empty"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// wholeNumber reads a JSON integer literal (not a string, not a fraction).
func wholeNumber(raw json.RawMessage) (int64, bool) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	return v, err == nil
}

func (a *API) create(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if p.Anonymous() && !a.cfg.AllowAnonymous {
		requireKey(ctx, p)
		return
	}
	req, rerr := parseCreate(ctx.Request.Header.ContentType(), ctx.Request.Body(), p.Owner)
	if rerr != nil {
		rerr.write(ctx)
		return
	}
	c, cancel := a.context()
	defer cancel()
	l, existing, err := a.cfg.Store.Create(c, req)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	var clicks int64
	status := 201
	if existing {
		status = 200
		if n, err := a.cfg.Store.Clicks(c, l.Code); err == nil {
			clicks = n[0]
		}
	} else {
		ctx.Response.Header.Set("Location", Prefix+"/links/"+l.Code)
	}
	j := a.toJSON(l, clicks)
	j.Existing = existing
	writeJSON(ctx, status, j)
}

func (a *API) get(ctx *fasthttp.RequestCtx, code string) {
	c, cancel := a.context()
	defer cancel()
	l, err := a.cfg.Store.Get(c, code)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	clicks, err := a.cfg.Store.Clicks(c, code)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, a.toJSON(l, clicks[0]))
}

func (a *API) delete(ctx *fasthttp.RequestCtx, p auth.Principal, code string) {
	if !requireKey(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	if err := a.cfg.Store.Delete(c, code, p.Owner, p.Admin); err != nil {
		a.fail(ctx, err)
		return
	}
	ctx.Response.SetStatusCode(204)
}

func (a *API) list(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if !requireKey(ctx, p) {
		return
	}
	args := ctx.QueryArgs()
	limit := DefaultListLimit
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > link.MaxListLimit {
			WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", fmt.Sprintf("limit must be 1 to %d", link.MaxListLimit))
			return
		}
		limit = n
	}
	owner, ok := ownerParam(ctx, p, "list another owner's links")
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	tag := string(args.Peek("tag"))
	if tag != "" && !link.ValidTag(tag) {
		WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", link.ErrTag.Error())
		return
	}
	links, next, err := a.cfg.Store.List(c, owner, tag, string(args.Peek("cursor")), limit)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	codes := make([]string, len(links))
	for i, l := range links {
		codes[i] = l.Code
	}
	clicks, err := a.cfg.Store.Clicks(c, codes...)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	out := struct {
		Links      []linkJSON `json:"links"`
		NextCursor string     `json:"next_cursor"`
	}{Links: make([]linkJSON, len(links)), NextCursor: next}
	for i, l := range links {
		out.Links[i] = a.toJSON(l, clicks[i])
	}
	writeJSON(ctx, 200, out)
}

func (a *API) stats(ctx *fasthttp.RequestCtx) {
	c, cancel := a.context()
	defer cancel()
	n, err := a.cfg.Store.Count(c)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	clicks, err := a.cfg.Store.TotalClicks(c)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, map[string]int64{"total_links": n, "total_clicks": clicks})
}

// intParam reads an optional integer query parameter within [lo, hi].
func intParam(ctx *fasthttp.RequestCtx, name string, def, lo, hi int) (int, bool) {
	v := ctx.QueryArgs().Peek(name)
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < lo || n > hi {
		WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", fmt.Sprintf("%s must be a whole number from %d to %d", name, lo, hi))
		return 0, false
	}
	return n, true
}

// mayRead reports whether p may see l's analytics: its owner or an admin
// (anonymous links: admins only). It writes 401 or 403 otherwise.
func mayRead(ctx *fasthttp.RequestCtx, p auth.Principal, l link.Link) bool {
	if !requireKey(ctx, p) {
		return false
	}
	if p.Admin || (l.Owner != "" && l.Owner == p.Owner) {
		return true
	}
	WriteProblem(ctx, 403, TypeForbidden, "Forbidden", "only the link's owner or an admin may read its analytics")
	return false
}

func (a *API) analytics(ctx *fasthttp.RequestCtx, p auth.Principal, code string) {
	days, ok := intParam(ctx, "days", 30, 1, analytics.DailyRetentionDays)
	if !ok {
		return
	}
	l, ok := a.readable(ctx, p, code)
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	rep, err := a.cfg.Analytics.Link(c, code, days)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, struct {
		Code      string `json:"code"`
		URL       string `json:"url"`
		CreatedAt string `json:"created_at"`
		analytics.Report
	}{Code: l.Code, URL: l.URL, CreatedAt: l.CreatedAt.UTC().Format(time.RFC3339), Report: rep})
}

type topJSON struct {
	Code   string `json:"code"`
	URL    string `json:"url"`
	Clicks int64  `json:"clicks"`
}

func (a *API) top(ctx *fasthttp.RequestCtx) {
	limit, ok := intParam(ctx, "limit", 10, 1, 100)
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	// Ask for a few more than needed: codes whose link is gone are skipped.
	entries, err := a.cfg.Analytics.Top(c, limit+10)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	out := struct {
		Links []topJSON `json:"links"`
	}{Links: make([]topJSON, 0, limit)}
	for _, e := range entries {
		if len(out.Links) == limit {
			break
		}
		l, err := a.cfg.Store.Get(c, e.Code)
		if err != nil {
			continue
		}
		out.Links = append(out.Links, topJSON{Code: e.Code, URL: l.URL, Clicks: e.Clicks})
	}
	writeJSON(ctx, 200, out)
}

// qrCode answers GET /links/{code}/qr?format=png|svg&size=256: a QR code of
// the short URL, public like the short URL itself, rendered once and then
// served from the renderer's cache, with a strong ETag.
func (a *API) qrCode(ctx *fasthttp.RequestCtx, code string) {
	format := string(ctx.QueryArgs().Peek("format"))
	if format == "" {
		format = qr.FormatPNG
	}
	size, ok := intParam(ctx, "size", qr.DefaultSize, qr.MinSize, qr.MaxSize)
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	if _, err := a.cfg.Store.Get(c, code); err != nil {
		a.fail(ctx, err)
		return
	}
	img, err := a.cfg.QR.Render(a.cfg.BaseURL+"/"+code, format, size)
	if err != nil {
		WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", err.Error())
		return
	}
	h := &ctx.Response.Header
	h.Set("ETag", img.ETag)
	h.Set("Cache-Control", "public, max-age=86400")
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatch(inm, img.ETag) {
		ctx.Response.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	h.SetContentType(img.ContentType)
	ctx.Response.SetBody(img.Body)
}

// etagMatch reports whether an If-None-Match header lists etag (or is *).
func etagMatch(header []byte, etag string) bool {
	for _, part := range bytes.Split(header, []byte(",")) {
		p := bytes.TrimSpace(part)
		p = bytes.TrimPrefix(p, []byte("W/"))
		if string(p) == etag || string(p) == "*" {
			return true
		}
	}
	return false
}

// strictUnmarshal decodes raw into v, refusing unknown fields.
func strictUnmarshal(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// tagAnalytics answers GET /tags/{tag}/analytics?days=30: the caller's
// links with that tag (an admin may name another owner with ?owner=).
func (a *API) tagAnalytics(ctx *fasthttp.RequestCtx, p auth.Principal, tag string) {
	if !requireKey(ctx, p) {
		return
	}
	if !link.ValidTag(tag) {
		WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", link.ErrTag.Error())
		return
	}
	days, ok := intParam(ctx, "days", 30, 1, analytics.DailyRetentionDays)
	if !ok {
		return
	}
	owner, ok := ownerParam(ctx, p, "read another owner's tags")
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	rep, err := a.cfg.Analytics.Tag(c, owner, tag, days)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, rep)
}

// ownerParam is the owner a call acts for: the caller's, or the ?owner= an
// admin names. It answers 403 (what says what a non-admin may not do) or
// 400 and returns false when the parameter is refused.
func ownerParam(ctx *fasthttp.RequestCtx, p auth.Principal, what string) (string, bool) {
	v := ctx.QueryArgs().Peek("owner")
	if len(v) == 0 {
		return p.Owner, true
	}
	if !p.Admin && string(v) != p.Owner {
		WriteProblem(ctx, 403, TypeForbidden, "Forbidden", "only an admin may "+what)
		return "", false
	}
	if !link.ValidOwner(string(v)) {
		WriteProblem(ctx, 400, TypeInvalidParam, "Invalid Parameter", link.ErrOwner.Error())
		return "", false
	}
	return string(v), true
}
