package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
	"github.com/shortener/shortener/pkg/useragent"
)

// redisState is every key of the test's prefix with its DUMP: equal
// states hold the same keys and values.
func redisState(t *testing.T, srv *redistest.Server, c rueidis.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range srv.Keys(t, c) {
		v, err := c.Do(context.Background(), c.B().Dump().Key(k).Build()).ToString()
		require.NoError(t, err)
		out[k] = v
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func newTestRegistry(t *testing.T, at *time.Time) (*Registry, *redistest.Server, rueidis.Client, redisx.Keyspace) {
	t.Helper()
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 4)
	require.NoError(t, err)
	c := srv.Client(t)
	return NewRegistry(c, RegistryConfig{Keys: ks, Now: func() time.Time { return *at }}), srv, c, ks
}

func TestRegistryUpdate(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r, srv, c, _ := newTestRegistry(t, &at)
	ctx := context.Background()
	s, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/a", Events: []string{"click"}, Description: "crm"})
	require.NoError(t, err)
	stored := func() Subscription {
		got, err := r.Get(ctx, "alice", s.ID)
		require.NoError(t, err)
		return got
	}

	// Nothing to change writes nothing.
	before := redisState(t, srv, c)
	for name, req := range map[string]UpdateRequest{
		"empty":            {},
		"same url":         {URL: ptr(s.URL)},
		"same events":      {Events: &[]string{"click", "click"}},
		"same description": {Description: ptr("crm")},
	} {
		got, err := r.Update(ctx, "alice", s.ID, req)
		require.NoError(t, err, name)
		assert.Equal(t, s, got, name)
	}
	assert.Equal(t, before, redisState(t, srv, c), "no-op updates write nothing")

	// Each field alone.
	got, err := r.Update(ctx, "alice", s.ID, UpdateRequest{URL: ptr("https://hooks.example.com/b?x=1")})
	require.NoError(t, err)
	want := s
	want.URL = "https://hooks.example.com/b?x=1"
	assert.Equal(t, want, got)
	assert.Equal(t, want, stored())
	got, err = r.Update(ctx, "alice", s.ID, UpdateRequest{Events: &[]string{"link.deleted", "click", "link.deleted"}})
	require.NoError(t, err)
	want.Events = []string{"click", "link.deleted"}
	assert.Equal(t, want, got, "events deduplicated, in the documented order")
	assert.Equal(t, want, stored())
	got, err = r.Update(ctx, "alice", s.ID, UpdateRequest{Description: ptr("")})
	require.NoError(t, err)
	want.Description = ""
	assert.Equal(t, want, got)
	assert.Equal(t, want, stored())
	assert.Equal(t, s.Secret, got.Secret)
	assert.Empty(t, got.PreviousSecret)
	assert.True(t, got.PreviousSecretExpiresAt.IsZero())
	// The dispatcher's cached view follows (Redis invalidates it).
	require.Eventually(t, func() bool {
		subs, err := r.ForOwner(ctx, "alice")
		return err == nil && len(subs) == 1 && subs[0].URL == want.URL && subs[0].Description == ""
	}, 5*time.Second, 10*time.Millisecond)

	// A rotation keeps the old secret for SecretGrace.
	at = at.Add(time.Hour + 500*time.Millisecond)
	first := got.Secret
	got, err = r.Update(ctx, "alice", s.ID, UpdateRequest{RotateSecret: true, Description: ptr("rotated")})
	require.NoError(t, err)
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, got.Secret)
	assert.NotEqual(t, first, got.Secret)
	assert.Equal(t, first, got.PreviousSecret)
	grace := time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)
	assert.Equal(t, grace, got.PreviousSecretExpiresAt, "to the second, 24 h on")
	assert.Equal(t, "rotated", got.Description)
	assert.Equal(t, got, stored())
	assert.Equal(t, first, got.ActivePreviousSecret(grace.Add(-time.Second)))
	assert.Equal(t, "", got.ActivePreviousSecret(grace))
	rec, err := c.Do(ctx, c.B().Hget().Key(r.cfg.Keys.Webhooks("alice")).Field(s.ID).Build()).ToString()
	require.NoError(t, err)
	assert.Contains(t, rec, `"previous_secret":"`+first+`"`)
	assert.Contains(t, rec, `"previous_secret_expires_at":"2026-12-05T11:00:00Z"`)

	// A second rotation within the grace ends the first secret at once.
	at = at.Add(time.Hour)
	second := got.Secret
	got, err = r.Update(ctx, "alice", s.ID, UpdateRequest{RotateSecret: true})
	require.NoError(t, err)
	assert.NotContains(t, []string{first, second}, got.Secret)
	assert.Equal(t, second, got.PreviousSecret)
	assert.Equal(t, grace.Add(time.Hour), got.PreviousSecretExpiresAt)

	// Past the grace, the next change drops the previous secret; {} still
	// changes nothing.
	at = at.Add(SecretGrace)
	before = redisState(t, srv, c)
	again, err := r.Update(ctx, "alice", s.ID, UpdateRequest{})
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.Equal(t, before, redisState(t, srv, c))
	third := got.Secret
	got, err = r.Update(ctx, "alice", s.ID, UpdateRequest{Description: ptr("later")})
	require.NoError(t, err)
	assert.Equal(t, third, got.Secret)
	assert.Empty(t, got.PreviousSecret)
	assert.True(t, got.PreviousSecretExpiresAt.IsZero())
	assert.Equal(t, got, stored())
	rec, err = c.Do(ctx, c.B().Hget().Key(r.cfg.Keys.Webhooks("alice")).Field(s.ID).Build()).ToString()
	require.NoError(t, err)
	assert.NotContains(t, rec, "previous_secret")

	// Refusals write nothing, the rotation included.
	before = redisState(t, srv, c)
	for name, c := range map[string]struct {
		req  UpdateRequest
		kind error
	}{
		"empty url":      {UpdateRequest{URL: ptr(""), RotateSecret: true}, ErrURL},
		"private url":    {UpdateRequest{URL: ptr("http://10.0.0.1/"), Description: ptr("x")}, ErrURL},
		"ftp url":        {UpdateRequest{URL: ptr("ftp://h.example/")}, ErrURL},
		"no events":      {UpdateRequest{Events: &[]string{}, RotateSecret: true}, ErrEvents},
		"unknown event":  {UpdateRequest{Events: &[]string{"click", "webhook.test"}}, ErrEvents},
		"long desc":      {UpdateRequest{Description: ptr(strings.Repeat("d", MaxDescription+1))}, ErrDescription},
		"control desc":   {UpdateRequest{Description: ptr("a\x7fb"), URL: ptr("https://h.example/ok")}, ErrDescription},
		"another owner":  {UpdateRequest{Description: ptr("bob's")}, ErrNotFound},
		"malformed id":   {UpdateRequest{Description: ptr("x")}, ErrNotFound},
		"no such id":     {UpdateRequest{RotateSecret: true}, ErrNotFound},
		"another's noop": {UpdateRequest{}, ErrNotFound},
	} {
		owner, id := "alice", s.ID
		switch name {
		case "another owner", "another's noop":
			owner = "bob"
		case "malformed id":
			id = "wh_nope"
		case "no such id":
			id = "wh_" + strings.Repeat("0", 24)
		}
		_, err := r.Update(ctx, owner, id, c.req)
		assert.ErrorIs(t, err, c.kind, name)
	}
	assert.Equal(t, before, redisState(t, srv, c), "refused updates change nothing")
}

