package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

func patchLink(t *testing.T, e *edgeProc, key, code, body string) answer {
	t.Helper()
	return do(t, "PATCH", e.base+"/api/v1/links/"+code, key, "application/json", strings.NewReader(body))
}

func get(t *testing.T, e *edgeProc, path string, headers map[string]string) answer {
	t.Helper()
	return doWith(t, "GET", e.base+path, nil, func(r *http.Request) {
		for k, v := range headers {
			r.Header.Set(k, v)
		}
	})
}

func TestPatchSeenByEveryEdge(t *testing.T) {
	srv := redistest.Start(t)
	a, b := startEdge(t, srv), startEdge(t, srv)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	code := createLink(t, a, alice, map[string]any{"url": "https://example.com/v1"}).json(t)["code"].(string)
	for i := 0; i < 2; i++ {
		_, h := rawGet(t, b.base, "GET", "/"+code)
		require.Equal(t, "https://example.com/v1", string(h["location"]))
	}
	r := patchLink(t, a, alice, code, `{"url":"https://example.com/v2","tags":["Spring","launch"],"max_clicks":1000,"expires_at":"2099-01-01T00:00:00Z"}`)
	require.Equal(t, 200, r.status, "body %s", r.body)
	l := r.json(t)
	assert.Equal(t, "https://example.com/v2", l["url"])
	assert.Equal(t, []any{"spring", "launch"}, l["tags"], "tags are lower-cased")
	assert.EqualValues(t, 1000, l["max_clicks"])
	assert.Equal(t, "2099-01-01T00:00:00Z", l["expires_at"])
	patched := time.Now()
	for {
		_, h := rawGet(t, b.base, "GET", "/"+code)
		if string(h["location"]) == "https://example.com/v2" {
			break
		}
		require.Less(t, time.Since(patched), 100*time.Millisecond, "the other edge still redirects to the old URL")
	}
	// null removes optional values
	r = patchLink(t, a, alice, code, `{"max_clicks":null,"expires_at":null,"tags":[]}`)
	require.Equal(t, 200, r.status, "body %s", r.body)
	assert.Nil(t, r.json(t)["max_clicks"])
	assert.Nil(t, r.json(t)["expires_at"])
	assert.Equal(t, []any{}, r.json(t)["tags"])

	assertProblem(t, patchLink(t, a, bob, code, `{"url":"https://evil.example/"}`), 403, "urn:shortener:problem:forbidden")
	assertProblem(t, patchLink(t, a, "", code, `{"url":"https://evil.example/"}`), 401, "")
	assertProblem(t, patchLink(t, a, alice, "nope404", `{"url":"https://example.com"}`), 404, "")
	for _, body := range []string{`{"url":"javascript:x"}`, `{"redirect_status":303}`, `{"tags":["a b"]}`, `{"rules":[{"url":"https://x.example"}]}`,
		`{"rules":[{"device":"phone","url":"https://x.example"}]}`, `{"password":""}x`, `{"colour":"red"}`, `{"expires_at":"2001-01-01T00:00:00Z"}`, `{"max_clicks":-1}`} {
		r := patchLink(t, a, alice, code, body)
		assert.Contains(t, []int{400}, r.status, "PATCH %s: %s", body, r.body)
	}
	_, h := rawGet(t, a.base, "GET", "/"+code)
	assert.Equal(t, "https://example.com/v2", string(h["location"]), "refused patches change nothing")
}

func TestPerLinkRedirectStatus(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv) // --redirect-status 302
	code := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/perm", "redirect_status": 301}).json(t)["code"].(string)
	status, h := rawGet(t, e.base, "GET", "/"+code)
	assert.Equal(t, "HTTP/1.1 301 Moved Permanently", status)
	assert.Equal(t, "public, max-age=300", string(h["cache-control"]))
	require.Equal(t, 200, patchLink(t, e, adminKey, code, `{"redirect_status":307}`).status)
	require.Eventually(t, func() bool { s, _ := rawGet(t, e.base, "GET", "/"+code); return s == "HTTP/1.1 307 Temporary Redirect" }, time.Second, 5*time.Millisecond)
	_, h = rawGet(t, e.base, "GET", "/"+code)
	assert.Equal(t, "private, no-cache", string(h["cache-control"]))
	require.Equal(t, 200, patchLink(t, e, adminKey, code, `{"redirect_status":null}`).status)
	require.Eventually(t, func() bool { s, _ := rawGet(t, e.base, "GET", "/"+code); return s == "HTTP/1.1 302 Found" }, time.Second, 5*time.Millisecond)
}

