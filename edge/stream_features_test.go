package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestOrphanVisits(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	startWorker(t, srv, "w1")
	alice := createKey(t, srv, "alice", false)
	expiring := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/old", "ttl": 1}).json(t)["code"].(string)
	time.Sleep(2100 * time.Millisecond) // past its expiry
	visits := []struct{ path, referer string }{
		{"/spring-sale", "https://news.example.org/a"}, {"/spring-sale", "https://news.example.org/b"},
		{"/spring-sale", ""}, {"/typo123", "https://mail.example.com/"}, {"/" + expiring, ""},
	}
	for _, v := range visits {
		r := get(t, e, v.path, map[string]string{"Referer": v.referer, "User-Agent": uaDesktop})
		require.Contains(t, []int{404, 410}, r.status)
	}
	require.Equal(t, 302, get(t, e, "/"+createLink(t, e, adminKey, map[string]any{"url": "https://example.com/ok"}).json(t)["code"].(string), nil).status)
	var rep struct {
		Total int64 `json:"total"`
		Paths []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"paths"`
		Referers []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"referers"`
	}
	require.Eventually(t, func() bool {
		a := do(t, "GET", e.base+"/api/v1/stats/orphans?days=1", adminKey, "", nil)
		require.Equal(t, 200, a.status, "body %s", a.body)
		require.NoError(t, json.Unmarshal(a.body, &rep))
		return rep.Total == 5
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, rep.Paths, 3)
	assert.Equal(t, "spring-sale", rep.Paths[0].Value)
	assert.EqualValues(t, 3, rep.Paths[0].Count)
	assert.ElementsMatch(t, []string{"typo123", expiring}, []string{rep.Paths[1].Value, rep.Paths[2].Value})
	assert.Equal(t, "direct", rep.Referers[0].Value)
	assert.EqualValues(t, 2, rep.Referers[0].Count)
	assert.Equal(t, "news.example.org", rep.Referers[1].Value)
	assert.EqualValues(t, 2, rep.Referers[1].Count)
	assertProblem(t, do(t, "GET", e.base+"/api/v1/stats/orphans", alice, "", nil), 403, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/stats/orphans", "", "", nil), 401, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/stats/orphans?days=32", adminKey, "", nil), 400, "")
}

func TestBotsPreviewsAndHeadsCountedApart(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	startWorker(t, srv, "w1")
	code := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/shared"}).json(t)["code"].(string)
	for _, ua := range []string{uaDesktop, uaIPhone, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"} {
		require.Equal(t, 302, get(t, e, "/"+code, map[string]string{"User-Agent": ua}).status)
	}
	for i := 0; i < 3; i++ {
		status, _ := rawGet(t, e.base, "HEAD", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status)
	}
	var rep report
	require.Eventually(t, func() bool {
		rep = readReport(t, e, code, 1)
		return rep.TotalClicks == 5 && rep.HeadRequests == 3
	}, 10*time.Second, 20*time.Millisecond)
	assert.EqualValues(t, 2, rep.HumanClicks)
	assert.EqualValues(t, 3, rep.BotClicks)
	assert.EqualValues(t, 2, rep.PreviewClicks, "Slackbot and facebookexternalhit are link previews")
	assert.Equal(t, map[string]int64{"desktop": 1, "mobile": 1, "tablet": 0}, rep.ByDevice, "people only")
	previews := 0
	for _, rc := range rep.RecentClicks {
		if rc.Preview {
			previews++
			assert.True(t, rc.Bot)
		}
	}
	assert.Equal(t, 2, previews)
}

func TestCSVExports(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--country-header", "X-Country")
	startWorker(t, srv, "w1")
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	code := createLink(t, e, alice, map[string]any{"url": "https://example.com/csv"}).json(t)["code"].(string)
	for i, c := range []string{"DE", "FR", "DE"} {
		r := get(t, e, "/"+code, map[string]string{"User-Agent": uaDesktop, "X-Country": c, "Referer": "=HYPERLINK(\"x\")"})
		require.Equal(t, 302, r.status, "click %d", i)
	}
	require.Eventually(t, func() bool { return clicksOf(t, e, code) == 3 }, 10*time.Second, 20*time.Millisecond)

	a := do(t, "GET", e.base+"/api/v1/links/"+code+"/analytics.csv?days=3", alice, "", nil)
	require.Equal(t, 200, a.status, "body %s", a.body)
	assert.Equal(t, "text/csv; charset=utf-8", a.header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="`+code+`-analytics.csv"`, a.header.Get("Content-Disposition"))
	rows, err := csv.NewReader(strings.NewReader(string(a.body))).ReadAll()
	require.NoError(t, err)
	now := time.Now().UTC()
	assert.Equal(t, [][]string{
		{"date", "clicks", "unique_visitors"},
		{now.AddDate(0, 0, -2).Format("2006-01-02"), "0", "0"},
		{now.AddDate(0, 0, -1).Format("2006-01-02"), "0", "0"},
		{now.Format("2006-01-02"), "3", "1"},
	}, rows)

	a = do(t, "GET", e.base+"/api/v1/links/"+code+"/clicks.csv", alice, "", nil)
	require.Equal(t, 200, a.status)
	rows, err = csv.NewReader(strings.NewReader(string(a.body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, []string{"timestamp", "country", "device", "browser", "os", "referer", "bot", "preview", "ip"}, rows[0])
	assert.Equal(t, "DE", rows[1][1], "newest first")
	assert.Equal(t, "other", rows[1][5], "a referer that is not a URL counts as other (and no cell starts a formula)")
	assert.Equal(t, "127.0.0.0", rows[1][8], "IPs anonymized")

	for _, path := range []string{"/analytics.csv", "/clicks.csv"} {
		assertProblem(t, do(t, "GET", e.base+"/api/v1/links/"+code+path, bob, "", nil), 403, "")
		assertProblem(t, do(t, "GET", e.base+"/api/v1/links/"+code+path, "", "", nil), 401, "")
		assertProblem(t, doWith(t, "POST", e.base+"/api/v1/links/"+code+path, nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+alice) }), 405, "")
	}
}