// TestRegistryUpdateRetriesOnConflict: a record changed between Update's
// read and its compare-and-set is read again, and both changes stay; a
// record that never stops changing ends in ErrConflict, unchanged by it.
func TestRegistryUpdateRetriesOnConflict(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r, _, c, _ := newTestRegistry(t, &at)
	ctx := context.Background()
	s, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/a", Events: []string{"click"}})
	require.NoError(t, err)

	calls := 0
	r.beforeSet = func() {
		calls++
		if calls == 1 { // another update slips in between the read and the set
			_, err := r.Update(ctx, "alice", s.ID, UpdateRequest{Description: ptr("theirs"), RotateSecret: true})
			require.NoError(t, err)
		}
	}
	got, err := r.Update(ctx, "alice", s.ID, UpdateRequest{URL: ptr("https://hooks.example.com/mine")})
	require.NoError(t, err)
	assert.Equal(t, 3, calls, "the inner update's set, the outer's failed set, its retry")
	assert.Equal(t, "https://hooks.example.com/mine", got.URL)
	assert.Equal(t, "theirs", got.Description)
	assert.Equal(t, s.Secret, got.PreviousSecret, "the rotation survived")
	stored, err := r.Get(ctx, "alice", s.ID)
	require.NoError(t, err)
	assert.Equal(t, got, stored)

	// A record rewritten before every set.
	key := r.cfg.Keys.Webhooks("alice")
	n := 0
	r.beforeSet = func() {
		n++
		v := stored
		v.Description = "churn " + strconv.Itoa(n)
		b, _ := json.Marshal(v)
		require.NoError(t, c.Do(ctx, c.B().Hset().Key(key).FieldValue().FieldValue(s.ID, string(b)).Build()).Error())
	}
	_, err = r.Update(ctx, "alice", s.ID, UpdateRequest{URL: ptr("https://hooks.example.com/never")})
	assert.ErrorIs(t, err, ErrConflict)
	assert.Equal(t, maxUpdateTries, n)
	r.beforeSet = nil
	last, err := r.Get(ctx, "alice", s.ID)
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.example.com/mine", last.URL, "the refused update changed nothing")
	assert.Equal(t, "churn "+strconv.Itoa(maxUpdateTries), last.Description)

	// Deleted between the read and the set.
	r.beforeSet = func() { require.NoError(t, r.Delete(ctx, "alice", s.ID)) }
	_, err = r.Update(ctx, "alice", s.ID, UpdateRequest{Description: ptr("gone")})
	assert.ErrorIs(t, err, ErrNotFound)
	r.beforeSet = nil
	_, err = r.Get(ctx, "alice", s.ID)
	assert.ErrorIs(t, err, ErrNotFound, "not brought back")
}

