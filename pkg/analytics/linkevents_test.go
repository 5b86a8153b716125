package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/analytics"
	"github.com/shortener/shortener/pkg/link"
)

// Link events share the click streams; the analytics group acknowledges
// them without counting anything.
func TestLinkEventsAcknowledgedNotCounted(t *testing.T) {
	f := newFixture(t)
	store := link.NewStore(f.c, link.Config{Keys: f.ks, Describe: func(l *link.Link) []byte { return []byte(`{"code":"` + l.Code + `"}`) }})
	ctx := context.Background()
	_, _, err := store.Create(ctx, link.CreateRequest{URL: "https://example.com/ev", CustomCode: "evlink", Owner: "alice"})
	require.NoError(t, err)
	f.add(t, click("evlink", time.Now(), "192.0.2.1", uaDesktop, "", "NL"), click("evlink", time.Now(), "192.0.2.2", uaDesktop, "", "NL"))
	require.NoError(t, store.Delete(ctx, "evlink", "alice", false))
	c := f.consumer(t, "w1", nil)
	var res analytics.Result
	p := f.ks.Partition("evlink")
	for {
		entries, err := c.Read(ctx, p, ">")
		require.NoError(t, err)
		if len(entries) == 0 {
			break
		}
		r := c.Process(p, entries)
		res.Gone += r.Gone
		res.LinkEvents += r.LinkEvents
		res.Applied += r.Applied
		res.DeadLetter += r.DeadLetter
	}
	assert.Equal(t, analytics.Result{Gone: 2, LinkEvents: 2}, res, "created and deleted acknowledged; the clicks came after the deletion")
	assert.Zero(t, f.pending(t))
	n, err := f.c.Do(ctx, f.c.B().Xlen().Key(f.ks.DeadLetter(p)).Build()).AsInt64()
	require.NoError(t, err)
	assert.Zero(t, n)
}
