package link

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	created := time.UnixMilli(1764860400123).UTC()
	for _, tc := range []struct {
		name string
		l    Link
	}{
		{"full", Link{URL: "https://example.com/a?b=c#d", Owner: "alice", CreatedAt: created, ExpiresAt: created.Add(time.Hour), MaxClicks: 100}},
		{"anonymous never expires", Link{URL: "http://x.example", CreatedAt: created}},
		{"non-ASCII", Link{URL: "https://bücher.example/ü", Owner: "bob@example.org", CreatedAt: created}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := encode(&tc.l)
			var got Link
			require.NoError(t, decode(s, &got))
			assert.Equal(t, tc.l, got)
			tg, ok := parseTarget(s)
			require.True(t, ok, "parseTarget(%q) failed", s)
			assert.Equal(t, tc.l.URL, tg.URL)
			assert.Equal(t, tc.l.MaxClicks, tg.MaxClicks)
			if tc.l.ExpiresAt.IsZero() {
				assert.Zero(t, tg.ExpiresMs)
			} else {
				assert.Equal(t, tc.l.ExpiresAt.UnixMilli(), tg.ExpiresMs)
			}
		})
	}
	for _, bad := range []string{"", "2\n1\n0\n0\n\nhttp://x", "1\nx\n0\n0\n\nhttp://x", "1\n1\n0\n", "1\n1\n-5\n0\n\nhttp://x"} {
		var l Link
		_, ok := parseTarget(bad)
		assert.False(t, ok && decode(bad, &l) == nil, "malformed record %q accepted", bad)
	}
}

func TestParseTargetAllocs(t *testing.T) {
	s := encode(&Link{URL: "https://example.com/x", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	allocs := testing.AllocsPerRun(100, func() { _, _ = parseTarget(s) })
	assert.Zero(t, allocs, "parseTarget allocates")
}
