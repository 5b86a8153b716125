package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// snapshot is every key under the test's prefix with its serialized value.
func snapshot(t *testing.T, srv *redistest.Server) map[string]string {
	t.Helper()
	c := srv.Client(t)
	out := map[string]string{}
	for _, k := range srv.Keys(t, c) {
		v, err := c.Do(context.Background(), c.B().Dump().Key(k).Build()).ToString()
		require.NoError(t, err)
		out[k] = v
	}
	return out
}

// rawRequest writes req as is and returns the status line.
func rawRequest(t *testing.T, base, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = conn.Write([]byte(req))
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err, "no answer to %q", req[:min(len(req), 60)])
	return strings.TrimSpace(line)
}

func TestHostileRequests(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--trusted-proxies", "")
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	code := createLink(t, e, alice, map[string]any{"url": "https://example.com/mine"}).json(t)["code"].(string)
	before := snapshot(t, srv)

	post := func(body string) string {
		return fmt.Sprintf("POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	}
	get := func(path string, headers ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "Connection: close\r\n\r\n"
	}
	for _, tc := range []struct {
		name, req, status string
	}{
		{"CR in URL", post(`{"url":"https://example.com/a\rb"}`), "400"},
		{"LF in URL", post(`{"url":"https://example.com/a\nSet-Cookie: x=1"}`), "400"},
		{"NUL in URL", post(`{"url":"https://example.com/\u0000"}`), "400"},
		{"javascript", post(`{"url":"javascript:alert(document.cookie)"}`), "400"},
		{"data", post(`{"url":"data:text/html;base64,PHNjcmlwdD4="}`), "400"},
		{"file", post(`{"url":"file:///etc/passwd"}`), "400"},
		{"relative", post(`{"url":"/admin"}`), "400"},
		{"scheme-less", post(`{"url":"evil.example/x"}`), "400"},
		{"100 KB URL", post(`{"url":"https://example.com/` + strings.Repeat("a", 100<<10) + `"}`), "413"},
		{"malformed JSON", post(`{"url": "https://example.com",`), "400"},
		{"CR LF in code", post(`{"url":"https://example.com","custom_code":"ab\r\ncd"}`), "400"},
		{"non-ASCII code", post(`{"url":"https://example.com","custom_code":"café"}`), "400"},
		{"overlong code", post(`{"url":"https://example.com","custom_code":"` + strings.Repeat("c", 65) + `"}`), "400"},
		{"traversal code", post(`{"url":"https://example.com","custom_code":"../../etc"}`), "400"},
		{"wrong content type", "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<url/></>", "415"},
		{"10 MB body", "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{\"url\":", "413"},
		{"NUL in path", get("/ab%00cd"), "404"},
		{"CR LF in path", get("/ab%0D%0ASet-Cookie:x"), "404"},
		{"non-ASCII path", get("/caf%C3%A9"), "404"},
		{"overlong path", get("/" + strings.Repeat("a", 65)), "404"},
		{"traversal", get("/../../etc/passwd"), "404"},
		{"encoded traversal", get("/api/v1/links/..%2F..%2Fetc%2Fpasswd"), "404"},
		{"huge User-Agent", get("/"+code, "User-Agent: "+strings.Repeat("A", 20<<10)+"\r\n"), "431"},
		{"huge Referer", get("/"+code, "Referer: https://x.example/"+strings.Repeat("r", 20<<10)+"\r\n"), "431"},
		{"binary User-Agent", get("/"+code, "User-Agent: \x01\x02\x7f\x1b[31m\r\n"), "400"},
		{"binary Referer", get("/"+code, "Referer: \x00\x01evil\r\n"), "400"},
		{"another owner's key", "DELETE /api/v1/links/" + code + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + bob + "\r\nConnection: close\r\n\r\n", "403"},
		{"another owner's analytics", get("/api/v1/links/"+code+"/analytics", "X-API-Key: "+bob+"\r\n"), "403"},
		{"unknown key", get("/api/v1/links", "Authorization: Bearer sk_"+strings.Repeat("0", 32)+"\r\n"), "401"},
		{"malformed Authorization", get("/api/v1/links", "Authorization: Basic YTpi\r\n"), "401"},
		{"overlong key", get("/api/v1/links", "X-API-Key: "+strings.Repeat("k", 4000)+"\r\n"), "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := rawRequest(t, e.base, tc.req)
			assert.True(t, strings.HasPrefix(line, "HTTP/1.1 "+tc.status+" "), "got %q, want %s", line, tc.status)
		})
	}
	assert.Equal(t, before, snapshot(t, srv), "hostile requests changed Redis")

	// X-Forwarded-For from an untrusted peer is ignored: the click's client
	// is the peer, so the spoofed address never reaches the analytics.
	startWorker(t, srv, "w1")
	line := rawRequest(t, e.base, get("/"+code, "X-Forwarded-For: 203.0.113.77\r\n", "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"))
	require.Equal(t, "HTTP/1.1 302 Found", line)
	require.Eventually(t, func() bool { return clicksOf(t, e, code) == 1 }, 10*time.Second, 20*time.Millisecond)
	c := srv.Client(t)
	for _, k := range srv.Keys(t, c) {
		if strings.HasSuffix(k, ":r") {
			vals, err := c.Do(context.Background(), c.B().Lrange().Key(k).Start(0).Stop(-1).Build()).AsStrSlice()
			require.NoError(t, err)
			require.Len(t, vals, 1)
			fields := strings.Split(vals[0], "\t")
			require.Len(t, fields, 9)
			assert.Equal(t, "127.0.0.0", fields[7], "recent click IP is the (anonymized) peer, not the spoofed hop: %q", vals[0])
		}
	}
}
