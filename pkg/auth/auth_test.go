package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		k := auth.Generate()
		assert.True(t, strings.HasPrefix(k, auth.KeyPrefix) && len(k) == len(auth.KeyPrefix)+32, "Generate() = %q", k)
		assert.False(t, seen[k])
		seen[k] = true
	}
	assert.Len(t, auth.Digest("x"), 64)
}

func TestKeys(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 16)
	require.NoError(t, err)
	c := srv.Client(t)
	keys := auth.NewKeys(c, ks, "bootstrap-admin", link.ValidOwner)
	ctx := context.Background()

	p, err := keys.Lookup(ctx, "bootstrap-admin")
	require.NoError(t, err)
	assert.Equal(t, auth.Principal{Owner: "admin", Admin: true}, p)

	k, err := keys.Create(ctx, "alice", false)
	require.NoError(t, err)
	p, err = keys.Lookup(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, auth.Principal{Owner: "alice"}, p)
	for _, stored := range srv.Keys(t, c) {
		assert.NotContains(t, stored, k)
		v, _ := c.Do(ctx, c.B().Get().Key(stored).Build()).ToString()
		assert.NotContains(t, v, k, "only the digest is stored")
	}

	for _, bad := range []string{"", "anonymous", "a b", "a{b}", strings.Repeat("x", 65)} {
		_, err := keys.Create(ctx, bad, false)
		assert.ErrorIs(t, err, auth.ErrBadOwner, "owner %q", bad)
	}
	_, err = keys.Lookup(ctx, "sk_unknown")
	assert.ErrorIs(t, err, auth.ErrUnknownKey)
	_, err = keys.Lookup(ctx, strings.Repeat("k", 300))
	assert.ErrorIs(t, err, auth.ErrUnknownKey)

	require.NoError(t, keys.Revoke(ctx, k))
	assert.ErrorIs(t, keys.Revoke(ctx, k), auth.ErrUnknownKey)
	_, err = keys.Lookup(ctx, k)
	assert.ErrorIs(t, err, auth.ErrUnknownKey)
}
