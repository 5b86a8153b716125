package link_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestEventRoundTrip(t *testing.T) {
	e := link.Event{Type: link.EventUpdated, Time: time.UnixMilli(1764842400123).UTC(), Code: "abc", Owner: "a.b@c", Data: []byte("{\"x\":\"tab\there\"}")}
	s := link.EncodeEvent(e)
	assert.Equal(t, "1\tlink.updated\t1764842400123\tabc\ta.b@c\t{\"x\":\"tab\there\"}", s)
	got, err := link.DecodeEvent(s)
	require.NoError(t, err)
	assert.Equal(t, e, got)
	for _, bad := range []string{"", "1\tlink.updated\t1\tabc\ta", "2\tlink.updated\t1\tabc\ta\t{}", "1\tlink.gone\t1\tabc\ta\t{}",
		"1\tlink.created\tx\tabc\ta\t{}", "1\tlink.created\t-1\tabc\ta\t{}", "1\tlink.created\t1\t\ta\t{}", "1\tlink.created\t1\tabc\t\t{}",
		"1\tlink.created\t1\tabc\tanonymous\t{}", "1\tlink.created\t1\ta c\ta\t{}"} {
		_, err := link.DecodeEvent(bad)
		assert.ErrorIs(t, err, link.ErrEventMalformed, "%q", bad)
	}
}

// TestEventsAppendedWithTheChange: every create, update and delete of an
// owned link appends its event to the link's partition stream, in the
// script that makes the change; refused changes and anonymous links
// append nothing.
func TestEventsAppendedWithTheChange(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 16)
	require.NoError(t, err)
	c := srv.Client(t)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	store := link.NewStore(c, link.Config{Keys: ks, Now: func() time.Time { return at },
		Describe: func(l *link.Link) []byte { return []byte(`{"url":"` + l.URL + `"}`) }})
	plain := link.NewStore(c, link.Config{Keys: ks})
	ctx := context.Background()
	events := func(code string) []link.Event {
		rows, err := c.Do(ctx, c.B().Xrange().Key(ks.Stream(ks.Partition(code))).Start("-").End("+").Build()).AsXRange()
		require.NoError(t, err)
		var out []link.Event
		for _, r := range rows {
			if v, ok := r.FieldValues[link.EventField]; ok {
				e, err := link.DecodeEvent(v)
				require.NoError(t, err)
				if e.Code == code {
					out = append(out, e)
				}
			}
		}
		return out
	}
	_, _, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/1", CustomCode: "evt1", Owner: "alice"})
	require.NoError(t, err)
	_, _, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/2", CustomCode: "evt1", Owner: "alice"})
	require.ErrorIs(t, err, link.ErrCodeTaken)
	u := "https://example.com/1b"
	_, err = store.Update(ctx, "evt1", "alice", false, link.Patch{URL: &u})
	require.NoError(t, err)
	_, err = store.Update(ctx, "evt1", "mallory", false, link.Patch{URL: &u})
	require.ErrorIs(t, err, link.ErrForbidden)
	require.ErrorIs(t, store.Delete(ctx, "evt1", "mallory", false), link.ErrForbidden)
	require.NoError(t, store.Delete(ctx, "evt1", "alice", false))
	assert.Equal(t, []link.Event{
		{Type: link.EventCreated, Time: at, Code: "evt1", Owner: "alice", Data: []byte(`{"url":"https://example.com/1"}`)},
		{Type: link.EventUpdated, Time: at, Code: "evt1", Owner: "alice", Data: []byte(`{"url":"https://example.com/1b"}`)},
		{Type: link.EventDeleted, Time: at, Code: "evt1", Owner: "alice", Data: []byte(`{"url":"https://example.com/1b"}`)},
	}, events("evt1"))

	_, _, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/anon", CustomCode: "evt2"})
	require.NoError(t, err)
	require.NoError(t, store.Delete(ctx, "evt2", "", true))
	assert.Empty(t, events("evt2"), "anonymous links have no events")
	_, _, err = plain.Create(ctx, link.CreateRequest{URL: "https://example.com/3", CustomCode: "evt3", Owner: "alice"})
	require.NoError(t, err)
	assert.Empty(t, events("evt3"), "a store without Describe appends none")
	// dedupe returning the existing link appends nothing more
	l, existing, err := store.Create(ctx, link.CreateRequest{URL: "https://example.com/4", Owner: "alice", Dedupe: true})
	require.NoError(t, err)
	require.False(t, existing)
	_, existing, err = store.Create(ctx, link.CreateRequest{URL: "https://example.com/4", Owner: "alice", Dedupe: true})
	require.NoError(t, err)
	require.True(t, existing)
	assert.Len(t, events(l.Code), 1)
}

func TestCachedLookup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.store.Cached(ctx, "nolink")
	assert.ErrorIs(t, err, link.ErrNotFound)
	_, _, err = e.store.Create(ctx, link.CreateRequest{URL: "https://example.com/c", CustomCode: "cached1", Owner: "alice"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { // the cached miss is invalidated by the create
		l, err := e.store.Cached(ctx, "cached1")
		return err == nil && l.Owner == "alice" && l.URL == "https://example.com/c"
	}, time.Second, 5*time.Millisecond)
	_, err = e.store.Cached(ctx, "bad code!")
	assert.ErrorIs(t, err, link.ErrNotFound)
}

// FuzzDecodeEvent: any string decodes or fails with ErrEventMalformed,
// never panics, and whatever decodes encodes back to the same string.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("1\tlink.created\t1764842400123\tabc\talice\t{\"url\":\"https://example.com\"}")
	f.Add("1\tlink.deleted\t0\tx_y-z\ta.b@c\t")
	f.Add("1\tlink.updated\t1\tabc\talice\t\t\t")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := link.DecodeEvent(s)
		if err != nil {
			if !errors.Is(err, link.ErrEventMalformed) {
				t.Fatalf("error %v does not wrap ErrEventMalformed", err)
			}
			return
		}
		if got := link.EncodeEvent(e); got != s {
			// the only other spelling of a time is with leading zeros or a plus sign
			e2, err := link.DecodeEvent(got)
			if err != nil || !e2.Time.Equal(e.Time) || e2.Code != e.Code || e2.Owner != e.Owner || string(e2.Data) != string(e.Data) || e2.Type != e.Type {
				t.Fatalf("%q decodes to %+v, which encodes to %q", s, e, got)
			}
		}
	})
}
