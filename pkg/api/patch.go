package api

import (
	"encoding/json"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/link"
)

// patchBody is the body of PATCH /links/{code}: every field optional; null
// removes an optional value (expires_at, max_clicks, password,
// redirect_status, rules).
type patchBody struct {
	URL            *string         `json:"url"`
	ExpiresAt      json.RawMessage `json:"expires_at"`
	MaxClicks      json.RawMessage `json:"max_clicks"`
	Password       json.RawMessage `json:"password"`
	RedirectStatus json.RawMessage `json:"redirect_status"`
	ForwardQuery   *bool           `json:"forward_query"`
	Tags           *[]string       `json:"tags"`
	Rules          json.RawMessage `json:"rules"`
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// parsePatch turns a PATCH body into a link.Patch.
func parsePatch(contentType, body []byte) (link.Patch, *requestError) {
	var b patchBody
	var p link.Patch
	if e := decodeJSON(contentType, body, &b); e != nil {
		return p, e
	}
	bad := func(err error) *requestError {
		return &requestError{400, TypeInvalidBody, "Invalid Request Body", err.Error()}
	}
	p.URL, p.ForwardQuery, p.Tags = b.URL, b.ForwardQuery, b.Tags
	switch {
	case b.ExpiresAt == nil:
	case isNull(b.ExpiresAt):
		p.ClearExpiresAt = true
	default:
		var s string
		if json.Unmarshal(b.ExpiresAt, &s) != nil {
			return p, bad(link.ErrExpiresAt)
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return p, bad(link.ErrExpiresAt)
		}
		p.ExpiresAt = &t
	}
	if b.MaxClicks != nil {
		var n int64
		if !isNull(b.MaxClicks) {
			v, ok := wholeNumber(b.MaxClicks)
			if !ok || v < 0 {
				return p, bad(link.ErrMaxClicks)
			}
			n = v
		}
		p.MaxClicks = &n
	}
	if b.Password != nil {
		pw := ""
		if !isNull(b.Password) && json.Unmarshal(b.Password, &pw) != nil {
			return p, bad(link.ErrPassword)
		}
		p.Password = &pw
	}
	if b.RedirectStatus != nil {
		st := 0
		if !isNull(b.RedirectStatus) {
			v, ok := wholeNumber(b.RedirectStatus)
			if !ok {
				return p, bad(link.ErrRedirectStatus)
			}
			st = int(v)
		}
		p.RedirectStatus = &st
	}
	if b.Rules != nil {
		rules := []link.Rule{}
		if !isNull(b.Rules) {
			if err := strictUnmarshal(b.Rules, &rules); err != nil {
				return p, bad(link.ErrRule)
			}
		}
		p.Rules = &rules
	}
	return p, nil
}

func (a *API) patch(ctx *fasthttp.RequestCtx, p auth.Principal, code string) {
	if !requireKey(ctx, p) {
		return
	}
	patch, rerr := parsePatch(ctx.Request.Header.ContentType(), ctx.Request.Body())
	if rerr != nil {
		rerr.write(ctx)
		return
	}
	c, cancel := a.context()
	defer cancel()
	l, err := a.cfg.Store.Update(c, code, p.Owner, p.Admin, patch)
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
