package main

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func createKey(t *testing.T, srv *redistest.Server, owner string, admin bool) string {
	t.Helper()
	var out bytes.Buffer
	args := []string{"keys", "create", "--owner", owner, "--redis", srv.URL, "--key-prefix", srv.Prefix}
	if admin {
		args = append(args, "--admin")
	}
	require.NoError(t, run(context.Background(), args, func(string) string { return "" }, &out, io.Discard))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return lines[len(lines)-1]
}

// TestOwnershipRouteByRoute checks every route with the owner's key, another
// owner's key, an admin key and no key, on an owned and an anonymous link.
func TestOwnershipRouteByRoute(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice, bob, root := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false), createKey(t, srv, "root", true)
	callers := map[string]string{"owner": alice, "other": bob, "admin": root, "none": ""}

	owned := createLink(t, e, alice, map[string]any{"url": "https://example.com/owned"})
	require.Equal(t, 201, owned.status)
	assert.Equal(t, "alice", owned.json(t)["owner"], "the owner comes from the key")
	code := owned.json(t)["code"].(string)
	anon := createLink(t, e, "", map[string]any{"url": "https://example.com/anon"}).json(t)["code"].(string)

	for _, tc := range []struct {
		route string
		code  string
		want  map[string]int
	}{
		{"GET /api/v1/links/%s", code, map[string]int{"owner": 200, "other": 200, "admin": 200, "none": 200}},
		{"GET /api/v1/links/%s/qr", code, map[string]int{"owner": 200, "other": 200, "admin": 200, "none": 200}},
		{"GET /api/v1/links/%s/analytics", code, map[string]int{"owner": 200, "other": 403, "admin": 200, "none": 401}},
		{"GET /api/v1/links/%s/analytics", anon, map[string]int{"owner": 403, "other": 403, "admin": 200, "none": 401}},
		{"DELETE /api/v1/links/%s", code, map[string]int{"other": 403, "none": 401}},
		{"DELETE /api/v1/links/%s", anon, map[string]int{"owner": 403, "other": 403, "none": 401}},
	} {
		for caller, want := range tc.want {
			method, path, _ := strings.Cut(tc.route, " ")
			path = strings.Replace(path, "%s", tc.code, 1)
			t.Run(method+" "+path+" as "+caller, func(t *testing.T) {
				a := do(t, method, e.base+path, callers[caller], "", nil)
				assert.Equal(t, want, a.status, "body %s", a.body)
				if want >= 400 {
					assertProblem(t, a, want, "")
				}
			})
		}
	}
	listed := func(key, query string) string {
		a := do(t, "GET", e.base+"/api/v1/links"+query, key, "", nil)
		require.Equal(t, 200, a.status, "body %s", a.body)
		return string(a.body)
	}
	assert.Contains(t, listed(alice, ""), code)
	assert.NotContains(t, listed(bob, ""), code, "another owner never lists it")
	assert.NotContains(t, listed(alice, ""), anon, "anonymous links are listed by nobody")
	assert.Contains(t, listed(root, "?owner=alice"), code)
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links?owner=alice", bob, "", nil), 403, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links", "", "", nil), 401, "")

	// Refused calls changed nothing; then the owner and an admin delete.
	status, _ := rawGet(t, e.base, "GET", "/"+code)
	require.Equal(t, "HTTP/1.1 302 Found", status)
	assert.Equal(t, 204, do(t, "DELETE", e.base+"/api/v1/links/"+code, alice, "", nil).status)
	assert.Equal(t, 204, do(t, "DELETE", e.base+"/api/v1/links/"+anon, root, "", nil).status)
}

func TestQRCode(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	code := createLink(t, e, "", map[string]any{"url": "https://example.com/qr"}).json(t)["code"].(string)
	base := e.base + "/api/v1/links/" + code + "/qr"

	a := do(t, "GET", base, "", "", nil)
	require.Equal(t, 200, a.status, "body %s", a.body)
	assert.Equal(t, "image/png", a.header.Get("Content-Type"))
	assert.Equal(t, "public, max-age=86400", a.header.Get("Cache-Control"))
	etag := a.header.Get("ETag")
	require.NotEmpty(t, etag)
	img, err := png.Decode(bytes.NewReader(a.body))
	require.NoError(t, err)
	assert.Equal(t, 256, img.Bounds().Dx(), "default size 256")
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	require.NoError(t, err)
	assert.Equal(t, "https://sho.rt/"+code, res.GetText(), "the PNG decodes back to the short URL")

	again := do(t, "GET", base, "", "", nil)
	assert.Equal(t, a.body, again.body)
	assert.Equal(t, etag, again.header.Get("ETag"))
	req := do(t, "GET", base+"?size=256&format=png", "", "", nil)
	assert.Equal(t, etag, req.header.Get("ETag"))

	cond := doHeader(t, "GET", base, "If-None-Match", etag)
	assert.Equal(t, 304, cond.status)
	assert.Empty(t, cond.body)

	svg := do(t, "GET", base+"?format=svg&size=512", "", "", nil)
	require.Equal(t, 200, svg.status)
	assert.Equal(t, "image/svg+xml", svg.header.Get("Content-Type"))
	assert.Contains(t, string(svg.body), `width="512"`)
	assert.NotEqual(t, etag, svg.header.Get("ETag"))

	big := do(t, "GET", base+"?size=2048", "", "", nil)
	require.Equal(t, 200, big.status)
	img, err = png.Decode(bytes.NewReader(big.body))
	require.NoError(t, err)
	assert.Equal(t, 2048, img.Bounds().Dx())

	for _, q := range []string{"?size=63", "?size=2049", "?size=0", "?size=-5", "?size=big", "?format=gif", "?format=PNG"} {
		assertProblem(t, do(t, "GET", base+q, "", "", nil), 400, "urn:shortener:problem:invalid-parameter")
	}
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links/nope404/qr", "", "", nil), 404, "")
}
