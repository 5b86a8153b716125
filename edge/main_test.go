package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// edgeProc is an edge started through run, as the binary would be.
type edgeProc struct {
	base, ops string
	stop      func()
	logs      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

const adminKey = "test-admin-key-0123456789"

func startEdge(t *testing.T, srv *redistest.Server, extra ...string) *edgeProc {
	t.Helper()
	listen, ops := freeAddr(t), freeAddr(t)
	args := append([]string{
		"--listen", listen, "--ops-listen", ops, "--redis", srv.URL, "--key-prefix", srv.Prefix,
		"--base-url", "https://sho.rt", "--admin-key", adminKey, "--log-level", "warn",
		// tests send bursts; the rate-limit tests turn limits back on
		"--rate-create-anonymous", "0", "--rate-create-key", "0", "--rate-api-anonymous", "0", "--rate-api-key", "0",
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- run(ctx, args, func(string) string { return "" }, io.Discard, logs) }()
	e := &edgeProc{base: "http://" + listen, ops: "http://" + ops, logs: logs}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err, "edge run returned an error; logs:\n%s", logs)
			case <-time.After(20 * time.Second):
				t.Error("edge did not stop within 20 s of cancel")
			}
		})
	}
	t.Cleanup(e.stop)
	require.Eventually(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("edge exited early: %v; logs:\n%s", err, logs)
		default:
		}
		resp, err := http.Get(e.ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 10*time.Second, 10*time.Millisecond, "edge never became ready")
	return e
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(a.body, &m), "body %q", a.body)
	return m
}

func do(t *testing.T, method, url, key, contentType string, body io.Reader) answer {
	t.Helper()
	return doWith(t, method, url, body, func(r *http.Request) {
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
	})
}

// doWith sends a request prepared by prep and reads the whole answer.
func doWith(t *testing.T, method, url string, body io.Reader, prep func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	prep(req)
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func createLink(t *testing.T, e *edgeProc, key string, body map[string]any) answer {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	return do(t, "POST", e.base+"/api/v1/links", key, "application/json", bytes.NewReader(b))
}

func assertProblem(t *testing.T, a answer, status int, typ string) {
	t.Helper()
	assert.Equal(t, status, a.status, "status; body %s", a.body)
	assert.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	require.NoError(t, json.Unmarshal(a.body, &p), "problem body %q", a.body)
	assert.Equal(t, status, p.Status)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Detail)
	if typ != "" {
		assert.Equal(t, typ, p.Type)
	}
}

// rawGet sends a request over a plain TCP connection and returns the status
// line and the raw bytes of each header, so Location is compared byte for byte.
func rawGet(t *testing.T, base, method, path string) (status string, headers map[string][]byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: sho.rt\r\nConnection: close\r\n\r\n", method, path)
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	headers = map[string][]byte{}
	for {
		h, err := r.ReadBytes('\n')
		require.NoError(t, err)
		h = bytes.TrimSuffix(h, []byte("\r\n"))
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(": "))
		headers[strings.ToLower(string(k))] = v
	}
	return strings.TrimSpace(line), headers
}

