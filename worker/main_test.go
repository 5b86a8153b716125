package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/webhook"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func TestWorkerAppliesAndStops(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	c := srv.Client(t)
	ctx := context.Background()
	store := link.NewStore(c, link.Config{Keys: ks})
	_, _, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/", CustomCode: "work", Owner: "alice"})
	require.NoError(t, err)
	ev := clicks.Event{Code: "work", Time: time.Now(), IP: "192.0.2.1", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", Country: "SE"}
	for i := 0; i < 25; i++ {
		require.NoError(t, c.Do(ctx, c.B().Xadd().Key(ks.Stream(ks.Partition("work"))).Id("*").FieldValue().FieldValue(clicks.PayloadField, string(clicks.AppendEncode(nil, &ev))).Build()).Error())
	}

	ops := freeAddr(t)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- run(rctx, []string{"--redis", srv.URL, "--ops-listen", ops, "--block", "100ms"},
			func(k string) string {
				return map[string]string{"SHORTENER_KEY_PREFIX": srv.Prefix, "SHORTENER_CONSUMER": "w-test"}[k]
			}, logs)
	}()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 10*time.Second, 10*time.Millisecond, "worker never became ready; logs:\n%s", logs)
	require.Eventually(t, func() bool {
		n, err := store.Clicks(ctx, "work")
		return err == nil && n[0] == 25
	}, 10*time.Second, 10*time.Millisecond)

	resp, err := http.Get("http://" + ops + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `shortener_worker_events_total{result="applied"} 25`)
	assert.Contains(t, logs.String(), `"consumer":"w-test"`, "the consumer name came from SHORTENER_CONSUMER")

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop on cancel")
	}
	assert.Contains(t, logs.String(), "worker stopped")
}

func TestWorkerFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"zero batch", []string{"--batch", "0"}, false},
		{"empty group", []string{"--group", ""}, false},
		{"stray", []string{"extra"}, false},
		{"bad duration", []string{"--claim-idle", "soon"}, false},
		{"webhooks off", []string{"--webhooks=false"}, true},
		{"webhooks only", []string{"--analytics=false"}, true},
		{"nothing to do", []string{"--analytics=false", "--webhooks=false"}, false},
		{"same groups", []string{"--webhook-group", "analytics"}, false},
		{"empty webhook group", []string{"--webhook-group", ""}, false},
		{"zero webhook attempts", []string{"--webhook-attempts", "0"}, false},
		{"max backoff below backoff", []string{"--webhook-backoff", "10s", "--webhook-max-backoff", "5s"}, false},
		{"zero concurrency", []string{"--webhook-concurrency", "0"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, func(string) string { return "" }, io.Discard)
			if !tc.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "analytics", c.group)
			assert.Equal(t, ":9101", c.opsListen)
			assert.True(t, strings.Contains(c.consumer, "-"), "default consumer is hostname-pid, got %q", c.consumer)
		})
	}
}

// TestWorkerDeliversWebhooks runs the worker binary's code as a
// webhooks-only worker (--analytics=false): a link event appended by an
// edge's store reaches a subscribed receiver, signed, and no analytics
// group is created.
func TestWorkerDeliversWebhooks(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	c := srv.Client(t)
	ctx := context.Background()
	type delivery struct {
		id, ts, sig string
		body        []byte
	}
	got := make(chan delivery, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), b}
	}))
	defer rcv.Close()
	sub, err := webhook.NewRegistry(c, webhook.RegistryConfig{Keys: ks, AllowPrivate: true}).
		Create(ctx, "alice", webhook.CreateRequest{URL: rcv.URL + "/in", Events: []string{"link.created"}})
	require.NoError(t, err)

	ops := freeAddr(t)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- run(rctx, []string{"--redis", srv.URL, "--ops-listen", ops, "--key-prefix", srv.Prefix, "--block", "100ms",
			"--webhook-allow-private", "--webhook-poll-interval", "50ms", "--analytics=false"}, func(string) string { return "" }, logs)
	}()
	// ready once the webhooks group exists: a new group starts at the end
	require.Eventually(t, func() bool {
		groups, err := c.Do(ctx, c.B().XinfoGroups().Key(ks.Stream(ks.Partition("hook"))).Build()).ToArray()
		return err == nil && len(groups) == 1
	}, 10*time.Second, 10*time.Millisecond, "logs:\n%s", logs)
	store := link.NewStore(c, link.Config{Keys: ks, Describe: func(l *link.Link) []byte { return []byte(`{"code":"` + l.Code + `"}`) }})
	_, _, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/", CustomCode: "hook", Owner: "alice"})
	require.NoError(t, err)
	select {
	case d := <-got:
		assert.NoError(t, webhook.Verify(sub.Secret, d.id, d.ts, d.sig, d.body, time.Now(), time.Minute))
		assert.Regexp(t, `^\{"type":"link\.created","timestamp":"[^"]+","data":\{"code":"hook"\}\}$`, string(d.body))
	case <-time.After(10 * time.Second):
		t.Fatalf("no delivery; logs:\n%s", logs)
	}
	resp, err := http.Get("http://" + ops + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), `shortener_worker_webhook_events_total{result="queued"} 1`)
	assert.NotContains(t, string(body), "shortener_worker_events_total", "no analytics in a webhooks-only worker")
	groups, err := c.Do(ctx, c.B().XinfoGroups().Key(ks.Stream(ks.Partition("hook"))).Build()).ToArray()
	require.NoError(t, err)
	require.Len(t, groups, 1)
	info, err := groups[0].AsMap()
	require.NoError(t, err)
	name := info["name"]
	gname, _ := name.ToString()
	assert.Equal(t, "webhooks", gname)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop on cancel")
	}
	assert.Empty(t, got, "delivered once")
}
