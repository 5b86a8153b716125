package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/webhook"
)

var whmTestMessageID = regexp.MustCompile(`^evt_test_[0-9a-f]{32}$`)

// whmPatch sends PATCH /api/v1/webhooks/{id} with a JSON body.
func whmPatch(t *testing.T, e *edgeProc, key, id, body string) answer {
	t.Helper()
	return do(t, "PATCH", e.base+"/api/v1/webhooks/"+id, key, "application/json", strings.NewReader(body))
}

// whmPatchOK patches and returns the webhook of the 200 answer.
func whmPatchOK(t *testing.T, e *edgeProc, key, id, body string) map[string]any {
	t.Helper()
	a := whmPatch(t, e, key, id, body)
	require.Equal(t, 200, a.status, "PATCH %s: body %s", body, a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	w := a.json(t)
	assert.Equal(t, whapiSorted(whapiWebhookKeys), whapiKeysOf(w), "the webhook with its secret")
	return w
}

// whmGet reads a webhook through the API.
func whmGet(t *testing.T, e *edgeProc, key, id string) map[string]any {
	t.Helper()
	a := whapiCall(t, e, "GET", "/"+id, key)
	require.Equal(t, 200, a.status, "body %s", a.body)
	return a.json(t)
}

// whmWith returns a copy of w with the given keys set.
func whmWith(w map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range w {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// whmSendTest calls POST /api/v1/webhooks/{id}/test and returns the
// message ID of its 202 answer.
func whmSendTest(t *testing.T, e *edgeProc, key, id string) string {
	t.Helper()
	a := whapiCall(t, e, "POST", "/"+id+"/test", key)
	require.Equal(t, 202, a.status, "body %s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	m := a.json(t)
	assert.Equal(t, []string{"message_id"}, whapiKeysOf(m))
	msg, _ := m["message_id"].(string)
	assert.Regexp(t, whmTestMessageID, msg)
	return msg
}

func TestWebhookMorePatchEachField(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice := createKey(t, srv, "alice", false)
	w := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/a","events":["click"],"description":"CRM"}`)
	id := w["id"].(string)

	// {} and other bodies that change nothing: 200, nothing written.
	before := snapshot(t, srv)
	for _, body := range []string{`{}`, `{"rotate_secret":false}`, `{"url":null,"events":null,"description":null,"rotate_secret":null}`,
		`{"url":"https://hooks.example.com/a"}`, `{"events":["click","click"]}`, `{"description":"CRM"}`} {
		assert.Equal(t, w, whmPatchOK(t, e, alice, id, body), body)
	}
	assert.Equal(t, before, snapshot(t, srv), "no-op PATCHes write nothing")

	w = whmWith(w, "url", "https://hooks.example.com/b?x=1")
	assert.Equal(t, w, whmPatchOK(t, e, alice, id, `{"url":"https://hooks.example.com/b?x=1"}`))
	assert.Equal(t, w, whmGet(t, e, alice, id))

	w = whmWith(w, "events", []any{"click", "link.created", "link.deleted"})
	assert.Equal(t, w, whmPatchOK(t, e, alice, id, `{"events":["link.deleted","click","link.created","click"]}`), "the documented order, no duplicates")
	assert.Equal(t, w, whmGet(t, e, alice, id))

	w = whmWith(w, "description", "billing")
	assert.Equal(t, w, whmPatchOK(t, e, alice, id, `{"description":"billing"}`))
	assert.Equal(t, w, whmGet(t, e, alice, id))
	w = whmWith(w, "description", "")
	assert.Equal(t, w, whmPatchOK(t, e, alice, id, `{"description":""}`), `"" removes it`)
	assert.Equal(t, w, whmGet(t, e, alice, id))

	// All at once; the secret stays; Content-Type parameters are fine.
	w = whmWith(w, "url", "https://hooks.example.com/c", "events", []any{"link.updated"}, "description", "all")
	a := do(t, "PATCH", e.base+"/api/v1/webhooks/"+id, alice, "application/json; charset=utf-8",
		strings.NewReader(`{"url":"https://hooks.example.com/c","events":["link.updated"],"description":"all"}`))
	require.Equal(t, 200, a.status, "body %s", a.body)
	assert.Equal(t, w, a.json(t))
	assert.Equal(t, w, whmGet(t, e, alice, id))
	assert.Nil(t, w["previous_secret_expires_at"])

	// The list shows the change, without secrets.
	a = whapiCall(t, e, "GET", "", alice)
	require.Equal(t, 200, a.status)
	var list struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	require.NoError(t, json.Unmarshal(a.body, &list))
	require.Len(t, list.Webhooks, 1)
	noSecret := whmWith(w)
	delete(noSecret, "secret")
	assert.Equal(t, noSecret, list.Webhooks[0])
}

func TestWebhookMorePatchBadBodies(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv) // without --webhook-allow-private
	alice := createKey(t, srv, "alice", false)
	w := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/a","events":["click"],"description":"CRM"}`)
	id := w["id"].(string)
	before := snapshot(t, srv)
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		typ, detail             string // detail: "" = any
	}{
		{"empty url", "application/json", `{"url":""}`, 400, whapiProblemURL, "invalid webhook url: url is required"},
		{"ftp url", "application/json", `{"url":"ftp://x"}`, 400, whapiProblemURL, "invalid webhook url: url must be http or https"},
		{"loopback url", "application/json", `{"url":"http://127.0.0.1/x"}`, 400, whapiProblemURL, ""},
		{"private url", "application/json", `{"url":"http://10.1.2.3/x"}`, 400, whapiProblemURL, ""},
		{"localhost url", "application/json", `{"url":"http://localhost/x"}`, 400, whapiProblemURL, "invalid webhook url: url must not point at localhost"},
		{"userinfo url", "application/json", `{"url":"https://a:b@hooks.example.com/"}`, 400, whapiProblemURL, ""},
		{"fragment url", "application/json", `{"url":"https://hooks.example.com/#x"}`, 400, whapiProblemURL, ""},
		{"long url", "application/json", `{"url":"https://hooks.example.com/` + strings.Repeat("a", 2048) + `"}`, 400, whapiProblemURL, ""},
		{"url not a string", "application/json", `{"url":42}`, 400, whapiProblemBody, ""},
		{"empty events", "application/json", `{"events":[]}`, 400, whapiProblemBody, "invalid events: events must name at least one of click, link.created, link.updated, link.deleted"},
		{"unknown event", "application/json", `{"events":["click","link.exploded"]}`, 400, whapiProblemBody, ""},
		{"test event", "application/json", `{"events":["webhook.test"]}`, 400, whapiProblemBody, ""},
		{"events not a list", "application/json", `{"events":"click"}`, 400, whapiProblemBody, ""},
		{"long description", "application/json", `{"description":"` + strings.Repeat("d", 257) + `"}`, 400, whapiProblemBody, "description must be at most 256 bytes of printable text"},
		{"control description", "application/json", `{"description":"a\nb"}`, 400, whapiProblemBody, ""},
		{"description not a string", "application/json", `{"description":7}`, 400, whapiProblemBody, ""},
		{"rotate not a boolean", "application/json", `{"rotate_secret":"yes"}`, 400, whapiProblemBody, ""},
		{"rotate as 1", "application/json", `{"rotate_secret":1}`, 400, whapiProblemBody, ""},
		{"a secret", "application/json", `{"secret":"` + whapiSecret(32) + `"}`, 400, whapiProblemBody, ""},
		{"unknown field", "application/json", `{"description":"x","colour":"red"}`, 400, whapiProblemBody, ""},
		{"rotation with a bad url", "application/json", `{"rotate_secret":true,"url":"ftp://x"}`, 400, whapiProblemURL, ""},
		{"rotation with bad events", "application/json", `{"rotate_secret":true,"description":"ok","events":[]}`, 400, whapiProblemBody, ""},
		{"rotation with an unknown field", "application/json", `{"rotate_secret":true,"owner":"bob"}`, 400, whapiProblemBody, ""},
		{"two objects", "application/json", `{"description":"x"} {}`, 400, whapiProblemBody, "body must hold exactly one JSON object"},
		{"an array", "application/json", `[]`, 400, whapiProblemBody, ""},
		{"not JSON", "application/json", `{"description":`, 400, whapiProblemBody, ""},
		{"empty body", "application/json", ``, 400, whapiProblemBody, ""},
		{"text/plain", "text/plain", `{"description":"x"}`, 415, whapiProblemMediaType, ""},
		{"no content type", "", `{"rotate_secret":true}`, 415, whapiProblemMediaType, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, "PATCH", e.base+"/api/v1/webhooks/"+id, alice, c.contentType, strings.NewReader(c.body))
			assertProblem(t, a, c.status, c.typ)
			assert.NotContains(t, string(a.body), "whsec_")
			if c.detail != "" {
				var p whapiProblem
				require.NoError(t, json.Unmarshal(a.body, &p))
				assert.Equal(t, c.detail, p.Detail)
			}
		})
	}
	assert.Equal(t, before, snapshot(t, srv), "refused PATCHes change nothing in Redis")
	assert.Equal(t, w, whmGet(t, e, alice, id))

	// The same private targets are accepted where the edge allows them.
	open := startEdge(t, srv, "--webhook-allow-private")
	got := whmPatchOK(t, open, alice, id, `{"url":"http://127.0.0.1:9/x"}`)
	assert.Equal(t, "http://127.0.0.1:9/x", got["url"])
}