func TestPasswordProtectedLink(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	startWorker(t, srv, "w1")
	r := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/secret", "password": "open sesame"})
	require.Equal(t, 201, r.status, "body %s", r.body)
	assert.Equal(t, true, r.json(t)["password_protected"])
	code := r.json(t)["code"].(string)
	ks, _ := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	raw, err := srv.Client(t).Do(context.Background(), srv.Client(t).B().Get().Key(ks.Link(code)).Build()).ToString()
	require.NoError(t, err)
	assert.NotContains(t, raw, "open sesame", "the password is stored only as a hash")
	assert.Contains(t, raw, `"p":"$2a$10$`, "a bcrypt hash")

	form := get(t, e, "/"+code, nil)
	assert.Equal(t, 200, form.status)
	assert.Equal(t, "text/html; charset=utf-8", form.header.Get("Content-Type"))
	assert.Contains(t, string(form.body), `<form method="post">`)
	assert.Empty(t, form.header.Get("Location"))
	post := func(pw string) answer {
		return doWith(t, "POST", e.base+"/"+code, strings.NewReader(url.Values{"password": {pw}}.Encode()), func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		})
	}
	wrong := post("guess")
	assert.Equal(t, 401, wrong.status)
	assert.Contains(t, string(wrong.body), "Wrong password.")
	right := post("open sesame")
	assert.Equal(t, 302, right.status)
	assert.Equal(t, "https://example.com/secret", right.header.Get("Location"))
	assert.Equal(t, "private, no-store", right.header.Get("Cache-Control"))
	require.Eventually(t, func() bool { return clicksOf(t, e, code) == 1 }, 10*time.Second, 20*time.Millisecond,
		"the click is counted once, on success (not for the form, not for the wrong guess)")
	time.Sleep(100 * time.Millisecond)
	assert.EqualValues(t, 1, clicksOf(t, e, code))

	// Wrong guesses are limited per link and IP.
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		limited = post("nope").status == 429
	}
	assert.True(t, limited, "wrong guesses are rate-limited")
	assert.Equal(t, 429, post("open sesame").status, "even the right password waits out the limit")

	require.Equal(t, 200, patchLink(t, e, adminKey, code, `{"password":null}`).status)
	require.Eventually(t, func() bool { return get(t, e, "/"+code, nil).status == 302 }, time.Second, 5*time.Millisecond, "removing the password")
}

func TestForwardQueryAndRules(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--country-header", "X-Country")
	fq := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/landing?src=short#top", "forward_query": true}).json(t)["code"].(string)
	r := get(t, e, "/"+fq+"?utm_source=mail&x=%2F", nil)
	assert.Equal(t, "https://example.com/landing?src=short&utm_source=mail&x=%2F#top", r.header.Get("Location"))
	assert.Equal(t, "https://example.com/landing?src=short#top", get(t, e, "/"+fq, nil).header.Get("Location"), "no query, nothing added")
	plain := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/plain"}).json(t)["code"].(string)
	assert.Equal(t, "https://example.com/plain", get(t, e, "/"+plain+"?utm=1", nil).header.Get("Location"), "without forward_query the query is dropped")

	rules := []map[string]string{
		{"device": "ios", "url": "https://apps.apple.com/app/x"},
		{"device": "android", "url": "https://play.google.com/store/apps/details?id=x"},
		{"country": "de", "language": "de", "url": "https://example.de/"},
		{"language": "fr", "url": "https://example.fr/"},
	}
	code := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/default", "rules": rules}).json(t)["code"].(string)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"iPhone", map[string]string{"User-Agent": uaIPhone}, "https://apps.apple.com/app/x"},
		{"Android", map[string]string{"User-Agent": uaAndroid, "Accept-Language": "fr-FR"}, "https://play.google.com/store/apps/details?id=x"},
		{"German in Germany", map[string]string{"User-Agent": uaDesktop, "X-Country": "DE", "Accept-Language": "de-DE,de;q=0.9,en;q=0.8"}, "https://example.de/"},
		{"German in Austria", map[string]string{"User-Agent": uaDesktop, "X-Country": "AT", "Accept-Language": "de-AT"}, "https://example.com/default"},
		{"French", map[string]string{"User-Agent": uaDesktop, "Accept-Language": "fr"}, "https://example.fr/"},
		{"no match", map[string]string{"User-Agent": uaDesktop, "Accept-Language": "en-US"}, "https://example.com/default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, e, "/"+code, tc.headers)
			assert.Equal(t, 302, r.status)
			assert.Equal(t, tc.want, r.header.Get("Location"))
		})
	}
	l := do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil).json(t)
	require.Len(t, l["rules"], 4)
	assert.Equal(t, "DE", l["rules"].([]any)[2].(map[string]any)["country"], "countries are upper-cased")
	assertProblem(t, createLink(t, e, adminKey, map[string]any{"url": "https://example.com", "rules": []map[string]string{{"device": "ios", "url": "javascript:alert(1)"}}}), 400, "urn:shortener:problem:invalid-url")
}
