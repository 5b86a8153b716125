package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

const (
	whapiProblemNotFound  = "urn:shortener:problem:not-found"
	whapiProblemURL       = "urn:shortener:problem:invalid-url"
	whapiProblemBody      = "urn:shortener:problem:invalid-body"
	whapiProblemParam     = "urn:shortener:problem:invalid-parameter"
	whapiProblemAuth      = "urn:shortener:problem:unauthorized"
	whapiProblemConflict  = "urn:shortener:problem:conflict"
	whapiProblemMediaType = "urn:shortener:problem:unsupported-media-type"
	whapiProblemMethod    = "urn:shortener:problem:method-not-allowed"
)

var (
	whapiIDPattern        = regexp.MustCompile(`^wh_[0-9a-f]{24}$`)
	whapiGeneratedSecret  = regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{43}=$`)
	whapiWebhookKeys      = []string{"id", "url", "events", "description", "owner", "created_at", "previous_secret_expires_at", "secret"}
	whapiWebhookKeysNoSec = []string{"id", "url", "events", "description", "owner", "created_at", "previous_secret_expires_at"}
)

// whapiPost posts a JSON body to /api/v1/webhooks.
func whapiPost(t *testing.T, e *edgeProc, key, body string) answer {
	t.Helper()
	return do(t, "POST", e.base+"/api/v1/webhooks", key, "application/json", strings.NewReader(body))
}

// whapiCall sends a body-less request to an /api/v1/webhooks path.
func whapiCall(t *testing.T, e *edgeProc, method, path, key string) answer {
	t.Helper()
	return do(t, method, e.base+"/api/v1/webhooks"+path, key, "", nil)
}

// whapiSecret is a valid secret of n random bytes.
func whapiSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// whapiKeysOf returns the keys of a JSON object, sorted.
func whapiKeysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func whapiSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// whapiCreate creates a webhook and returns its JSON object.
func whapiCreate(t *testing.T, e *edgeProc, key, body string) map[string]any {
	t.Helper()
	a := whapiPost(t, e, key, body)
	require.Equal(t, 201, a.status, "body %s", a.body)
	return a.json(t)
}

func TestWebhookAPICreateListGetDelete(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)

	// A generated secret.
	before := time.Now().UTC().Truncate(time.Second)
	a := whapiPost(t, e, alice, `{"url":"https://hooks.example.com/a?x=1","events":["link.created","click","click"],"description":"CRM sync"}`)
	require.Equal(t, 201, a.status, "body %s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	first := a.json(t)
	assert.Equal(t, whapiSorted(whapiWebhookKeys), whapiKeysOf(first))
	id1, _ := first["id"].(string)
	assert.Regexp(t, whapiIDPattern, id1)
	assert.Equal(t, "/api/v1/webhooks/"+id1, a.header.Get("Location"))
	assert.Equal(t, "https://hooks.example.com/a?x=1", first["url"])
	assert.Equal(t, []any{"click", "link.created"}, first["events"], "the documented order, no duplicates")
	assert.Equal(t, "CRM sync", first["description"])
	assert.Equal(t, "alice", first["owner"])
	assert.Regexp(t, whapiGeneratedSecret, first["secret"])
	created, err := time.Parse(time.RFC3339, first["created_at"].(string))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(first["created_at"].(string), "Z"), "UTC")
	assert.Equal(t, created.Truncate(time.Second), created, "to the second")
	assert.WithinRange(t, created, before, time.Now().Add(time.Second))
	assert.Nil(t, first["previous_secret_expires_at"], "never rotated")

	// A given secret, kept as is; no description.
	given := whapiSecret(48)
	a = whapiPost(t, e, alice, `{"url":"https://hooks.example.com/b","events":["link.deleted"],"secret":"`+given+`"}`)
	require.Equal(t, 201, a.status, "body %s", a.body)
	second := a.json(t)
	id2 := second["id"].(string)
	assert.Regexp(t, whapiIDPattern, id2)
	assert.NotEqual(t, id1, id2)
	assert.Equal(t, "/api/v1/webhooks/"+id2, a.header.Get("Location"))
	assert.Equal(t, given, second["secret"])
	assert.Equal(t, "", second["description"])
	assert.Equal(t, []any{"link.deleted"}, second["events"])

	// The list: oldest first (ties by id), never a secret.
	a = whapiCall(t, e, "GET", "", alice)
	require.Equal(t, 200, a.status, "body %s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.NotContains(t, string(a.body), "whsec_")
	assert.Equal(t, []string{"webhooks"}, whapiKeysOf(a.json(t)))
	var list map[string][]map[string]any
	require.NoError(t, json.Unmarshal(a.body, &list))
	require.Len(t, list["webhooks"], 2)
	want := []map[string]any{first, second}
	slices.SortFunc(want, func(x, y map[string]any) int {
		if c := strings.Compare(x["created_at"].(string), y["created_at"].(string)); c != 0 {
			return c
		}
		return strings.Compare(x["id"].(string), y["id"].(string))
	})
	for i, w := range list["webhooks"] {
		assert.Equal(t, whapiSorted(whapiWebhookKeysNoSec), whapiKeysOf(w), "list item %d", i)
		expect := map[string]any{}
		for k, v := range want[i] {
			if k != "secret" {
				expect[k] = v
			}
		}
		assert.Equal(t, expect, w, "list item %d", i)
	}

	// One webhook, its secret included.
	for _, w := range []map[string]any{first, second} {
		a = whapiCall(t, e, "GET", "/"+w["id"].(string), alice)
		require.Equal(t, 200, a.status, "body %s", a.body)
		assert.Equal(t, w, a.json(t))
	}

	// Another owner, and an admin, see nothing of alice's.
	for name, key := range map[string]string{"bob": bob, "admin": adminKey} {
		t.Run("as "+name, func(t *testing.T) {
			a := whapiCall(t, e, "GET", "", key)
			require.Equal(t, 200, a.status, "body %s", a.body)
			assert.JSONEq(t, `{"webhooks":[]}`, string(a.body))
			assertProblem(t, whapiCall(t, e, "GET", "/"+id1, key), 404, whapiProblemNotFound)
			assertProblem(t, whapiCall(t, e, "DELETE", "/"+id1, key), 404, whapiProblemNotFound)
			assertProblem(t, whapiCall(t, e, "GET", "/"+id1+"/dead-letters", key), 404, whapiProblemNotFound)
			assertProblem(t, whapiCall(t, e, "POST", "/"+id1+"/replay", key), 404, whapiProblemNotFound)
		})
	}
	a = whapiCall(t, e, "GET", "/"+id1, alice)
	require.Equal(t, 200, a.status, "another owner's delete changed nothing")
	assert.Equal(t, first, a.json(t))

	// Ids of the wrong shape are not found.
	for _, bad := range []string{"nope", "wh_0123", strings.ToUpper(id1), id1 + "0", "wh_" + strings.Repeat("z", 24)} {
		assertProblem(t, whapiCall(t, e, "GET", "/"+bad, alice), 404, whapiProblemNotFound)
		assertProblem(t, whapiCall(t, e, "DELETE", "/"+bad, alice), 404, whapiProblemNotFound)
	}

	// Delete, then it is gone everywhere.
	a = whapiCall(t, e, "DELETE", "/"+id1, alice)
	assert.Equal(t, 204, a.status, "body %s", a.body)
	assert.Empty(t, a.body)
	assertProblem(t, whapiCall(t, e, "GET", "/"+id1, alice), 404, whapiProblemNotFound)
	assertProblem(t, whapiCall(t, e, "DELETE", "/"+id1, alice), 404, whapiProblemNotFound)
	assertProblem(t, whapiCall(t, e, "GET", "/"+id1+"/dead-letters", alice), 404, whapiProblemNotFound)
	assertProblem(t, whapiCall(t, e, "POST", "/"+id1+"/replay", alice), 404, whapiProblemNotFound)
	a = whapiCall(t, e, "GET", "", alice)
	require.Equal(t, 200, a.status)
	require.NoError(t, json.Unmarshal(a.body, &list))
	require.Len(t, list["webhooks"], 1)
	assert.Equal(t, id2, list["webhooks"][0]["id"])
}

func TestWebhookAPIAnonymous(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv) // anonymous link creation allowed: webhooks still need a key
	alice := createKey(t, srv, "alice", false)
	id := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/","events":["click"]}`)["id"].(string)
	before := snapshot(t, srv)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "", ""},
		{"POST", "", `{"url":"https://hooks.example.com/","events":["click"]}`},
		{"GET", "/" + id, ""},
		{"DELETE", "/" + id, ""},
		{"PATCH", "/" + id, `{"description":"x"}`},
		{"PATCH", "/" + id, `{"rotate_secret":true}`},
		{"GET", "/" + id + "/dead-letters", ""},
		{"POST", "/" + id + "/replay", ""},
		{"POST", "/" + id + "/test", ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			a := do(t, c.method, e.base+"/api/v1/webhooks"+c.path, "", "application/json", strings.NewReader(c.body))
			assertProblem(t, a, 401, whapiProblemAuth)
			assert.Equal(t, `Bearer realm="shortener"`, a.header.Get("WWW-Authenticate"))
			a = do(t, c.method, e.base+"/api/v1/webhooks"+c.path, "sk_unknown", "application/json", strings.NewReader(c.body))
			assertProblem(t, a, 401, whapiProblemAuth)
		})
	}
	assert.Equal(t, before, snapshot(t, srv), "refused calls change nothing")
	assert.Equal(t, 200, whapiCall(t, e, "GET", "/"+id, alice).status)
}