// TestRegistryUpdateConcurrent: rounds of concurrent updates of different
// fields of one subscription; after each round, every one of them shows.
func TestRegistryUpdateConcurrent(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r, _, _, _ := newTestRegistry(t, &at)
	ctx := context.Background()
	s, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/a", Events: []string{"click"}})
	require.NoError(t, err)
	eventSets := [][]string{{"link.created"}, {"click", "link.updated"}, {"link.deleted"}}
	for round := range 30 {
		prev, err := r.Get(ctx, "alice", s.ID)
		require.NoError(t, err)
		u := "https://hooks.example.com/r" + strconv.Itoa(round)
		d := "round " + strconv.Itoa(round)
		reqs := []UpdateRequest{{URL: &u}, {Events: &eventSets[round%3]}, {Description: &d}, {RotateSecret: true}}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, req := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := r.Update(ctx, "alice", s.ID, req)
				assert.NoError(t, err)
			}()
		}
		close(start)
		wg.Wait()
		got, err := r.Get(ctx, "alice", s.ID)
		require.NoError(t, err)
		assert.Equal(t, u, got.URL, "round %d", round)
		assert.Equal(t, eventSets[round%3], got.Events, "round %d", round)
		assert.Equal(t, d, got.Description, "round %d", round)
		assert.NotEqual(t, prev.Secret, got.Secret, "round %d", round)
		assert.Equal(t, prev.Secret, got.PreviousSecret, "round %d", round)
	}
}

func TestSendTest(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123e6, time.UTC)
	r, srv, c, ks := newTestRegistry(t, &at)
	ctx := context.Background()
	s, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/a", Events: []string{"link.deleted"}})
	require.NoError(t, err)

	before := redisState(t, srv, c)
	for _, c := range []struct{ owner, id string }{{"bob", s.ID}, {"alice", "wh_nope"}, {"alice", "wh_" + strings.Repeat("1", 24)}} {
		_, err := r.SendTest(ctx, c.owner, c.id)
		assert.ErrorIs(t, err, ErrNotFound, c)
	}
	assert.Equal(t, before, redisState(t, srv, c), "nothing queued for a webhook not found")

	msg, err := r.SendTest(ctx, "alice", s.ID)
	require.NoError(t, err)
	assert.Regexp(t, `^evt_test_[0-9a-f]{32}$`, msg)
	p := redisx.PartitionOf(s.ID, ks.Partitions)
	jobs, err := c.Do(ctx, c.B().Hgetall().Key(ks.WebhookJobs(p)).Build()).AsStrMap()
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	var j job
	require.NoError(t, json.Unmarshal([]byte(jobs[s.ID+":"+msg]), &j))
	assert.Equal(t, job{Sub: s.ID, Owner: "alice", Msg: msg, Type: EventTest,
		Body: `{"type":"webhook.test","timestamp":"2026-12-04T10:00:00.123Z","data":{"webhook_id":"` + s.ID + `"}}`}, j)
	due, err := c.Do(ctx, c.B().Zscore().Key(ks.WebhookQueue(p)).Member(s.ID+":"+msg).Build()).AsFloat64()
	require.NoError(t, err)
	assert.Equal(t, float64(at.UnixMilli()), due, "due at once")

	other, err := r.SendTest(ctx, "alice", s.ID)
	require.NoError(t, err)
	assert.NotEqual(t, msg, other, "each call queues a new delivery")
	n, err := c.Do(ctx, c.B().Zcard().Key(ks.WebhookQueue(p)).Build()).AsInt64()
	require.NoError(t, err)
	assert.EqualValues(t, 2, n)
}