// TestWebhookMoreOtherOwners: another owner, an admin among them, can
// neither change nor test a webhook: 404, and nothing changes or is
// queued; ids of the wrong shape are 404 too.
func TestWebhookMoreOtherOwners(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	w := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/a","events":["click"]}`)
	id := w["id"].(string)
	whapiCreate(t, e, bob, `{"url":"https://hooks.example.com/bob","events":["click"]}`)
	before := snapshot(t, srv)
	for name, key := range map[string]string{"bob": bob, "admin": adminKey} {
		t.Run(name, func(t *testing.T) {
			for _, body := range []string{`{}`, `{"description":"mine now"}`, `{"rotate_secret":true}`, `{"url":"https://evil.example/"}`} {
				assertProblem(t, whmPatch(t, e, key, id, body), 404, whapiProblemNotFound)
			}
			assertProblem(t, whapiCall(t, e, "POST", "/"+id+"/test", key), 404, whapiProblemNotFound)
		})
	}
	for _, bad := range []string{"nope", "wh_0123", strings.ToUpper(id), id + "0", "wh_" + strings.Repeat("0", 24)} {
		assertProblem(t, whmPatch(t, e, alice, bad, `{"description":"x"}`), 404, whapiProblemNotFound)
		assertProblem(t, whapiCall(t, e, "POST", "/"+bad+"/test", alice), 404, whapiProblemNotFound)
	}
	// A bad body is refused as such, whoever's the id.
	assertProblem(t, whmPatch(t, e, bob, id, `{"colour":"red"}`), 400, whapiProblemBody)
	assert.Equal(t, before, snapshot(t, srv), "nothing changed, nothing queued")
	assert.Equal(t, w, whmGet(t, e, alice, id))
}

