package api

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/webhook"
)

// Dead letters one GET /webhooks/{id}/dead-letters returns.
const (
	DefaultDeadLetterLimit = 100
	MaxDeadLetterLimit     = 1000
)

// webhookJSON is the webhook object of the contract. Secret is shown by
// the create, GET /webhooks/{id} and the update only, never in the list.
// The previous secret of a rotation is never shown: only until when it
// still signs deliveries.
type webhookJSON struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Owner       string   `json:"owner"`
	CreatedAt   string   `json:"created_at"`
	// PreviousSecretExpiresAt is null unless a rotation's previous secret
	// still signs deliveries.
	PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
	Secret                  string  `json:"secret,omitempty"`
}

// webhookCreateBody is the body of POST /webhooks. Unknown fields are
// refused.
type webhookCreateBody struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Secret      string   `json:"secret"`
}

// webhookUpdateBody is the body of PATCH /webhooks/{id}: every field
// optional, null the same as absent. Unknown fields are refused.
type webhookUpdateBody struct {
	URL          *string   `json:"url"`
	Events       *[]string `json:"events"`
	Description  *string   `json:"description"`
	RotateSecret *bool     `json:"rotate_secret"`
}

// webhookTestJSON is the answer of POST /webhooks/{id}/test.
type webhookTestJSON struct {
	MessageID string `json:"message_id"`
}

// webhookListJSON is the answer of GET /webhooks.
type webhookListJSON struct {
	Webhooks []webhookJSON `json:"webhooks"`
}

// deadLettersJSON is the answer of GET /webhooks/{id}/dead-letters.
type deadLettersJSON struct {
	DeadLetters []webhook.DeadLetter `json:"dead_letters"`
}

// replayJSON is the answer of POST /webhooks/{id}/replay.
type replayJSON struct {
	Replayed int `json:"replayed"`
}

func webhookView(s webhook.Subscription, withSecret bool) webhookJSON {
	j := webhookJSON{ID: s.ID, URL: s.URL, Events: s.Events, Description: s.Description, Owner: s.Owner,
		CreatedAt: s.CreatedAt.UTC().Truncate(time.Second).Format(time.RFC3339)}
	if j.Events == nil {
		j.Events = []string{}
	}
	if s.ActivePreviousSecret(time.Now()) != "" {
		at := s.PreviousSecretExpiresAt.UTC().Truncate(time.Second).Format(time.RFC3339)
		j.PreviousSecretExpiresAt = &at
	}
	if withSecret {
		j.Secret = s.Secret
	}
	return j
}

// webhooksReady refuses the caller without a key (401) and answers 503
// when the edge has no webhook registry; it reports whether to go on.
func (a *API) webhooksReady(ctx *fasthttp.RequestCtx, p auth.Principal) bool {
	if !requireKey(ctx, p) {
		return false
	}
	if a.cfg.Webhooks == nil {
		WriteProblem(ctx, 503, TypeUnavailable, "Service Unavailable", "webhooks are not configured on this edge")
		return false
	}
	return true
}

// createWebhook answers POST /webhooks: 201 with the new subscription of
// the caller's owner, its secret included.
func (a *API) createWebhook(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	var b webhookCreateBody
	if e := decodeJSON(ctx.Request.Header.ContentType(), ctx.Request.Body(), &b); e != nil {
		e.write(ctx)
		return
	}
	if b.URL == nil {
		WriteProblem(ctx, 400, TypeInvalidURL, "Invalid URL", "url is required")
		return
	}
	c, cancel := a.context()
	defer cancel()
	s, err := a.cfg.Webhooks.Create(c, p.Owner, webhook.CreateRequest{URL: *b.URL, Events: b.Events, Description: b.Description, Secret: b.Secret})
	if err != nil {
		a.fail(ctx, err)
		return
	}
	ctx.Response.Header.Set("Location", Prefix+"/webhooks/"+s.ID)
	writeJSON(ctx, 201, webhookView(s, true))
}

// listWebhooks answers GET /webhooks: the caller's subscriptions, oldest
// first, without their secrets.
func (a *API) listWebhooks(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	subs, err := a.cfg.Webhooks.List(c, p.Owner)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	out := webhookListJSON{Webhooks: make([]webhookJSON, len(subs))}
	for i, s := range subs {
		out.Webhooks[i] = webhookView(s, false)
	}
	writeJSON(ctx, 200, out)
}

// getWebhook answers GET /webhooks/{id}: one of the caller's
// subscriptions, its secret included.
func (a *API) getWebhook(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	s, err := a.cfg.Webhooks.Get(c, p.Owner, id)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, webhookView(s, true))
}

// updateWebhook answers PATCH /webhooks/{id}: 200 with the subscription
// as changed, its secret included. {} changes nothing.
func (a *API) updateWebhook(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	var b webhookUpdateBody
	if e := decodeJSON(ctx.Request.Header.ContentType(), ctx.Request.Body(), &b); e != nil {
		e.write(ctx)
		return
	}
	c, cancel := a.context()
	defer cancel()
	s, err := a.cfg.Webhooks.Update(c, p.Owner, id, webhook.UpdateRequest{URL: b.URL, Events: b.Events,
		Description: b.Description, RotateSecret: b.RotateSecret != nil && *b.RotateSecret})
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 200, webhookView(s, true))
}

// testWebhook answers POST /webhooks/{id}/test: a webhook.test delivery
// queued for the subscription; 202 with its message ID.
func (a *API) testWebhook(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	msg, err := a.cfg.Webhooks.SendTest(c, p.Owner, id)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 202, webhookTestJSON{MessageID: msg})
}

// deleteWebhook answers DELETE /webhooks/{id}: 204.
func (a *API) deleteWebhook(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	if err := a.cfg.Webhooks.Delete(c, p.Owner, id); err != nil {
		a.fail(ctx, err)
		return
	}
	ctx.Response.SetStatusCode(204)
}

// webhookDeadLetters answers GET /webhooks/{id}/dead-letters?limit=N:
// the subscription's failed deliveries, most recent failure first.
func (a *API) webhookDeadLetters(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	limit, ok := intParam(ctx, "limit", DefaultDeadLetterLimit, 1, MaxDeadLetterLimit)
	if !ok {
		return
	}
	c, cancel := a.context()
	defer cancel()
	dls, err := a.cfg.Webhooks.DeadLetters(c, p.Owner, id, limit)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	if dls == nil {
		dls = []webhook.DeadLetter{}
	}
	writeJSON(ctx, 200, deadLettersJSON{DeadLetters: dls})
}

// replayWebhook answers POST /webhooks/{id}/replay: every dead letter of
// the subscription queued again; 202 with how many.
func (a *API) replayWebhook(ctx *fasthttp.RequestCtx, p auth.Principal, id string) {
	if !a.webhooksReady(ctx, p) {
		return
	}
	c, cancel := a.context()
	defer cancel()
	n, err := a.cfg.Webhooks.Replay(c, p.Owner, id)
	if err != nil {
		a.fail(ctx, err)
		return
	}
	writeJSON(ctx, 202, replayJSON{Replayed: n})
}