func TestWebhookAPIBadBodies(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv) // without --webhook-allow-private
	alice := createKey(t, srv, "alice", false)
	before := snapshot(t, srv)
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		typ, detail             string // detail: "" = any
	}{
		{"no url", "application/json", `{"events":["click"]}`, 400, whapiProblemURL, "url is required"},
		{"null url", "application/json", `{"url":null,"events":["click"]}`, 400, whapiProblemURL, "url is required"},
		{"empty url", "application/json", `{"url":"","events":["click"]}`, 400, whapiProblemURL, ""},
		{"ftp url", "application/json", `{"url":"ftp://x","events":["click"]}`, 400, whapiProblemURL, "invalid webhook url: url must be http or https"},
		{"loopback url", "application/json", `{"url":"http://127.0.0.1/x","events":["click"]}`, 400, whapiProblemURL, ""},
		{"private url", "application/json", `{"url":"http://10.1.2.3/x","events":["click"]}`, 400, whapiProblemURL, ""},
		{"localhost url", "application/json", `{"url":"http://localhost/x","events":["click"]}`, 400, whapiProblemURL, "invalid webhook url: url must not point at localhost"},
		{"userinfo url", "application/json", `{"url":"https://a:b@hooks.example.com/","events":["click"]}`, 400, whapiProblemURL, ""},
		{"unknown event", "application/json", `{"url":"https://hooks.example.com/","events":["click","link.exploded"]}`, 400, whapiProblemBody, ""},
		{"empty events", "application/json", `{"url":"https://hooks.example.com/","events":[]}`, 400, whapiProblemBody, ""},
		{"no events", "application/json", `{"url":"https://hooks.example.com/"}`, 400, whapiProblemBody, ""},
		{"events not a list", "application/json", `{"url":"https://hooks.example.com/","events":"click"}`, 400, whapiProblemBody, ""},
		{"url not a string", "application/json", `{"url":42,"events":["click"]}`, 400, whapiProblemBody, ""},
		{"secret without prefix", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"secret":"` + strings.TrimPrefix(whapiSecret(32), "whsec_") + `"}`, 400, whapiProblemBody, ""},
		{"secret too short", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"secret":"` + whapiSecret(16) + `"}`, 400, whapiProblemBody, "invalid secret: secret must hold 24 to 64 bytes, got 16"},
		{"secret too long", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"secret":"` + whapiSecret(65) + `"}`, 400, whapiProblemBody, ""},
		{"secret not base64", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"secret":"whsec_!!!!"}`, 400, whapiProblemBody, ""},
		{"long description", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"description":"` + strings.Repeat("d", 257) + `"}`, 400, whapiProblemBody, ""},
		{"unknown field", "application/json", `{"url":"https://hooks.example.com/","events":["click"],"colour":"red"}`, 400, whapiProblemBody, ""},
		{"two objects", "application/json", `{"url":"https://hooks.example.com/","events":["click"]} {}`, 400, whapiProblemBody, ""},
		{"not JSON", "application/json", `{"url":`, 400, whapiProblemBody, ""},
		{"empty body", "application/json", ``, 400, whapiProblemBody, ""},
		{"text/plain", "text/plain", `{"url":"https://hooks.example.com/","events":["click"]}`, 415, whapiProblemMediaType, ""},
		{"no content type", "", `{"url":"https://hooks.example.com/","events":["click"]}`, 415, whapiProblemMediaType, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := do(t, "POST", e.base+"/api/v1/webhooks", alice, c.contentType, strings.NewReader(c.body))
			assertProblem(t, a, c.status, c.typ)
			assert.Empty(t, a.header.Get("Location"))
			if c.detail != "" {
				var p whapiProblem
				require.NoError(t, json.Unmarshal(a.body, &p))
				assert.Equal(t, c.detail, p.Detail)
			}
		})
	}
	assert.Equal(t, before, snapshot(t, srv), "refused creates leave no key in Redis")
	a := whapiCall(t, e, "GET", "", alice)
	require.Equal(t, 200, a.status)
	assert.JSONEq(t, `{"webhooks":[]}`, string(a.body))

	// The same private targets are accepted where the edge allows them.
	open := startEdge(t, srv, "--webhook-allow-private")
	for _, u := range []string{"http://127.0.0.1/x", "http://localhost/x", "http://10.1.2.3/x"} {
		w := whapiCreate(t, open, alice, `{"url":"`+u+`","events":["click"]}`)
		assert.Equal(t, u, w["url"])
	}
	assertProblem(t, whapiPost(t, open, alice, `{"url":"ftp://x","events":["click"]}`), 400, whapiProblemURL)
}

// whapiProblem is a problem document.
type whapiProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func TestWebhookAPITooMany(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	var ids []string
	for i := range 25 {
		w := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/`+strconv.Itoa(i)+`","events":["click"]}`)
		ids = append(ids, w["id"].(string))
	}
	before := snapshot(t, srv)
	a := whapiPost(t, e, alice, `{"url":"https://hooks.example.com/26","events":["click"]}`)
	assertProblem(t, a, 409, whapiProblemConflict)
	var p whapiProblem
	require.NoError(t, json.Unmarshal(a.body, &p))
	assert.Equal(t, "an owner may have at most 25 webhooks", p.Detail)
	assert.Equal(t, before, snapshot(t, srv), "the refused create wrote nothing")

	a = whapiCall(t, e, "GET", "", alice)
	require.Equal(t, 200, a.status)
	var list struct {
		Webhooks []struct {
			ID string `json:"id"`
		} `json:"webhooks"`
	}
	require.NoError(t, json.Unmarshal(a.body, &list))
	assert.Len(t, list.Webhooks, 25)

	// The limit is per owner, and a delete makes room.
	whapiCreate(t, e, bob, `{"url":"https://hooks.example.com/bob","events":["click"]}`)
	require.Equal(t, 204, whapiCall(t, e, "DELETE", "/"+ids[3], alice).status)
	whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/26","events":["click"]}`)
	assertProblem(t, whapiPost(t, e, alice, `{"url":"https://hooks.example.com/27","events":["click"]}`), 409, whapiProblemConflict)
}