func TestEdgeCreateFollowDelete(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)

	a := createLink(t, e, "", map[string]any{"url": "https://example.com/hello?x=1"})
	require.Equal(t, 201, a.status, "body %s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	l := a.json(t)
	code := l["code"].(string)
	assert.Len(t, code, 7)
	assert.Equal(t, "https://sho.rt/"+code, l["short_url"])
	assert.Equal(t, "https://example.com/hello?x=1", l["url"])
	assert.Equal(t, "anonymous", l["owner"])
	assert.Nil(t, l["max_clicks"])
	assert.EqualValues(t, 0, l["clicks"])
	created, err := time.Parse(time.RFC3339, l["created_at"].(string))
	require.NoError(t, err)
	expires, err := time.Parse(time.RFC3339, l["expires_at"].(string))
	require.NoError(t, err)
	assert.InDelta(t, 365*24*time.Hour, expires.Sub(created), float64(2*time.Second))
	assert.Equal(t, "/api/v1/links/"+code, a.header.Get("Location"))
	assert.NotContains(t, l, "existing")

	for _, method := range []string{"GET", "HEAD"} {
		status, h := rawGet(t, e.base, method, "/"+code)
		assert.Equal(t, "HTTP/1.1 302 Found", status, method)
		assert.Equal(t, "https://example.com/hello?x=1", string(h["location"]), method)
		assert.Equal(t, "private, no-cache", string(h["cache-control"]), method)
	}
	a = do(t, "POST", e.base+"/"+code, "", "", nil)
	assertProblem(t, a, 405, "")
	assert.Equal(t, "GET, HEAD", a.header.Get("Allow"))

	a = do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil)
	require.Equal(t, 200, a.status)
	assert.Equal(t, code, a.json(t)["code"])

	stats := do(t, "GET", e.base+"/api/v1/stats", "", "", nil)
	require.Equal(t, 200, stats.status)
	assert.Equal(t, map[string]any{"total_links": float64(1), "total_clicks": float64(0)}, stats.json(t))

	// Anonymous links can only be deleted by an admin.
	assertProblem(t, do(t, "DELETE", e.base+"/api/v1/links/"+code, "", "", nil), 401, "urn:shortener:problem:unauthorized")
	a = do(t, "DELETE", e.base+"/api/v1/links/"+code, adminKey, "", nil)
	assert.Equal(t, 204, a.status, "body %s", a.body)
	assert.Empty(t, a.body)

	status, _ := rawGet(t, e.base, "GET", "/"+code)
	assert.Equal(t, "HTTP/1.1 404 Not Found", status)
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links/"+code, "", "", nil), 404, "urn:shortener:problem:not-found")
	assertProblem(t, do(t, "DELETE", e.base+"/api/v1/links/"+code, adminKey, "", nil), 404, "")
	for _, k := range srv.Keys(t, srv.Client(t)) {
		assert.NotContains(t, k, code, "a key of the deleted link is left")
		assert.Regexp(t, `^`+srv.Prefix+`(meta|clicks:\{p\d+\}|prod:\{p\d+\}:.*)$`, k, "only partition-wide keys remain")
	}
}

func TestLocationByteExact(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	for _, u := range []string{
		"https://example.com/search?q=a+b&lang=de&empty=&x=%2F%3F",
		"https://example.com/page#section-2",
		"https://example.com/a/../b/./c//d?q=1#frag",
		"https://example.com/%E2%9C%93/%7Euser/%41",
		"https://bücher.example/straße?ä=ö#ü",
		"https://xn--bcher-kva.example/",
		"http://[2001:db8::1]:8080/v6",
		"HTTPS://EXAMPLE.COM/Case",
		"https://example.com/" + strings.Repeat("p", 1900),
	} {
		t.Run(u[:min(len(u), 40)], func(t *testing.T) {
			a := createLink(t, e, "", map[string]any{"url": u})
			require.Equal(t, 201, a.status, "body %s", a.body)
			assert.Equal(t, u, a.json(t)["url"])
			code := a.json(t)["code"].(string)
			status, h := rawGet(t, e.base, "GET", "/"+code)
			assert.Equal(t, "HTTP/1.1 302 Found", status)
			assert.Equal(t, []byte(u), h["location"], "Location must be the stored URL byte for byte")
		})
	}
}

func TestBadURLsRefused(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--max-url-length", "100")
	raw := srv.Client(t)
	before := len(srv.Keys(t, raw))
	for name, u := range map[string]string{
		"javascript":  "javascript:alert(1)",
		"data":        "data:text/html,hi",
		"file":        "file:///etc/passwd",
		"ftp":         "ftp://example.com/",
		"relative":    "/relative",
		"scheme-less": "example.com/x",
		"no host":     "https:///x",
		"space":       "https://example.com/a b",
		"CR":          "https://example.com/a\rb",
		"LF":          "https://example.com/a\nb",
		"CRLF":        "https://example.com/\r\nSet-Cookie: a=b",
		"NUL":         "https://example.com/\x00",
		"tab":         "https://example.com/\t",
		"self":        "https://sho.rt/loop",
		"self port":   "http://SHO.RT:8080/loop",
		"too long":    "https://example.com/" + strings.Repeat("a", 100),
		"userinfo":    "https://a:b@example.com/",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			assertProblem(t, createLink(t, e, "", map[string]any{"url": u}), 400, "urn:shortener:problem:invalid-url")
		})
	}
	assertProblem(t, createLink(t, e, "", map[string]any{}), 400, "urn:shortener:problem:invalid-url")
	assert.Len(t, srv.Keys(t, raw), before, "refused creates write nothing")
}