// TestWebhookMoreConcurrentPatches: PATCHes of different fields of one
// webhook sent at the same moment all take effect.
func TestWebhookMoreConcurrentPatches(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice := createKey(t, srv, "alice", false)
	id := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/a","events":["click"]}`)["id"].(string)
	events := [][]string{{"link.created"}, {"click", "link.updated"}, {"link.deleted"}}
	for round := range 20 {
		prev := whmGet(t, e, alice, id)
		url := fmt.Sprintf("https://hooks.example.com/r%d", round)
		desc := fmt.Sprintf("round %d", round)
		ev, _ := json.Marshal(events[round%3])
		bodies := []string{`{"url":"` + url + `"}`, `{"description":"` + desc + `"}`, `{"events":` + string(ev) + `}`, `{"rotate_secret":true}`}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				a := whmPatch(t, e, alice, id, b)
				assert.Equal(t, 200, a.status, "%s: %s", b, a.body)
			}()
		}
		close(start)
		wg.Wait()
		got := whmGet(t, e, alice, id)
		assert.Equal(t, url, got["url"], "round %d", round)
		assert.Equal(t, desc, got["description"], "round %d", round)
		var want []any
		for _, x := range events[round%3] {
			want = append(want, x)
		}
		assert.Equal(t, want, got["events"], "round %d", round)
		assert.NotEqual(t, prev["secret"], got["secret"], "round %d: rotated", round)
		assert.NotNil(t, got["previous_secret_expires_at"], "round %d", round)
	}
}

