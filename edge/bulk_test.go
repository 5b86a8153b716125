package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestBulkCreate(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice := createKey(t, srv, "alice", false)
	items := []string{
		`{"url":"https://example.com/1","custom_code":"bulk-one"}`,
		`{"url":"javascript:alert(1)"}`,
		`{"url":"https://example.com/3","tags":["q3"],"max_clicks":10}`,
		`{"url":"https://example.com/4","custom_code":"bulk-one"}`,
		`{"url":"https://example.com/5","colour":"red"}`,
	}
	r := do(t, "POST", e.base+"/api/v1/links/bulk", alice, "application/json", strings.NewReader(`{"links":[`+strings.Join(items, ",")+`]}`))
	require.Equal(t, 200, r.status, "body %s", r.body)
	var out struct {
		Results []struct {
			Status int `json:"status"`
			Link   *struct {
				Code  string `json:"code"`
				Owner string `json:"owner"`
			} `json:"link"`
			Error *struct {
				Type   string `json:"type"`
				Status int    `json:"status"`
			} `json:"error"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Len(t, out.Results, 5, "one result per item, in order")
	var statuses []int
	for _, res := range out.Results {
		statuses = append(statuses, res.Status)
	}
	// item 1 and 4 race for bulk-one: exactly one wins
	assert.ElementsMatch(t, []int{201, 400, 201, 409, 400}, statuses)
	assert.Equal(t, 400, out.Results[1].Status)
	assert.Equal(t, "urn:shortener:problem:invalid-url", out.Results[1].Error.Type)
	assert.Equal(t, "alice", out.Results[2].Link.Owner)
	assert.Equal(t, "urn:shortener:problem:invalid-body", out.Results[4].Error.Type)
	assert.Equal(t, 302, get(t, e, "/bulk-one", nil).status)

	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf(`{"url":"https://example.com/%d"}`, i)
	}
	assertProblem(t, do(t, "POST", e.base+"/api/v1/links/bulk", alice, "application/json", strings.NewReader(`{"links":[`+strings.Join(many, ",")+`]}`)), 400, "")
	assertProblem(t, do(t, "POST", e.base+"/api/v1/links/bulk", alice, "application/json", strings.NewReader(`{"links":[]}`)), 400, "")
	assertProblem(t, do(t, "POST", e.base+"/api/v1/links/bulk", "", "application/json", strings.NewReader(`{"links":[{"url":"https://example.com"}]}`)), 401, "")

	r = do(t, "POST", e.base+"/api/v1/links/bulk", alice, "application/json", strings.NewReader(`{"links":[`+strings.Join(many[:1000], ",")+`]}`))
	require.Equal(t, 200, r.status)
	require.NoError(t, json.Unmarshal(r.body, &out))
	require.Len(t, out.Results, 1000)
	for i, res := range out.Results {
		require.Equal(t, 201, res.Status, "item %d", i)
	}
}

func TestMigrationShims(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--allow-anonymous=false")
	key := createKey(t, srv, "scripts", false)

	// Shlink: POST /rest/v3/short-urls with X-Api-Key.
	shlink := func(body string) answer {
		return doWith(t, "POST", e.base+"/rest/v3/short-urls", strings.NewReader(body), func(r *http.Request) {
			r.Header.Set("X-Api-Key", key)
			r.Header.Set("Content-Type", "application/json")
		})
	}
	r := shlink(`{"longUrl":"https://example.com/shlink","customSlug":"from-shlink","tags":["migrated"],"maxVisits":50,"validUntil":"2099-01-01T00:00:00+00:00","crawlable":true,"domain":null}`)
	require.Equal(t, 200, r.status, "body %s", r.body)
	var s struct {
		ShortCode     string         `json:"shortCode"`
		ShortURL      string         `json:"shortUrl"`
		LongURL       string         `json:"longUrl"`
		DateCreated   string         `json:"dateCreated"`
		VisitsSummary map[string]int `json:"visitsSummary"`
		Tags          []string       `json:"tags"`
		Meta          struct {
			ValidUntil *string `json:"validUntil"`
			MaxVisits  *int64  `json:"maxVisits"`
		} `json:"meta"`
	}
	require.NoError(t, json.Unmarshal(r.body, &s))
	assert.Equal(t, "from-shlink", s.ShortCode)
	assert.Equal(t, "https://sho.rt/from-shlink", s.ShortURL)
	assert.Equal(t, "https://example.com/shlink", s.LongURL)
	assert.Equal(t, []string{"migrated"}, s.Tags)
	assert.Equal(t, "2099-01-01T00:00:00Z", *s.Meta.ValidUntil)
	assert.EqualValues(t, 50, *s.Meta.MaxVisits)
	assert.Equal(t, map[string]int{"total": 0, "nonBots": 0, "bots": 0}, s.VisitsSummary)
	status, h := rawGet(t, e.base, "GET", "/from-shlink")
	assert.Equal(t, "HTTP/1.1 302 Found", status)
	assert.Equal(t, "https://example.com/shlink", string(h["location"]))
	assertProblem(t, shlink(`{"longUrl":"https://example.com/x","customSlug":"from-shlink"}`), 409, "")
	r1 := shlink(`{"longUrl":"https://example.com/same","findIfExists":true}`)
	r2 := shlink(`{"longUrl":"https://example.com/same","findIfExists":true}`)
	require.Equal(t, 200, r2.status)
	assert.Equal(t, r1.json(t)["shortCode"], r2.json(t)["shortCode"], "findIfExists returns the existing short URL")
	assertProblem(t, doWith(t, "POST", e.base+"/rest/v3/short-urls", strings.NewReader(`{"longUrl":"https://example.com"}`), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
	}), 401, "")

	// Bitly: POST /v4/shorten with a Bearer token.
	bitly := func(body string) answer {
		return do(t, "POST", e.base+"/v4/shorten", key, "application/json", strings.NewReader(body))
	}
	b1 := bitly(`{"long_url":"https://example.com/bitly","domain":"bit.ly","group_guid":"Ba1bc23dE4F"}`)
	require.Equal(t, 201, b1.status, "body %s", b1.body)
	j := b1.json(t)
	code := strings.TrimPrefix(j["link"].(string), "https://sho.rt/")
	assert.Equal(t, "sho.rt/"+code, j["id"])
	assert.Equal(t, "https://example.com/bitly", j["long_url"])
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$`, j["created_at"], "Bitly's time format")
	b2 := bitly(`{"long_url":"https://example.com/bitly"}`)
	assert.Equal(t, 200, b2.status, "the same long URL again: the existing bitlink")
	assert.Equal(t, j["link"], b2.json(t)["link"])
	assertProblem(t, bitly(`{"long_url":"ftp://example.com"}`), 400, "urn:shortener:problem:invalid-url")
	assertProblem(t, do(t, "GET", e.base+"/v4/shorten", key, "", nil), 405, "")
}