func TestBlocklist(t *testing.T) {
	srv := redistest.Start(t)
	path := t.TempDir() + "/blocked.txt"
	require.NoError(t, writeFile(path, "# phishing\nevil.example\n"))
	e := startEdge(t, srv, "--blocklist", path)
	assertProblem(t, createLink(t, e, "", map[string]any{"url": "https://login.evil.example/"}), 400, "urn:shortener:problem:invalid-url")
	assert.Equal(t, 201, createLink(t, e, "", map[string]any{"url": "https://good.example/"}).status)
}

func TestBadRequestsRefused(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--max-body-bytes", "1024")
	raw := srv.Client(t)
	before := len(srv.Keys(t, raw))
	post := func(ct, body string) answer {
		return do(t, "POST", e.base+"/api/v1/links", "", ct, strings.NewReader(body))
	}
	assertProblem(t, post("text/plain", `{"url":"https://example.com"}`), 415, "urn:shortener:problem:unsupported-media-type")
	assertProblem(t, post("", `{"url":"https://example.com"}`), 415, "")
	assertProblem(t, post("application/json", `{"url":`), 400, "urn:shortener:problem:invalid-body")
	assertProblem(t, post("application/json", `{"url":"https://example.com","colour":"red"}`), 400, "urn:shortener:problem:invalid-body")
	assertProblem(t, post("application/json", `{"url":"https://example.com"} {"url":"https://example.com"}`), 400, "")
	assertProblem(t, post("application/json", `["https://example.com"]`), 400, "")
	assertProblem(t, post("application/json", ``), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","ttl":0}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","ttl":1.5}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","ttl":"60"}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","expires_at":"tomorrow"}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","expires_at":"2001-01-01T00:00:00Z"}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","ttl":60,"expires_at":"2099-01-01T00:00:00Z"}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","max_clicks":0}`), 400, "")
	assertProblem(t, post("application/json", `{"url":"https://example.com","custom_code":"a/b"}`), 400, "urn:shortener:problem:invalid-code")
	assertProblem(t, post("application/json", `{"url":"https://example.com","custom_code":"api"}`), 400, "urn:shortener:problem:invalid-code")
	assertProblem(t, post("application/json", `{"url":"https://example.com","custom_code":"ab"}`), 400, "urn:shortener:problem:invalid-code")
	assertProblem(t, post("application/json", `{"url":"https://example.com/`+strings.Repeat("a", 2000)+`"}`), 413, "urn:shortener:problem:body-too-large")
	assertProblem(t, do(t, "PUT", e.base+"/api/v1/links", "", "", nil), 405, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/nope", "", "", nil), 404, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links?limit=0", adminKey, "", nil), 400, "")
	assertProblem(t, do(t, "GET", e.base+"/api/v1/links?cursor=%21%21", adminKey, "", nil), 400, "")
	assert.Len(t, srv.Keys(t, raw), before, "refused requests write nothing")

	// Valid options are honoured.
	a := post("application/json; charset=utf-8", `{"url":"https://example.com","custom_code":"My-Code_1","ttl":60,"max_clicks":5}`)
	require.Equal(t, 201, a.status, "body %s", a.body)
	l := a.json(t)
	assert.Equal(t, "My-Code_1", l["code"])
	assert.EqualValues(t, 5, l["max_clicks"])
	exp, _ := time.Parse(time.RFC3339, l["expires_at"].(string))
	assert.WithinDuration(t, time.Now().Add(time.Minute), exp, 2*time.Second)
	assertProblem(t, post("application/json", `{"url":"https://example.com","custom_code":"My-Code_1"}`), 409, "urn:shortener:problem:code-taken")
}