func TestWebhookAPIDeadLettersAndReplay(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice, bob := createKey(t, srv, "alice", false), createKey(t, srv, "bob", false)
	id := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/","events":["click","link.deleted"]}`)["id"].(string)
	dl := "/" + id + "/dead-letters"

	// A fresh webhook.
	for _, q := range []string{"", "?limit=1", "?limit=1000"} {
		a := whapiCall(t, e, "GET", dl+q, alice)
		require.Equal(t, 200, a.status, "body %s", a.body)
		assert.Equal(t, "application/json", a.header.Get("Content-Type"))
		assert.JSONEq(t, `{"dead_letters":[]}`, string(a.body))
	}
	a := whapiCall(t, e, "POST", "/"+id+"/replay", alice)
	require.Equal(t, 202, a.status, "body %s", a.body)
	assert.Equal(t, "application/json", a.header.Get("Content-Type"))
	assert.JSONEq(t, `{"replayed":0}`, string(a.body))

	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?limit=-1", "?limit=1.5", "?limit=%20"} {
		a := whapiCall(t, e, "GET", dl+q, alice)
		assertProblem(t, a, 400, whapiProblemParam)
		var p whapiProblem
		require.NoError(t, json.Unmarshal(a.body, &p))
		assert.Equal(t, "limit must be a whole number from 1 to 1000", p.Detail, q)
	}
	assertProblem(t, whapiCall(t, e, "GET", dl+"?limit=0", ""), 401, whapiProblemAuth)

	// Dead letters as the dispatcher stores them (see webhook.deadScript):
	// one entry per failed delivery in a partition's dead-letter stream.
	ks, err := redisx.NewKeyspace(srv.Prefix, redisx.DefaultPartitions)
	require.NoError(t, err)
	c := srv.Client(t)
	ctx := context.Background()
	failed := time.Date(2026, 12, 5, 2, 13, 7, 412e6, time.UTC)
	payload := `{"type":"click","timestamp":"2026-12-04T16:00:00.000Z","data":{"code":"launch"}}`
	jobs := []struct {
		p   int
		job map[string]any
	}{
		{3, map[string]any{"s": id, "o": "alice", "m": "evt_3_1-0", "t": "click", "b": payload, "n": 10, "c": 500, "e": "HTTP 500: boom", "f": failed.UnixMilli()}},
		{0, map[string]any{"s": id, "o": "alice", "m": "evt_0_2-0", "t": "link.deleted", "b": `{"type":"link.deleted","timestamp":"2026-12-04T16:00:01.000Z","data":{}}`, "n": 10, "e": "connection refused", "f": failed.Add(time.Minute).UnixMilli()}},
		// another webhook's, and another owner's: never shown
		{3, map[string]any{"s": "wh_" + strings.Repeat("0", 24), "o": "alice", "m": "evt_3_3-0", "t": "click", "b": payload, "n": 10, "f": failed.UnixMilli()}},
		{3, map[string]any{"s": id, "o": "bob", "m": "evt_3_4-0", "t": "click", "b": payload, "n": 10, "f": failed.UnixMilli()}},
	}
	for _, j := range jobs {
		b, err := json.Marshal(j.job)
		require.NoError(t, err)
		require.NoError(t, c.Do(ctx, c.B().Xadd().Key(ks.WebhookDeadLetter(j.p)).Id("*").FieldValue().FieldValue("j", string(b)).Build()).Error())
	}
	a = whapiCall(t, e, "GET", dl, alice)
	require.Equal(t, 200, a.status, "body %s", a.body)
	assert.JSONEq(t, `{"dead_letters":[
		{"message_id":"evt_0_2-0","type":"link.deleted","attempts":10,"last_status":null,"last_error":"connection refused",
		 "failed_at":"2026-12-05T02:14:07.412Z","payload":{"type":"link.deleted","timestamp":"2026-12-04T16:00:01.000Z","data":{}}},
		{"message_id":"evt_3_1-0","type":"click","attempts":10,"last_status":500,"last_error":"HTTP 500: boom",
		 "failed_at":"2026-12-05T02:13:07.412Z","payload":`+payload+`}
	]}`, string(a.body))
	a = whapiCall(t, e, "GET", dl+"?limit=1", alice)
	require.Equal(t, 200, a.status)
	var page struct {
		DeadLetters []map[string]any `json:"dead_letters"`
	}
	require.NoError(t, json.Unmarshal(a.body, &page))
	require.Len(t, page.DeadLetters, 1)
	assert.Equal(t, "evt_0_2-0", page.DeadLetters[0]["message_id"], "most recent failure first")
	assertProblem(t, whapiCall(t, e, "GET", dl, bob), 404, whapiProblemNotFound)
	assertProblem(t, whapiCall(t, e, "POST", "/"+id+"/replay", bob), 404, whapiProblemNotFound)

	// Replay queues alice's two again and leaves the others.
	a = whapiCall(t, e, "POST", "/"+id+"/replay", alice)
	require.Equal(t, 202, a.status, "body %s", a.body)
	assert.JSONEq(t, `{"replayed":2}`, string(a.body))
	a = whapiCall(t, e, "GET", dl, alice)
	require.Equal(t, 200, a.status)
	assert.JSONEq(t, `{"dead_letters":[]}`, string(a.body))
	queued := 0
	for p := 0; p < ks.Partitions; p++ {
		n, err := c.Do(ctx, c.B().Zcard().Key(ks.WebhookQueue(p)).Build()).AsInt64()
		require.NoError(t, err)
		queued += int(n)
	}
	assert.Equal(t, 2, queued, "both replayed deliveries are queued")
	n, err := c.Do(ctx, c.B().Xlen().Key(ks.WebhookDeadLetter(3)).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n, "the other webhook's and the other owner's dead letters stay")
	a = whapiCall(t, e, "POST", "/"+id+"/replay", alice)
	require.Equal(t, 202, a.status)
	assert.JSONEq(t, `{"replayed":0}`, string(a.body))
}

