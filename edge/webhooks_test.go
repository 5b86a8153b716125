package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/useragent"
	"github.com/shortener/shortener/pkg/webhook"
)

// whdDelivery is one request a receiver answered with a 2xx.
type whdDelivery struct {
	path, id, ts, sig string
	body              []byte
}

// whdReceiver is a real HTTP receiver that fails on purpose (500, 429, a
// reset connection and a timeout, in turn) until recovered.
type whdReceiver struct {
	srv       *httptest.Server
	healthy   atomic.Bool
	tries     atomic.Int64 // every request
	failed    atomic.Int64 // requests failed on purpose
	mu        sync.Mutex
	delivered []whdDelivery
	failMode  []string
}

func whdStartReceiver(t *testing.T, hang time.Duration) *whdReceiver {
	r := &whdReceiver{failMode: []string{"500", "429", "reset", "hang"}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.tries.Add(1)
		body, _ := io.ReadAll(req.Body)
		if !r.healthy.Load() {
			r.failed.Add(1)
			switch r.failMode[int(n)%len(r.failMode)] {
			case "500":
				http.Error(w, "nope", 500)
			case "429":
				http.Error(w, "slow down", 429)
			case "reset":
				if hj, ok := w.(http.Hijacker); ok {
					c, _, _ := hj.Hijack()
					if tc, ok := c.(*net.TCPConn); ok {
						_ = tc.SetLinger(0)
					}
					c.Close()
					return
				}
				http.Error(w, "reset", 500)
			case "hang":
				select {
				case <-time.After(hang):
				case <-req.Context().Done():
				}
				http.Error(w, "late", 503)
			}
			return
		}
		r.mu.Lock()
		r.delivered = append(r.delivered, whdDelivery{path: req.URL.Path, id: req.Header.Get("webhook-id"),
			ts: req.Header.Get("webhook-timestamp"), sig: req.Header.Get("webhook-signature"), body: body})
		r.mu.Unlock()
		w.WriteHeader(204)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *whdReceiver) got() []whdDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]whdDelivery(nil), r.delivered...)
}

// whdStartDispatcher runs the worker's webhook dispatcher until the test
// ends, with a caching client as the worker's, short backoffs and polls.
func whdStartDispatcher(t *testing.T, srv *redistest.Server, name string, allowPrivate bool, attempts int, mod ...func(*webhook.DispatcherConfig)) (*webhook.Registry, *prometheus.Registry) {
	t.Helper()
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := redisx.New(redisx.Config{URL: srv.URL})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cls, err := useragent.New(100)
	require.NoError(t, err)
	subs := webhook.NewRegistry(c, webhook.RegistryConfig{Keys: ks, AllowPrivate: true})
	reg := prometheus.NewRegistry()
	cfg := webhook.DispatcherConfig{
		Client: c, Keys: ks, Name: name, Subscriptions: subs, Links: link.NewStore(c, link.Config{Keys: ks}),
		Classifier: cls, AllowPrivate: allowPrivate, Timeout: 300 * time.Millisecond, MaxAttempts: attempts,
		Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		Block: 50 * time.Millisecond, Log: log, Registry: reg,
	}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := webhook.NewDispatcher(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.EnsureGroups(ctx)) // before any event: a new group starts at the stream's end
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return subs, reg
}

// whdSubscribe subscribes through the API, as a user does, and returns
// the webhook's ID and secret.
func whdSubscribe(t *testing.T, e *edgeProc, key, url string, events ...string) (id, secret string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"url": url, "events": events})
	require.NoError(t, err)
	a := do(t, "POST", e.base+"/api/v1/webhooks", key, "application/json", strings.NewReader(string(b)))
	require.Equal(t, 201, a.status, "%s", a.body)
	m := a.json(t)
	return m["id"].(string), m["secret"].(string)
}

// whdQueued counts queued deliveries over every partition.
func whdQueued(t *testing.T, c rueidis.Client, ks redisx.Keyspace) (queued, dead int64) {
	t.Helper()
	for p := 0; p < ks.Partitions; p++ {
		n, err := c.Do(context.Background(), c.B().Hlen().Key(ks.WebhookJobs(p)).Build()).AsInt64()
		require.NoError(t, err)
		queued += n
		n, err = c.Do(context.Background(), c.B().Xlen().Key(ks.WebhookDeadLetter(p)).Build()).AsInt64()
		require.NoError(t, err)
		dead += n
	}
	return queued, dead
}

const whdHumanUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"

const whdBotUA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

