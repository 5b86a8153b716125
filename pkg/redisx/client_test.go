package redisx_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// TestMode proves which Redis the suite runs against: make test-cluster
// sets SHORTENER_TEST_REDIS_URL to the cluster's seeds.
func TestMode(t *testing.T) {
	srv := redistest.Start(t)
	c, err := redisx.New(redisx.Config{URL: srv.URL})
	require.NoError(t, err)
	defer c.Close()
	want := rueidis.ClientModeStandalone
	if strings.Contains(os.Getenv(redistest.EnvURL), ",") {
		want = rueidis.ClientModeCluster
	}
	assert.Equal(t, want, c.Mode())
	require.NoError(t, redisx.Ping(context.Background(), c, time.Second))
}

func TestPinPartitions(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ks16, err := redisx.NewKeyspace(srv.Prefix, 16)
	require.NoError(t, err)
	ks32, err := redisx.NewKeyspace(srv.Prefix, 32)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, redisx.PinPartitions(ctx, c, ks16))
	require.NoError(t, redisx.PinPartitions(ctx, c, ks16), "the same count again is fine")
	err = redisx.PinPartitions(ctx, c, ks32)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "created with 16 partitions, but 32 are configured")
}
