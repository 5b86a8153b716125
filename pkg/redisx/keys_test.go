package redisx

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyspace(t *testing.T) {
	ks, err := NewKeyspace("t:", 16)
	require.NoError(t, err)
	p := ks.Partition("AbC123x")
	assert.Equal(t, PartitionOf([]byte("AbC123x"), 16), p, "string and []byte partitions must agree")
	assert.Equal(t, "t:l:"+ks.Tag(p)+":AbC123x", ks.Link("AbC123x"))
	assert.Equal(t, ks.LinkPrefix(p)+"AbC123x", ks.Link("AbC123x"))
	assert.Equal(t, "t:o:{alice}", ks.Owner("alice"))

	for _, tc := range []struct {
		name       string
		prefix     string
		partitions int
	}{
		{"zero partitions", "", 0},
		{"too many partitions", "", MaxPartitions + 1},
		{"brace in prefix", "a{b", 4},
		{"space in prefix", "a b", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyspace(tc.prefix, tc.partitions)
			assert.Error(t, err)
		})
	}
}

func TestPartitionSpread(t *testing.T) {
	counts := make([]int, 16)
	for i := 0; i < 16000; i++ {
		counts[PartitionOf(string(rune('a'+i%26))+string(rune('A'+i/26%26))+string(rune('0'+i/676%10))+string(rune('a'+i/6760)), 16)]++
	}
	for p, c := range counts {
		assert.Greater(t, c, 500, "partition %d has %d of 16000 codes", p, c)
	}
}

func TestOptionsSeeds(t *testing.T) {
	opt, err := Options(Config{URL: "redis://127.0.0.1:7001,127.0.0.1:7002, redis://h3"})
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:7001", "127.0.0.1:7002", "h3:6379"}, opt.InitAddress)
	_, err = Options(Config{URL: ""})
	assert.Error(t, err)
	_, err = Options(Config{URL: "http://x"})
	assert.Error(t, err)
}
