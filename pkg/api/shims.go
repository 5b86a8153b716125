package api

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/link"
)

// Migration shims: the create calls of Shlink and Bitly, in their request
// and response shapes, so existing scripts keep working with only the host
// changed. Fields those tools accept that have no meaning here are read and
// ignored.
const (
	ShlinkPath = "/rest/v3/short-urls"
	BitlyPath  = "/v4/shorten"
)

// decodeLoose reads one JSON object, tolerating unknown fields (clients of
// other tools send many).
func decodeLoose(ctx *fasthttp.RequestCtx, v any) bool {
	mt, _, _ := bytes.Cut(ctx.Request.Header.ContentType(), []byte(";"))
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/json")) {
		WriteProblem(ctx, 415, TypeMediaType, "Unsupported Media Type", "send the body as Content-Type: application/json")
		return false
	}
	if err := json.Unmarshal(ctx.Request.Body(), v); err != nil {
		WriteProblem(ctx, 400, TypeInvalidBody, "Invalid Request Body", "body is not the expected JSON object: "+jsonErr(err))
		return false
	}
	return true
}

type shlinkRequest struct {
	LongURL      string   `json:"longUrl"`
	CustomSlug   string   `json:"customSlug"`
	Tags         []string `json:"tags"`
	ValidUntil   string   `json:"validUntil"`
	MaxVisits    int64    `json:"maxVisits"`
	FindIfExists bool     `json:"findIfExists"`
	ForwardQuery *bool    `json:"forwardQuery"`
}

type shlinkMeta struct {
	ValidSince *string `json:"validSince"`
	ValidUntil *string `json:"validUntil"`
	MaxVisits  *int64  `json:"maxVisits"`
}

type shlinkShortURL struct {
	ShortCode        string         `json:"shortCode"`
	ShortURL         string         `json:"shortUrl"`
	LongURL          string         `json:"longUrl"`
	DateCreated      string         `json:"dateCreated"`
	VisitsSummary    map[string]int `json:"visitsSummary"`
	Tags             []string       `json:"tags"`
	Meta             shlinkMeta     `json:"meta"`
	Domain           *string        `json:"domain"`
	Title            *string        `json:"title"`
	Crawlable        bool           `json:"crawlable"`
	ForwardQuery     bool           `json:"forwardQuery"`
	HasRedirectRules bool           `json:"hasRedirectRules"`
}

// shlinkCreate is Shlink's POST /rest/v3/short-urls (X-Api-Key auth).
func (a *API) shlinkCreate(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if p.Anonymous() && !a.cfg.AllowAnonymous {
		requireKey(ctx, p)
		return
	}
	var r shlinkRequest
	if !decodeLoose(ctx, &r) {
		return
	}
	req := link.CreateRequest{URL: r.LongURL, CustomCode: r.CustomSlug, Owner: p.Owner, MaxClicks: r.MaxVisits,
		Dedupe: r.FindIfExists && r.CustomSlug == "", Options: link.OptionsRequest{Tags: r.Tags}}
	if r.ForwardQuery != nil {
		req.Options.ForwardQuery = *r.ForwardQuery
	}
	if r.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339, r.ValidUntil)
		if err != nil {
			a.fail(ctx, link.ErrExpiresAt)
			return
		}
		req.ExpiresAt = t
	}
	l, ok := a.shimCreate(ctx, req)
	if !ok {
		return
	}
	out := shlinkShortURL{ShortCode: l.Code, ShortURL: a.cfg.BaseURL + "/" + l.Code, LongURL: l.URL,
		DateCreated: l.CreatedAt.UTC().Format(time.RFC3339), VisitsSummary: map[string]int{"total": 0, "nonBots": 0, "bots": 0},
		Tags: l.Options.Tags, ForwardQuery: l.Options.ForwardQuery, HasRedirectRules: len(l.Options.Rules) > 0}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if !l.ExpiresAt.IsZero() {
		s := l.ExpiresAt.UTC().Format(time.RFC3339)
		out.Meta.ValidUntil = &s
	}
	if l.MaxClicks > 0 {
		m := l.MaxClicks
		out.Meta.MaxVisits = &m
	}
	writeJSON(ctx, 200, out) // Shlink answers 200 to a create
}

type bitlyRequest struct {
	LongURL string   `json:"long_url"`
	Tags    []string `json:"tags"`
}

// bitlyShorten is Bitly's POST /v4/shorten: like Bitly, the same long URL of
// the same owner gives the same link (200), a new one 201.
func (a *API) bitlyShorten(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if p.Anonymous() && !a.cfg.AllowAnonymous {
		requireKey(ctx, p)
		return
	}
	var r bitlyRequest
	if !decodeLoose(ctx, &r) {
		return
	}
	req := link.CreateRequest{URL: r.LongURL, Owner: p.Owner, Dedupe: true, Options: link.OptionsRequest{Tags: r.Tags}}
	c, cancel := a.context()
	defer cancel()
	l, existing, err := a.cfg.Store.Create(c, req)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	host := a.cfg.BaseURL
	if i := bytes.Index([]byte(host), []byte("://")); i >= 0 {
		host = host[i+3:]
	}
	tags := l.Options.Tags
	if tags == nil {
		tags = []string{}
	}
	status := 201
	if existing {
		status = 200
	}
	writeJSON(ctx, status, map[string]any{
		"created_at": l.CreatedAt.UTC().Format("2006-01-02T15:04:05-0700"), "id": host + "/" + l.Code,
		"link": a.cfg.BaseURL + "/" + l.Code, "custom_bitlinks": []string{}, "long_url": l.URL, "archived": false,
		"tags": tags, "deeplinks": []string{}, "references": map[string]string{},
	})
}

// shimCreate creates a link for a shim, answering failures in our
// problem+json shape.
func (a *API) shimCreate(ctx *fasthttp.RequestCtx, req link.CreateRequest) (link.Link, bool) {
	c, cancel := a.context()
	defer cancel()
	l, _, err := a.cfg.Store.Create(c, req)
	if err != nil {
		a.fail(ctx, err)
		return l, false
	}
	return l, true
}