// TestWebhookDeliveryEveryEventOnce: a receiver fails every request in four
// ways (500, 429, a reset connection, a timeout) until it recovers; then
// every event arrives exactly once per event ID and subscription, signed,
// while the analytics worker counted every click on time regardless.
func TestWebhookDeliveryEveryEventOnce(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	startWorker(t, srv, "w1")
	rcv := whdStartReceiver(t, time.Second)
	_, reg := whdStartDispatcher(t, srv, "d1", true, 1000)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	ctx := context.Background()
	alice := createKey(t, srv, "alice", false)
	_, allSecret := whdSubscribe(t, e, alice, rcv.srv.URL+"/all", "click", "link.created", "link.updated", "link.deleted")
	_, createdSecret := whdSubscribe(t, e, alice, rcv.srv.URL+"/created", "link.created")
	whdSubscribe(t, e, createKey(t, srv, "bob", false), rcv.srv.URL+"/bob", "click", "link.created", "link.updated", "link.deleted")

	a := createLink(t, e, alice, map[string]any{"url": "https://example.com/hook", "custom_code": "hooked", "tags": []string{"spring"}})
	require.Equal(t, 201, a.status, "%s", a.body)
	anon := createLink(t, e, "", map[string]any{"url": "https://example.com/anon", "custom_code": "anonhook"})
	require.Equal(t, 201, anon.status, "%s", anon.body)
	const humans = 40
	for i := 0; i < humans; i++ {
		a := doWith(t, "GET", e.base+"/hooked", nil, func(r *http.Request) {
			r.Header.Set("Referer", "https://news.example/")
			r.Header.Set("User-Agent", whdHumanUA)
		})
		require.Equal(t, 302, a.status)
	}
	require.Equal(t, 302, doHeader(t, "GET", e.base+"/hooked", "User-Agent", whdBotUA).status)
	require.Equal(t, 302, do(t, "HEAD", e.base+"/hooked", "", "", nil).status)    // a check, not a click
	require.Equal(t, 302, do(t, "GET", e.base+"/anonhook", "", "", nil).status)   // nobody's
	require.Equal(t, 404, do(t, "GET", e.base+"/nosuchhook", "", "", nil).status) // an orphan visit
	// The clicks are read and queued before the link changes: a click the
	// webhooks group reads after its link is deleted has no owner to go to.
	want := int64(1 + humans + 1 + 1) // "all": created + clicks; "created": created
	require.Eventually(t, func() bool { q, _ := whdQueued(t, srv.Client(t), ks); return q == want }, 10*time.Second, 10*time.Millisecond)
	// A failing endpoint never delays analytics: every click is counted
	// while no delivery has succeeded yet.
	require.Eventually(t, func() bool { return rcv.failed.Load() >= 8 }, 10*time.Second, 10*time.Millisecond)
	assert.Empty(t, rcv.got())
	require.Eventually(t, func() bool {
		n, err := srv.Client(t).Do(ctx, srv.Client(t).B().Hget().Key(ks.ClickTotals("hooked")).Field("human").Build()).AsInt64()
		return err == nil && n == humans
	}, 10*time.Second, 10*time.Millisecond)

	patch := do(t, "PATCH", e.base+"/api/v1/links/hooked", alice, "application/json", strings.NewReader(`{"url":"https://example.com/hook2"}`))
	require.Equal(t, 200, patch.status, "%s", patch.body)
	require.Equal(t, 204, do(t, "DELETE", e.base+"/api/v1/links/hooked", alice, "", nil).status)

	rcv.healthy.Store(true)
	wantAll := 1 + humans + 1 + 1 + 1 // created, clicks, the bot's click, updated, deleted
	require.Eventually(t, func() bool { return len(rcv.got()) == wantAll+1 }, 20*time.Second, 10*time.Millisecond,
		"deliveries: %d", len(rcv.got()))
	time.Sleep(300 * time.Millisecond) // any duplicate would have come by now (retries are ≤ 100 ms apart)
	got := rcv.got()
	require.Len(t, got, wantAll+1)

	seen := map[string]bool{}
	types := map[string]int{}
	var bots, humansSeen int
	for _, d := range got {
		key := d.path + " " + d.id
		assert.False(t, seen[key], "delivered twice: %s", key)
		seen[key] = true
		secret := allSecret
		if d.path == "/created" {
			secret = createdSecret
		}
		assert.NoError(t, webhook.Verify(secret, d.id, d.ts, d.sig, d.body, time.Now(), 5*time.Minute), "signature of %s", key)
		var env struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(d.body, &env), "%s", d.body)
		assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, env.Timestamp)
		assert.Regexp(t, `^evt_\d+_\d+-\d+$`, d.id)
		if d.path == "/created" {
			assert.Equal(t, "link.created", env.Type)
			continue
		}
		require.Equal(t, "/all", d.path)
		types[env.Type]++
		switch env.Type {
		case "click":
			var c webhook.ClickData
			require.NoError(t, json.Unmarshal(env.Data, &c))
			assert.Equal(t, "hooked", c.Code)
			assert.Equal(t, "https://example.com/hook", c.URL)
			if c.Bot {
				bots++
				assert.Equal(t, "", c.Referer)
			} else {
				humansSeen++
				assert.Equal(t, "https://news.example/", c.Referer)
			}
		case "link.created", "link.updated", "link.deleted":
			var l map[string]any
			require.NoError(t, json.Unmarshal(env.Data, &l))
			assert.Equal(t, "hooked", l["code"])
			assert.Equal(t, "https://sho.rt/hooked", l["short_url"])
			assert.Equal(t, "alice", l["owner"])
			assert.Equal(t, []any{"spring"}, l["tags"])
			assert.NotContains(t, l, "clicks")
			wantURL := "https://example.com/hook"
			if env.Type != "link.created" { // the deletion shows the link as it was: updated
				wantURL = "https://example.com/hook2"
			}
			assert.Equal(t, wantURL, l["url"], env.Type)
		}
	}
	assert.Equal(t, map[string]int{"click": humans + 1, "link.created": 1, "link.updated": 1, "link.deleted": 1}, types)
	assert.Equal(t, 1, bots)
	assert.Equal(t, humans, humansSeen)
	// the two subscriptions got the same event under the same ID
	for k := range seen {
		if strings.HasPrefix(k, "/created ") {
			assert.True(t, seen["/all "+strings.TrimPrefix(k, "/created ")])
		}
	}
	q, dead := whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(0), dead)
	assert.Equal(t, float64(wantAll+1), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "delivered"))
	assert.Equal(t, float64(rcv.failed.Load()), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "failed"))
	assert.Equal(t, float64(0), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "dead_letter"))
}

