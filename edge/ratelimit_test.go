package main

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestRateLimitHeldAcrossTwoEdges(t *testing.T) {
	srv := redistest.Start(t)
	limits := []string{"--rate-create-anonymous", "10", "--rate-api-anonymous", "30", "--rate-create-key", "15", "--rate-api-key", "0", "--rate-window", "1m"}
	a, b := startEdge(t, srv, limits...), startEdge(t, srv, limits...)

	// Anonymous creations from one client IP: 10 a minute across both edges.
	created, refused := 0, 0
	for i := 0; i < 16; i++ {
		e := a
		if i%2 == 1 {
			e = b
		}
		r := createLink(t, e, "", map[string]any{"url": "https://example.com/" + strconv.Itoa(i)})
		assert.Equal(t, "10", r.header.Get("X-RateLimit-Limit"))
		switch r.status {
		case 201:
			created++
			assert.Equal(t, strconv.Itoa(10-created), r.header.Get("X-RateLimit-Remaining"))
			reset, err := strconv.Atoi(r.header.Get("X-RateLimit-Reset"))
			require.NoError(t, err)
			assert.True(t, reset >= 1 && reset <= 60, "X-RateLimit-Reset %d", reset)
		case 429:
			refused++
			assertProblem(t, r, 429, "urn:shortener:problem:rate-limited")
			assert.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			require.NoError(t, err)
			assert.True(t, ra >= 1 && ra <= 60, "Retry-After %d", ra)
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	assert.Equal(t, 10, created, "ten creations a minute, held across two edges")
	assert.Equal(t, 6, refused)
	assert.Equal(t, 6.0, metricValue(t, a.ops, `shortener_edge_rate_limited_total{bucket="create"}`)+metricValue(t, b.ops, `shortener_edge_rate_limited_total{bucket="create"}`))

	// Other API calls have their own budget, and every answer carries the headers.
	r := do(t, "GET", a.base+"/api/v1/stats", "", "", nil)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "30", r.header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "29", r.header.Get("X-RateLimit-Remaining"))
	r = do(t, "GET", a.base+"/api/v1/links/nope404", "", "", nil)
	assert.Equal(t, 404, r.status)
	assert.Equal(t, "28", r.header.Get("X-RateLimit-Remaining"), "error answers carry the headers too")

	// A key's owner has its own, larger budget; the admin none.
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"keys", "create", "--owner", "carol", "--redis", srv.URL, "--key-prefix", srv.Prefix}, func(string) string { return "" }, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	carol := lines[len(lines)-1]
	r = createLink(t, b, carol, map[string]any{"url": "https://example.com/carol"})
	assert.Equal(t, 201, r.status)
	assert.Equal(t, "15", r.header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "14", r.header.Get("X-RateLimit-Remaining"))
	r = createLink(t, b, adminKey, map[string]any{"url": "https://example.com/admin"})
	assert.Equal(t, 201, r.status)
	assert.Empty(t, r.header.Get("X-RateLimit-Limit"), "admins are not limited")

	// Redirects are never rate-limited.
	code := createLink(t, a, adminKey, map[string]any{"url": "https://example.com/r"}).json(t)["code"].(string)
	for i := 0; i < 50; i++ {
		status, _ := rawGet(t, a.base, "GET", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status)
	}
}
