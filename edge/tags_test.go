package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestTags(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--country-header", "X-Country")
	startWorker(t, srv, "w1")
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	mk := func(key, url string, tags ...string) string {
		time.Sleep(2 * time.Millisecond) // lists are newest first by the creation millisecond
		r := createLink(t, e, key, map[string]any{"url": url, "tags": tags})
		require.Equal(t, 201, r.status, "body %s", r.body)
		return r.json(t)["code"].(string)
	}
	s1 := mk(alice, "https://example.com/s1", "spring", "promo")
	s2 := mk(alice, "https://example.com/s2", "Spring")
	su := mk(alice, "https://example.com/su", "summer")
	mk(bob, "https://example.com/bob", "spring")

	list := func(key, query string) []string {
		a := do(t, "GET", e.base+"/api/v1/links"+query, key, "", nil)
		require.Equal(t, 200, a.status, "body %s", a.body)
		var page struct {
			Links []struct{ Code string } `json:"links"`
		}
		require.NoError(t, json.Unmarshal(a.body, &page))
		var codes []string
		for _, l := range page.Links {
			codes = append(codes, l.Code)
		}
		return codes
	}
	assert.Equal(t, []string{s2, s1}, list(alice, "?tag=spring"), "alice's spring links, newest first")
	assert.Equal(t, []string{su}, list(alice, "?tag=summer"))
	assert.Empty(t, list(alice, "?tag=winter"))
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links?tag=Bad%20Tag", alice, "", nil), 400, "")

	// Retagging moves the link between tag lists.
	require.Equal(t, 200, patchLink(t, e, alice, su, `{"tags":["spring"]}`).status)
	assert.Equal(t, []string{su, s2, s1}, list(alice, "?tag=spring"))
	assert.Empty(t, list(alice, "?tag=summer"))

	for i, c := range []struct{ code, country string }{{s1, "DE"}, {s1, "DE"}, {s2, "FR"}, {su, "DE"}} {
		r := get(t, e, "/"+c.code, map[string]string{"User-Agent": uaDesktop, "X-Country": c.country})
		require.Equal(t, 302, r.status, "click %d", i)
	}
	r := get(t, e, "/"+s1, map[string]string{"User-Agent": "curl/8.5.0"})
	require.Equal(t, 302, r.status)
	var rep struct {
		Tag         string           `json:"tag"`
		TotalClicks int64            `json:"total_clicks"`
		HumanClicks int64            `json:"human_clicks"`
		BotClicks   int64            `json:"bot_clicks"`
		Daily       map[string]int64 `json:"daily"`
		ByCountry   map[string]int64 `json:"by_country"`
		ByDevice    map[string]int64 `json:"by_device"`
	}
	require.Eventually(t, func() bool {
		a := do(t, "GET", e.base+"/api/v1/tags/spring/analytics?days=7", alice, "", nil)
		require.Equal(t, 200, a.status, "body %s", a.body)
		require.NoError(t, json.Unmarshal(a.body, &rep))
		return rep.TotalClicks == 5
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "spring", rep.Tag)
	assert.EqualValues(t, 4, rep.HumanClicks)
	assert.EqualValues(t, 1, rep.BotClicks)
	assert.Equal(t, map[string]int64{"DE": 3, "FR": 1}, rep.ByCountry)
	assert.Equal(t, map[string]int64{"desktop": 4, "mobile": 0, "tablet": 0}, rep.ByDevice)
	assert.Len(t, rep.Daily, 7)
	assert.EqualValues(t, 4, rep.Daily[time.Now().UTC().Format("2006-01-02")])

	a := do(t, "GET", e.base+"/api/v1/tags/spring/analytics", bob, "", nil)
	require.NoError(t, json.Unmarshal(a.body, &rep))
	assert.EqualValues(t, 0, rep.TotalClicks, "bob's spring tag is his own")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/tags/spring/analytics?owner=alice", bob, "", nil), 403, "")
	assert.Equal(t, 200, do(t, "GET", e.base+"/api/v1/tags/spring/analytics?owner=alice", adminKey, "", nil).status)
	assertProblem(t, do(t, "GET", e.base+"/api/v1/tags/spring/analytics", "", "", nil), 401, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/tags/spring/analytics?days=0", alice, "", nil), 400, "")
}
