package api

import (
	"encoding/json"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/shortener/shortener/pkg/auth"
)

// MaxBulk is the most links one POST /links/bulk may create.
const MaxBulk = 1000

// bulkResult is one item's outcome: a link, or a problem.
type bulkResult struct {
	Status int       `json:"status"`
	Link   *linkJSON `json:"link,omitempty"`
	Error  *Problem  `json:"error,omitempty"`
}

// bulk answers POST /links/bulk {"links":[…]}: up to MaxBulk create
// requests, each independent; 200 with one result per item, in order.
// It needs an API key.
func (a *API) bulk(ctx *fasthttp.RequestCtx, p auth.Principal) {
	if !requireKey(ctx, p) {
		return
	}
	var body struct {
		Links []json.RawMessage `json:"links"`
	}
	if e := decodeJSON(ctx.Request.Header.ContentType(), ctx.Request.Body(), &body); e != nil {
		e.write(ctx)
		return
	}
	if len(body.Links) == 0 || len(body.Links) > MaxBulk {
		WriteProblem(ctx, 400, TypeInvalidBody, "Invalid Request Body", "links must hold 1 to 1000 links")
		return
	}
	results := make([]bulkResult, len(body.Links))
	c, cancel := a.context()
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, raw := range body.Links {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, raw json.RawMessage) {
			defer func() { <-sem; wg.Done() }()
			req, rerr := parseCreate([]byte("application/json"), raw, p.Owner)
			if rerr != nil {
				results[i] = bulkResult{Status: rerr.status, Error: &Problem{Type: rerr.typ, Title: rerr.title, Status: rerr.status, Detail: rerr.detail}}
				return
			}
			l, existing, err := a.cfg.Store.Create(c, req)
			if err != nil {
				status, typ, title, public := errorStatus(err)
				detail := "the link store cannot be reached; try again"
				if public {
					detail = err.Error()
				}
				results[i] = bulkResult{Status: status, Error: &Problem{Type: typ, Title: title, Status: status, Detail: detail}}
				return
			}
			j := a.toJSON(l, 0)
			j.Existing = existing
			status := 201
			if existing {
				status = 200
			}
			results[i] = bulkResult{Status: status, Link: &j}
		}(i, raw)
	}
	wg.Wait()
	writeJSON(ctx, 200, struct {
		Results []bulkResult `json:"results"`
	}{results})
}