// whmSignatures splits a webhook-signature header and checks each part
// verifies with its secret, in order, and with no other.
func whmSignatures(t *testing.T, d whdDelivery, secrets ...string) {
	t.Helper()
	sigs := strings.Split(d.sig, " ")
	require.Len(t, sigs, len(secrets), "signatures in %q", d.sig)
	for i, s := range sigs {
		for j, secret := range secrets {
			err := webhook.Verify(secret, d.id, d.ts, s, d.body, time.Now(), time.Minute)
			if i == j {
				assert.NoError(t, err, "signature %d verifies with secret %d", i, j)
			} else {
				assert.ErrorIs(t, err, webhook.ErrSignature, "signature %d with secret %d", i, j)
			}
		}
	}
	for _, secret := range secrets {
		assert.NoError(t, webhook.Verify(secret, d.id, d.ts, d.sig, d.body, time.Now(), time.Minute), "the whole header verifies with every secret")
	}
}

// TestWebhookMoreRotation: a rotation answers a new secret and when the old
// one stops signing, never the old one; deliveries after it carry two
// signatures, the new secret's first, each verifying with its own secret.
func TestWebhookMoreRotation(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.healthy.Store(true)
	subs, _ := whdStartDispatcher(t, srv, "d1", true, 5)
	alice := createKey(t, srv, "alice", false)
	id, oldSecret := whdSubscribe(t, e, alice, rcv.srv.URL+"/r", "link.created")

	// Before: one signature.
	require.Equal(t, 201, createLink(t, e, alice, map[string]any{"url": "https://example.com/1"}).status)
	require.Eventually(t, func() bool { return len(rcv.got()) == 1 }, 10*time.Second, 10*time.Millisecond)
	whmSignatures(t, rcv.got()[0], oldSecret)

	before := time.Now().UTC().Truncate(time.Second)
	w := whmPatchOK(t, e, alice, id, `{"rotate_secret":true}`)
	after := time.Now().UTC()
	newSecret, _ := w["secret"].(string)
	assert.Regexp(t, whapiGeneratedSecret, newSecret)
	assert.NotEqual(t, oldSecret, newSecret)
	exp, _ := w["previous_secret_expires_at"].(string)
	expires, err := time.Parse(time.RFC3339, exp)
	require.NoError(t, err, "previous_secret_expires_at %v", w["previous_secret_expires_at"])
	assert.True(t, strings.HasSuffix(exp, "Z"))
	assert.WithinRange(t, expires, before.Add(24*time.Hour), after.Add(24*time.Hour))
	for _, path := range []string{"/" + id, ""} {
		a := whapiCall(t, e, "GET", path, alice)
		require.Equal(t, 200, a.status)
		assert.NotContains(t, string(a.body), oldSecret, "the previous secret is never shown")
		assert.Contains(t, string(a.body), `"previous_secret_expires_at":"`+exp+`"`)
	}
	assert.Equal(t, w, whmGet(t, e, alice, id))

	// The dispatcher sees the rotation (its cache is invalidated by Redis).
	require.Eventually(t, func() bool {
		s, err := subs.ForOwner(t.Context(), "alice")
		return err == nil && len(s) == 1 && s[0].Secret == newSecret
	}, 5*time.Second, 10*time.Millisecond)

	// After: an event and a test delivery, each with both signatures.
	require.Equal(t, 201, createLink(t, e, alice, map[string]any{"url": "https://example.com/2"}).status)
	msg := whmSendTest(t, e, alice, id)
	require.Eventually(t, func() bool { return len(rcv.got()) == 3 }, 10*time.Second, 10*time.Millisecond)
	var sawTest bool
	for _, d := range rcv.got()[1:] {
		whmSignatures(t, d, newSecret, oldSecret)
		sawTest = sawTest || d.id == msg
	}
	assert.True(t, sawTest, "the test delivery came")

	// Another change keeps the secrets as they are.
	w2 := whmPatchOK(t, e, alice, id, `{"description":"rotated"}`)
	assert.Equal(t, newSecret, w2["secret"])
	assert.Equal(t, exp, w2["previous_secret_expires_at"])

	// A second rotation: the first secret ends at once.
	w3 := whmPatchOK(t, e, alice, id, `{"rotate_secret":true}`)
	third := w3["secret"].(string)
	assert.NotContains(t, []string{oldSecret, newSecret}, third)
	require.Eventually(t, func() bool {
		s, err := subs.ForOwner(t.Context(), "alice")
		return err == nil && len(s) == 1 && s[0].Secret == third
	}, 5*time.Second, 10*time.Millisecond)
	whmSendTest(t, e, alice, id)
	require.Eventually(t, func() bool { return len(rcv.got()) == 4 }, 10*time.Second, 10*time.Millisecond)
	whmSignatures(t, rcv.got()[3], third, newSecret)
}