func TestAPIKeysAndOwnership(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--allow-anonymous=false")
	newKey := func(owner string, admin bool) string {
		var out bytes.Buffer
		args := []string{"keys", "create", "--owner", owner, "--redis", srv.URL, "--key-prefix", srv.Prefix}
		if admin {
			args = append(args, "--admin")
		}
		require.NoError(t, run(context.Background(), args, func(string) string { return "" }, &out, io.Discard))
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return lines[len(lines)-1]
	}
	alice, bob, root := newKey("alice", false), newKey("bob", false), newKey("root", true)
	assert.True(t, strings.HasPrefix(alice, "sk_") && len(alice) == 35, "key %q", alice)
	keys := srv.Keys(t, srv.Client(t))
	for _, k := range keys {
		assert.NotContains(t, k, alice, "the key itself is never stored")
	}

	assertProblem(t, createLink(t, e, "", map[string]any{"url": "https://example.com"}), 401, "urn:shortener:problem:unauthorized")
	assertProblem(t, createLink(t, e, "sk_wrong", map[string]any{"url": "https://example.com"}), 401, "urn:shortener:problem:unauthorized")
	a := do(t, "POST", e.base+"/api/v1/links", "", "application/json", strings.NewReader(`{"url":"https://example.com"}`))
	assertProblem(t, a, 401, "")
	assert.NotEmpty(t, a.header.Get("WWW-Authenticate"))

	a = createLink(t, e, alice, map[string]any{"url": "https://example.com/alice"})
	require.Equal(t, 201, a.status)
	assert.Equal(t, "alice", a.json(t)["owner"])
	code := a.json(t)["code"].(string)

	// X-API-Key works as well as Bearer.
	req, _ := http.NewRequest("POST", e.base+"/api/v1/links", strings.NewReader(`{"url":"https://example.com/x","dedupe":true}`))
	req.Header.Set("X-API-Key", bob)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 201, resp.StatusCode)

	a = createLink(t, e, bob, map[string]any{"url": "https://example.com/x", "dedupe": true})
	require.Equal(t, 200, a.status, "dedupe answers 200 with the existing link")
	assert.Equal(t, true, a.json(t)["existing"])

	list := func(key, query string) answer { return do(t, "GET", e.base+"/api/v1/links"+query, key, "", nil) }
	a = list(alice, "")
	require.Equal(t, 200, a.status)
	assert.Equal(t, `{"links":[`, string(a.body[:10]))
	var page struct {
		Links []struct {
			Code  string `json:"code"`
			Owner string `json:"owner"`
		} `json:"links"`
		NextCursor string `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(a.body, &page))
	require.Len(t, page.Links, 1)
	assert.Equal(t, code, page.Links[0].Code)
	assert.Equal(t, "", page.NextCursor)
	assertProblem(t, list(bob, "?owner=alice"), 403, "")
	a = list(root, "?owner=alice")
	require.Equal(t, 200, a.status)
	assert.Contains(t, string(a.body), code)
	assertProblem(t, list("", ""), 401, "")

	assertProblem(t, do(t, "DELETE", e.base+"/api/v1/links/"+code, bob, "", nil), 403, "urn:shortener:problem:forbidden")
	status, _ := rawGet(t, e.base, "GET", "/"+code)
	assert.Equal(t, "HTTP/1.1 302 Found", status, "a refused delete changes nothing")
	assert.Equal(t, 204, do(t, "DELETE", e.base+"/api/v1/links/"+code, alice, "", nil).status)

	// Revoking a key takes effect on the edge at once.
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"keys", "revoke", "--redis", srv.URL, "--key-prefix", srv.Prefix, bob}, func(string) string { return "" }, &out, io.Discard))
	require.Eventually(t, func() bool {
		return createLink(t, e, bob, map[string]any{"url": "https://example.com/y"}).status == 401
	}, time.Second, 5*time.Millisecond)
}

func TestDeleteSeenByOtherEdgeWithin100ms(t *testing.T) {
	srv := redistest.Start(t)
	a, b := startEdge(t, srv), startEdge(t, srv)
	l := createLink(t, a, "", map[string]any{"url": "https://example.com/shared"})
	require.Equal(t, 201, l.status)
	code := l.json(t)["code"].(string)
	for i := 0; i < 3; i++ { // b caches the code
		status, _ := rawGet(t, b.base, "GET", "/"+code)
		require.Equal(t, "HTTP/1.1 302 Found", status)
	}
	hits := metricValue(t, b.ops, `shortener_edge_cache_lookups_total{result="hit"}`)
	require.GreaterOrEqual(t, hits, 2.0, "edge b serves the code from its cache")

	require.Equal(t, 204, do(t, "DELETE", a.base+"/api/v1/links/"+code, adminKey, "", nil).status)
	deleted := time.Now()
	for {
		status, _ := rawGet(t, b.base, "GET", "/"+code)
		if status == "HTTP/1.1 404 Not Found" {
			break
		}
		require.Less(t, time.Since(deleted), 100*time.Millisecond, "edge b still redirects 100 ms after the delete")
	}
}

func TestMissCachedThenInvalidatedByCreate(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	for i := 0; i < 3; i++ {
		status, _ := rawGet(t, e.base, "GET", "/soon-here")
		require.Equal(t, "HTTP/1.1 404 Not Found", status)
	}
	assert.Equal(t, 1.0, metricValue(t, e.ops, `shortener_edge_cache_lookups_total{result="miss"}`), "only the first 404 asked Redis")
	assert.Equal(t, 2.0, metricValue(t, e.ops, `shortener_edge_cache_lookups_total{result="hit"}`))
	assert.Equal(t, 3.0, metricValue(t, e.ops, `shortener_edge_redirects_total{result="not_found"}`))

	require.Equal(t, 201, createLink(t, e, "", map[string]any{"url": "https://example.com/now", "custom_code": "soon-here"}).status)
	created := time.Now()
	for {
		status, h := rawGet(t, e.base, "GET", "/soon-here")
		if status == "HTTP/1.1 302 Found" {
			assert.Equal(t, "https://example.com/now", string(h["location"]))
			break
		}
		require.Less(t, time.Since(created), 100*time.Millisecond, "the cached miss outlived the create")
	}
	// Unknown shapes never reach Redis.
	for _, p := range []string{"/a.b", "/" + strings.Repeat("x", 65), "/a/b", "/%00"} {
		status, _ := rawGet(t, e.base, "GET", p)
		assert.Equal(t, "HTTP/1.1 404 Not Found", status, p)
	}
}

func TestConcurrentCreatesOverHTTP(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	const n = 2000
	codes := make(chan string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a := createLink(t, e, adminKey, map[string]any{"url": "https://example.com/same"})
			if assert.Equal(t, 201, a.status) {
				codes <- a.json(t)["code"].(string)
			}
		}()
	}
	wg.Wait()
	close(codes)
	seen := map[string]bool{}
	for c := range codes {
		assert.False(t, seen[c], "duplicate code %s", c)
		seen[c] = true
	}
	assert.Len(t, seen, n)
	stats := do(t, "GET", e.base+"/api/v1/stats", "", "", nil).json(t)
	assert.EqualValues(t, n, stats["total_links"])
}

func TestOpsEndpoints(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	a := do(t, "GET", e.ops+"/healthz", "", "", nil)
	assert.Equal(t, 200, a.status)
	a = do(t, "GET", e.ops+"/metrics", "", "", nil)
	assert.Equal(t, 200, a.status)
	for _, line := range strings.Split(string(a.body), "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			name := strings.Fields(line)[2]
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
				assert.True(t, strings.HasPrefix(name, "shortener_"), "metric %s is not named shortener_…", name)
			}
		}
	}
}

func TestFlagsAndEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		ok   bool
	}{
		{"defaults", nil, nil, true},
		{"bad redirect status", []string{"--redirect-status", "303"}, nil, false},
		{"env redirect status", nil, map[string]string{"SHORTENER_REDIRECT_STATUS": "301"}, true},
		{"bad env", nil, map[string]string{"SHORTENER_REDIRECT_STATUS": "x"}, false},
		{"stray argument", []string{"serve"}, nil, false},
		{"negative ttl", []string{"--default-ttl", "-1s"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if !tc.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tc.env["SHORTENER_REDIRECT_STATUS"] == "301" {
				assert.Equal(t, 301, c.redirectStatus)
			}
		})
	}
}

func TestRedirectStatusFlag(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		status int
		line   string
		cc     string
	}{
		{301, "HTTP/1.1 301 Moved Permanently", "public, max-age=300"},
		{307, "HTTP/1.1 307 Temporary Redirect", "private, no-cache"},
		{308, "HTTP/1.1 308 Permanent Redirect", "public, max-age=300"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			e := startEdge(t, srv, "--redirect-status", strconv.Itoa(tc.status))
			a := createLink(t, e, "", map[string]any{"url": "https://example.com/s"})
			require.Equal(t, 201, a.status)
			status, h := rawGet(t, e.base, "GET", "/"+a.json(t)["code"].(string))
			assert.Equal(t, tc.line, status)
			assert.Equal(t, tc.cc, string(h["cache-control"]))
			assert.Equal(t, "https://example.com/s", string(h["location"]))
			e.stop()
		})
	}
}

// metricValue reads one sample from a /metrics page.
func metricValue(t *testing.T, ops, series string) float64 {
	t.Helper()
	a := do(t, "GET", ops+"/metrics", "", "", nil)
	for _, line := range strings.Split(string(a.body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			require.NoError(t, err)
			return v
		}
	}
	return 0
}

func TestAnalyticsAccess(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	newKey := func(owner string) string {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), []string{"keys", "create", "--owner", owner, "--redis", srv.URL, "--key-prefix", srv.Prefix}, func(string) string { return "" }, &out, io.Discard))
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return lines[len(lines)-1]
	}
	alice, bob := newKey("alice"), newKey("bob")
	own := createLink(t, e, alice, map[string]any{"url": "https://example.com/a"}).json(t)["code"].(string)
	anon := createLink(t, e, "", map[string]any{"url": "https://example.com/anon"}).json(t)["code"].(string)
	url := func(code, q string) string { return e.base + "/api/v1/links/" + code + "/analytics" + q }

	a := do(t, "GET", url(own, ""), alice, "", nil)
	require.Equal(t, 200, a.status, "body %s", a.body)
	r := a.json(t)
	assert.Equal(t, own, r["code"])
	assert.Len(t, r["daily"], 30, "30 days by default, zeros included")
	assert.Len(t, r["hourly"], 48)
	assert.Equal(t, map[string]any{"desktop": 0.0, "mobile": 0.0, "tablet": 0.0}, r["by_device"])
	assert.Equal(t, []any{}, r["recent_clicks"])
	for _, k := range []string{"url", "created_at", "total_clicks", "human_clicks", "bot_clicks", "unique_visitors", "unique_today", "by_country", "by_browser", "by_os", "by_referer"} {
		assert.Contains(t, r, k)
	}
	assert.Len(t, do(t, "GET", url(own, "?days=90"), alice, "", nil).json(t)["daily"], 90)
	assert.Len(t, do(t, "GET", url(own, "?days=1"), adminKey, "", nil).json(t)["daily"], 1)

	assertProblem(t, do(t, "GET", url(own, ""), bob, "", nil), 403, "urn:shortener:problem:forbidden")
	assertProblem(t, do(t, "GET", url(own, ""), "", "", nil), 401, "urn:shortener:problem:unauthorized")
	assertProblem(t, do(t, "GET", url(anon, ""), alice, "", nil), 403, "")
	assert.Equal(t, 200, do(t, "GET", url(anon, ""), adminKey, "", nil).status, "anonymous links: admins only")
	for _, q := range []string{"?days=0", "?days=91", "?days=x", "?days=-1"} {
		assertProblem(t, do(t, "GET", url(own, q), alice, "", nil), 400, "urn:shortener:problem:invalid-parameter")
	}
	assertProblem(t, do(t, "GET", url("nope404", ""), alice, "", nil), 404, "")
	assertProblem(t, do(t, "POST", url(own, ""), alice, "", nil), 405, "")
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=z"} {
		assertProblem(t, do(t, "GET", e.base+"/api/v1/stats/top"+q, "", "", nil), 400, "")
	}
	a = do(t, "GET", e.base+"/api/v1/stats/top", "", "", nil)
	assert.Equal(t, 200, a.status)
	assert.JSONEq(t, `{"links":[]}`, string(a.body))
}