// TestDispatcherSignsWithBothSecretsDuringGrace posts deliveries through
// the dispatcher at times given by its Now: during the grace of a
// rotation the signature header holds the new secret's signature, then
// the previous one's, each verifying with its own secret; from the end of
// the grace on, only the new one.
func TestDispatcherSignsWithBothSecretsDuringGrace(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 4)
	require.NoError(t, err)
	c := srv.Client(t)
	cls, err := useragent.New(10)
	require.NoError(t, err)
	type got struct{ id, ts, sig, body string }
	var mu sync.Mutex
	var last got
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		last = got{req.Header.Get(HeaderID), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), string(b)}
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer rcv.Close()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d, err := NewDispatcher(DispatcherConfig{Client: c, Keys: ks, Name: "t", Subscriptions: NewRegistry(c, RegistryConfig{Keys: ks}),
		Links: link.NewStore(c, link.Config{Keys: ks}), Classifier: cls, HTTP: rcv.Client(),
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	require.NoError(t, err)

	oldSecret, newSecret := NewSecret(), NewSecret()
	rotated := now.Add(-time.Hour)
	sub := Subscription{ID: "wh_" + strings.Repeat("a", 24), Owner: "alice", URL: rcv.URL + "/in", Events: []string{"click"},
		Secret: newSecret, PreviousSecret: oldSecret, PreviousSecretExpiresAt: rotated.Add(SecretGrace)}
	deliver := func(msg string) got {
		t.Helper()
		j := job{Sub: sub.ID, Owner: "alice", Msg: msg, Type: EventTest, Body: `{"type":"webhook.test","timestamp":"2026-12-04T10:00:00.000Z","data":{}}`}
		status, err := d.post(context.Background(), &sub, &j)
		require.NoError(t, err)
		require.Equal(t, 204, status)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, msg, last.id)
		assert.Equal(t, strconv.FormatInt(now.Unix(), 10), last.ts, "signed at the dispatcher's now")
		return last
	}
	verify := func(secret string, g got, sig string) error {
		return Verify(secret, g.id, g.ts, sig, []byte(g.body), now, time.Minute)
	}

	// In the grace: two signatures, the new one first.
	for _, at := range []time.Time{rotated, rotated.Add(time.Second), rotated.Add(SecretGrace - time.Second)} {
		now = at
		g := deliver("evt_1_" + strconv.FormatInt(at.Unix(), 10) + "-0")
		sigs := strings.Split(g.sig, " ")
		require.Len(t, sigs, 2, "at %s: %q", at, g.sig)
		for _, s := range sigs {
			assert.Regexp(t, `^v1,[A-Za-z0-9+/]{43}=$`, s)
		}
		assert.NoError(t, verify(newSecret, g, sigs[0]), "the first verifies with the new secret")
		assert.NoError(t, verify(oldSecret, g, sigs[1]), "the second with the previous one")
		assert.ErrorIs(t, verify(oldSecret, g, sigs[0]), ErrSignature)
		assert.ErrorIs(t, verify(newSecret, g, sigs[1]), ErrSignature)
		assert.NoError(t, verify(newSecret, g, g.sig), "a receiver with the new secret accepts it")
		assert.NoError(t, verify(oldSecret, g, g.sig), "so does one still on the old secret")
		want, err := SignatureHeader(&sub, g.id, now, []byte(g.body))
		require.NoError(t, err)
		assert.Equal(t, want, g.sig)
	}

	// From the end of the grace on: the new secret's only.
	for _, at := range []time.Time{rotated.Add(SecretGrace), rotated.Add(SecretGrace + time.Second), rotated.Add(30 * 24 * time.Hour)} {
		now = at
		g := deliver("evt_2_" + strconv.FormatInt(at.Unix(), 10) + "-0")
		assert.NotContains(t, g.sig, " ", "at %s", at)
		assert.NoError(t, verify(newSecret, g, g.sig))
		assert.ErrorIs(t, verify(oldSecret, g, g.sig), ErrSignature)
	}

	// Never rotated: one signature.
	sub.PreviousSecret, sub.PreviousSecretExpiresAt = "", time.Time{}
	now = rotated
	g := deliver("evt_3_1-0")
	assert.NotContains(t, g.sig, " ")
	assert.NoError(t, verify(newSecret, g, g.sig))

	// A broken previous secret never keeps the current one from signing.
	sub.PreviousSecret, sub.PreviousSecretExpiresAt = "whsec_!!", now.Add(time.Hour)
	g = deliver("evt_3_2-0")
	assert.NotContains(t, g.sig, " ")
	assert.NoError(t, verify(newSecret, g, g.sig))
	sub.Secret = "hunter2"
	_, err = d.post(context.Background(), &sub, &job{Msg: "evt_3_3-0", Body: "{}"})
	assert.True(t, errors.Is(err, ErrSecret), "%v", err)
}