// TestWebhookMoreRotationGraceEnds: a dispatcher whose clock is past the
// 24 hours signs with the new secret only.
func TestWebhookMoreRotationGraceEnds(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.healthy.Store(true)
	const ahead = 24*time.Hour + time.Minute
	subs, _ := whdStartDispatcher(t, srv, "d1", true, 5, func(c *webhook.DispatcherConfig) {
		c.Now = func() time.Time { return time.Now().Add(ahead) }
	})
	alice := createKey(t, srv, "alice", false)
	id, oldSecret := whdSubscribe(t, e, alice, rcv.srv.URL+"/g", "click")
	newSecret := whmPatchOK(t, e, alice, id, `{"rotate_secret":true}`)["secret"].(string)
	require.Eventually(t, func() bool {
		s, err := subs.ForOwner(t.Context(), "alice")
		return err == nil && len(s) == 1 && s[0].Secret == newSecret
	}, 5*time.Second, 10*time.Millisecond)
	whmSendTest(t, e, alice, id)
	require.Eventually(t, func() bool { return len(rcv.got()) == 1 }, 10*time.Second, 10*time.Millisecond)
	d := rcv.got()[0]
	assert.NotContains(t, d.sig, " ", "one signature")
	now := time.Now().Add(ahead)
	assert.NoError(t, webhook.Verify(newSecret, d.id, d.ts, d.sig, d.body, now, time.Minute))
	assert.ErrorIs(t, webhook.Verify(oldSecret, d.id, d.ts, d.sig, d.body, now, time.Minute), webhook.ErrSignature)
}