// whdCounter reads one labelled series of a counter vector in reg.
func whdCounter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{result=%q}", name, result)
	return 0
}

// TestWebhookDeliveryDeadLetterAndReplay: deliveries that fail their last
// try are kept as dead letters with their last answer; after the receiver
// recovers, a replay delivers each exactly once and empties the dead
// letters.
func TestWebhookDeliveryDeadLetterAndReplay(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.failMode = []string{"500"}
	_, reg := whdStartDispatcher(t, srv, "d1", true, 3)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	carol := createKey(t, srv, "carol", false)
	subID, secret := whdSubscribe(t, e, carol, rcv.srv.URL+"/c", "click", "link.created", "link.updated", "link.deleted")
	deadLetters := func(key, query string) (int, []webhook.DeadLetter) {
		a := do(t, "GET", e.base+"/api/v1/webhooks/"+subID+"/dead-letters"+query, key, "", nil)
		if a.status != 200 {
			return a.status, nil
		}
		var out struct {
			DeadLetters []webhook.DeadLetter `json:"dead_letters"`
		}
		require.NoError(t, json.Unmarshal(a.body, &out))
		return a.status, out.DeadLetters
	}
	replay := func(key string) (int, int) {
		a := do(t, "POST", e.base+"/api/v1/webhooks/"+subID+"/replay", key, "", nil)
		if a.status != 202 {
			return a.status, 0
		}
		var out struct {
			Replayed int `json:"replayed"`
		}
		require.NoError(t, json.Unmarshal(a.body, &out))
		return a.status, out.Replayed
	}
	require.Equal(t, 201, createLink(t, e, carol, map[string]any{"url": "https://example.com/dl", "custom_code": "deadl"}).status)
	for i := 0; i < 5; i++ {
		require.Equal(t, 302, do(t, "GET", e.base+"/deadl", "", "", nil).status)
	}
	require.Eventually(t, func() bool { _, d := whdQueued(t, srv.Client(t), ks); return d == 6 }, 20*time.Second, 10*time.Millisecond)
	q, _ := whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(18), rcv.tries.Load(), "3 tries each")
	assert.Equal(t, float64(6), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "dead_letter"))

	status, dls := deadLetters(carol, "")
	require.Equal(t, 200, status)
	require.Len(t, dls, 6)
	types := map[string]int{}
	for _, d := range dls {
		types[d.Type]++
		assert.Equal(t, 3, d.Attempts)
		require.NotNil(t, d.LastStatus)
		assert.Equal(t, 500, *d.LastStatus)
		assert.Equal(t, "HTTP 500: nope", d.LastError)
		assert.WithinDuration(t, time.Now(), d.FailedAt, 20*time.Second)
		assert.True(t, json.Valid(d.Payload))
	}
	assert.Equal(t, map[string]int{"click": 5, "link.created": 1}, types)
	status, limited := deadLetters(carol, "?limit=2")
	require.Equal(t, 200, status)
	assert.Equal(t, dls[:2], limited, "the most recent failures first")
	dave := createKey(t, srv, "dave", false)
	status, _ = deadLetters(dave, "")
	assert.Equal(t, 404, status, "another owner's webhook")
	status, _ = replay(dave)
	assert.Equal(t, 404, status)

	rcv.healthy.Store(true)
	status, n := replay(carol)
	require.Equal(t, 202, status)
	assert.Equal(t, 6, n)
	status, n = replay(carol) // nothing left to replay
	require.Equal(t, 202, status)
	assert.Equal(t, 0, n)
	require.Eventually(t, func() bool { return len(rcv.got()) == 6 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	got := rcv.got()
	require.Len(t, got, 6)
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.id] = true
		assert.NoError(t, webhook.Verify(secret, d.id, d.ts, d.sig, d.body, time.Now(), time.Minute))
	}
	assert.Len(t, ids, 6)
	for _, d := range dls {
		assert.True(t, ids[d.MessageID], "dead letter %s replayed", d.MessageID)
	}
	q, dead := whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(0), dead)
	status, dls = deadLetters(carol, "")
	require.Equal(t, 200, status)
	assert.Empty(t, dls)
}