func TestWebhookAPIWrongMethod(t *testing.T) {
	srv := redistest.Start(t)
	e := startEdge(t, srv)
	alice := createKey(t, srv, "alice", false)
	id := whapiCreate(t, e, alice, `{"url":"https://hooks.example.com/","events":["click"]}`)["id"].(string)
	before := snapshot(t, srv)
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "", "GET, POST"},
		{"PATCH", "", "GET, POST"},
		{"DELETE", "", "GET, POST"},
		{"HEAD", "", "GET, POST"},
		{"POST", "/" + id, "GET, PATCH, DELETE"},
		{"PUT", "/" + id, "GET, PATCH, DELETE"},
		{"HEAD", "/" + id, "GET, PATCH, DELETE"},
		{"POST", "/" + id + "/dead-letters", "GET"},
		{"DELETE", "/" + id + "/dead-letters", "GET"},
		{"HEAD", "/" + id + "/dead-letters", "GET"},
		{"GET", "/" + id + "/replay", "POST"},
		{"PUT", "/" + id + "/replay", "POST"},
		{"DELETE", "/" + id + "/replay", "POST"},
		{"GET", "/" + id + "/test", "POST"},
		{"PATCH", "/" + id + "/test", "POST"},
		{"HEAD", "/" + id + "/test", "POST"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			for _, key := range []string{alice, ""} {
				a := whapiCall(t, e, c.method, c.path, key)
				assert.Equal(t, 405, a.status, "body %s", a.body)
				assert.Equal(t, c.allow, a.header.Get("Allow"))
				if c.method != "HEAD" {
					assertProblem(t, a, 405, whapiProblemMethod)
					var p whapiProblem
					require.NoError(t, json.Unmarshal(a.body, &p))
					assert.Equal(t, "allowed: "+c.allow, p.Detail)
				}
			}
		})
	}
	assertProblem(t, whapiCall(t, e, "GET", "/"+id+"/nope", alice), 404, whapiProblemNotFound)
	assert.Equal(t, before, snapshot(t, srv), "refused methods change nothing")
	assert.Equal(t, 200, whapiCall(t, e, "GET", "/"+id, alice).status)
}