// TestWebhookMoreTestDelivery: POST /test queues one webhook.test delivery
// for that webhook only (even one not subscribed to anything like it), and
// a real receiver gets it once, signed.
func TestWebhookMoreTestDelivery(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.healthy.Store(true)
	_, reg := whdStartDispatcher(t, srv, "d1", true, 5)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	id, secret := whdSubscribe(t, e, alice, rcv.srv.URL+"/tested", "link.deleted")
	whdSubscribe(t, e, alice, rcv.srv.URL+"/sibling", "click", "link.created", "link.updated", "link.deleted")
	whdSubscribe(t, e, bob, rcv.srv.URL+"/bob", "click", "link.created", "link.updated", "link.deleted")

	sent := time.Now()
	msg := whmSendTest(t, e, alice, id)
	require.Eventually(t, func() bool { return len(rcv.got()) >= 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // a duplicate or a stray delivery would have come by now
	got := rcv.got()
	require.Len(t, got, 1, "exactly one delivery, to the tested webhook only")
	d := got[0]
	assert.Equal(t, "/tested", d.path)
	assert.Equal(t, msg, d.id)
	assert.NoError(t, webhook.Verify(secret, d.id, d.ts, d.sig, d.body, time.Now(), time.Minute))
	var env struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(d.body, &env), "%s", d.body)
	assert.Equal(t, "webhook.test", env.Type)
	assert.Equal(t, map[string]any{"webhook_id": id}, env.Data)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, env.Timestamp)
	ts, err := time.Parse(time.RFC3339, env.Timestamp)
	require.NoError(t, err)
	assert.WithinRange(t, ts, sent.Add(-time.Second), time.Now())
	assert.JSONEq(t, `{"type":"webhook.test","timestamp":"`+env.Timestamp+`","data":{"webhook_id":"`+id+`"}}`, string(d.body))

	q, dead := whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(0), dead)
	assert.Equal(t, float64(1), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "delivered"))

	// Each call is a new delivery.
	other := whmSendTest(t, e, alice, id)
	assert.NotEqual(t, msg, other)
	require.Eventually(t, func() bool { return len(rcv.got()) == 2 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, other, rcv.got()[1].id)
}

// TestWebhookMoreTestDeadLetter: a test delivery to a receiver that always
// fails is retried, then kept as a dead letter like any delivery; a
// replay after the receiver recovers delivers it once.
func TestWebhookMoreTestDeadLetter(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv, "--webhook-allow-private")
	rcv := whdStartReceiver(t, time.Second)
	rcv.failMode = []string{"500"}
	_, reg := whdStartDispatcher(t, srv, "d1", true, 2)
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	alice := createKey(t, srv, "alice", false)
	id, secret := whdSubscribe(t, e, alice, rcv.srv.URL+"/down", "click")

	msg := whmSendTest(t, e, alice, id)
	var dls []webhook.DeadLetter
	require.Eventually(t, func() bool {
		a := whapiCall(t, e, "GET", "/"+id+"/dead-letters", alice)
		if a.status != 200 {
			return false
		}
		var out struct {
			DeadLetters []webhook.DeadLetter `json:"dead_letters"`
		}
		require.NoError(t, json.Unmarshal(a.body, &out))
		dls = out.DeadLetters
		return len(dls) == 1
	}, 10*time.Second, 10*time.Millisecond)
	dl := dls[0]
	assert.Equal(t, msg, dl.MessageID)
	assert.Equal(t, "webhook.test", dl.Type)
	assert.Equal(t, 2, dl.Attempts)
	require.NotNil(t, dl.LastStatus)
	assert.Equal(t, 500, *dl.LastStatus)
	assert.Equal(t, "HTTP 500: nope", dl.LastError)
	assert.JSONEq(t, `{"webhook_id":"`+id+`"}`, string(whmField(t, dl.Payload, "data")))
	assert.Equal(t, int64(2), rcv.tries.Load(), "tried twice")
	q, dead := whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(1), dead)
	assert.Equal(t, float64(1), whdCounter(t, reg, "shortener_worker_webhook_deliveries_total", "dead_letter"))

	rcv.healthy.Store(true)
	a := whapiCall(t, e, "POST", "/"+id+"/replay", alice)
	require.Equal(t, 202, a.status, "body %s", a.body)
	assert.JSONEq(t, `{"replayed":1}`, string(a.body))
	require.Eventually(t, func() bool { return len(rcv.got()) == 1 }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	got := rcv.got()
	require.Len(t, got, 1)
	assert.Equal(t, msg, got[0].id, "the same webhook-id")
	assert.NoError(t, webhook.Verify(secret, got[0].id, got[0].ts, got[0].sig, got[0].body, time.Now(), time.Minute))
	q, dead = whdQueued(t, srv.Client(t), ks)
	assert.Equal(t, int64(0), q)
	assert.Equal(t, int64(0), dead)
}

// whmField returns one field of a JSON object.
func whmField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s", raw)
	return m[name]
}