// TestWebhookDeliveryRefusesPrivateTargets: without --webhook-allow-private
// the dispatcher will not connect to a loopback address, even one that a
// subscription was allowed to name (a DNS name can resolve anywhere).
func TestWebhookDeliveryRefusesPrivateTargets(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	rcv := whdStartReceiver(t, time.Second)
	rcv.healthy.Store(true)
	subs, _ := whdStartDispatcher(t, srv, "d1", false, 2)
	ctx := context.Background()
	sub, err := subs.Create(ctx, "erin", webhook.CreateRequest{URL: rcv.srv.URL + "/e", Events: []string{"link.created"}})
	require.NoError(t, err)
	erin := createKey(t, srv, "erin", false)
	require.Equal(t, 201, createLink(t, e, erin, map[string]any{"url": "https://example.com/ssrf"}).status)
	var dls []webhook.DeadLetter
	require.Eventually(t, func() bool {
		dls, err = subs.DeadLetters(ctx, "erin", sub.ID, 10)
		return err == nil && len(dls) == 1
	}, 10*time.Second, 10*time.Millisecond)
	assert.Nil(t, dls[0].LastStatus)
	assert.Contains(t, dls[0].LastError, "is not a public address")
	assert.Equal(t, int64(0), rcv.tries.Load())
}

// TestWebhookDeliveryQueueIsBounded: while a receiver is down, a
// partition's queue stops growing at --webhook-queue-max (plus one read
// batch) and the rest waits unread in the stream; when the receiver
// recovers, reading resumes and every event arrives once.
func TestWebhookDeliveryQueueIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.failMode = []string{"500"}
	_, _ = whdStartDispatcher(t, srv, "d1", true, 1000, func(c *webhook.DispatcherConfig) { c.QueueMax = 5 })
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	frank := createKey(t, srv, "frank", false)
	whdSubscribe(t, e, frank, rcv.srv.URL+"/f", "click")
	require.Equal(t, 201, createLink(t, e, frank, map[string]any{"url": "https://example.com/q", "custom_code": "bounded"}).status)
	p := ks.Partition("bounded")
	c := srv.Client(t)
	ctx := context.Background()
	lag := func() int64 {
		groups, err := c.Do(ctx, c.B().XinfoGroups().Key(ks.Stream(p)).Build()).ToArray()
		require.NoError(t, err)
		for _, g := range groups {
			info, err := g.AsMap()
			require.NoError(t, err)
			name, lagMsg := info["name"], info["lag"]
			if s, _ := name.ToString(); s == webhook.DefaultGroup {
				n, _ := lagMsg.AsInt64()
				return n
			}
		}
		t.Fatal("no webhooks group")
		return 0
	}
	const clicks = 40
	for i := 0; i < clicks; i++ {
		a := doWith(t, "GET", e.base+"/bounded", nil, func(r *http.Request) { r.Header.Set("User-Agent", whdHumanUA) })
		require.Equal(t, 302, a.status)
		// one at a time, so each lands in its own read: the bound is exact
		require.Eventually(t, func() bool { q, _ := whdQueued(t, c, ks); return q >= min(int64(i+1), 5) }, 5*time.Second, 5*time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	q, _ := whdQueued(t, c, ks)
	assert.Equal(t, int64(5), q, "the queue stopped at the bound")
	assert.Equal(t, int64(clicks-5), lag(), "the rest waits unread in the stream")
	rcv.healthy.Store(true)
	require.Eventually(t, func() bool { return len(rcv.got()) == clicks }, 15*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	ids := map[string]bool{}
	for _, d := range rcv.got() {
		ids[d.id] = true
	}
	assert.Len(t, ids, clicks, "each once")
	assert.Equal(t, int64(0), lag())
}
