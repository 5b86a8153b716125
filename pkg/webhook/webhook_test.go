package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/redisx"
	"github.com/shortener/shortener/pkg/redisx/redistest"
)

// The published Standard Webhooks test vector: a receiver's stock library
// verifies what we send only if we reproduce it exactly.
func TestSignStandardWebhooksVector(t *testing.T) {
	key, err := SecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", got)
}

func TestVerify(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1614265330, 0)
	const sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	assert.NoError(t, Verify(secret, id, "1614265330", sig, body, now, time.Minute))
	assert.NoError(t, Verify(secret, id, "1614265330", "v1,bm9wZQ== "+sig, body, now.Add(59*time.Second), time.Minute), "one of several")
	for name, err := range map[string]error{
		"other body":   Verify(secret, id, "1614265330", sig, []byte(`{"test": 2432232315}`), now, time.Minute),
		"other id":     Verify(secret, "msg_x", "1614265330", sig, body, now, time.Minute),
		"too old":      Verify(secret, id, "1614265330", sig, body, now.Add(61*time.Second), time.Minute),
		"too new":      Verify(secret, id, "1614265330", sig, body, now.Add(-61*time.Second), time.Minute),
		"bad time":     Verify(secret, id, "soon", sig, body, now, time.Minute),
		"other secret": Verify(NewSecret(), id, "1614265330", sig, body, now, time.Minute),
	} {
		assert.ErrorIs(t, err, ErrSignature, name)
	}
}

func TestSecrets(t *testing.T) {
	s := NewSecret()
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, s)
	key, err := SecretKey(s)
	require.NoError(t, err)
	assert.Len(t, key, 32)
	assert.NotEqual(t, s, NewSecret())
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!", "whsec_c2hvcnQ=",
		"whsec_" + strings.Repeat("QUFB", 22)} { // 66 bytes
		_, err := SecretKey(bad)
		assert.ErrorIs(t, err, ErrSecret, bad)
	}
}

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"0.0.0.0": false, "100.64.0.1": false, "192.0.2.1": false, "198.18.0.1": false, "224.0.0.1": false,
		"255.255.255.255": false, "::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::7f00:1": false, "2002:7f00:1::": false,
		"2001:db8::1": false, "ff02::1": false,
	} {
		assert.Equal(t, want, Public(netip.MustParseAddr(addr)), addr)
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"https://hooks.example.com/in", "http://example.com:8080/x?y=1", "https://93.184.216.34/h"} {
		assert.NoError(t, CheckURL(ok, false), ok)
	}
	for _, bad := range []string{"", "ftp://example.com/", "example.com/x", "https://", "https://user:pw@example.com/",
		"https://example.com/#frag", "https://example.com/ x", "https://example.com:0/", "https://example.com:70000/",
		"http://localhost/x", "http://LOCALHOST./x", "http://a.localhost/x", "http://127.0.0.1/x", "http://[::1]/x",
		"http://10.0.0.1/x", "http://169.254.169.254/latest/meta-data", "http://[::ffff:192.168.0.1]/x",
		"https://example.com/" + strings.Repeat("a", MaxURLLen)} {
		assert.ErrorIs(t, CheckURL(bad, false), ErrURL, bad)
	}
	assert.NoError(t, CheckURL("http://127.0.0.1:9/x", true))
	assert.NoError(t, CheckURL("http://localhost/x", true))
	assert.ErrorIs(t, CheckURL("ftp://127.0.0.1/", true), ErrURL, "the scheme is checked all the same")
}

func TestBackoffDoublesWithJitterUpToMax(t *testing.T) {
	d := &Dispatcher{cfg: DispatcherConfig{Backoff: time.Second, MaxBackoff: 30 * time.Second}}
	for n, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 40: 30 * time.Second} {
		for i := 0; i < 50; i++ {
			b := d.backoff(n)
			assert.GreaterOrEqual(t, b, time.Duration(float64(base)*0.8), "try %d", n)
			assert.LessOrEqual(t, b, time.Duration(float64(base)*1.2), "try %d", n)
		}
	}
}

func TestRegistry(t *testing.T) {
	srv := redistest.Start(t)
	ks, err := redisx.NewKeyspace(srv.Prefix, 4)
	require.NoError(t, err)
	c := srv.Client(t)
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := NewRegistry(c, RegistryConfig{Keys: ks, Now: func() time.Time { return at }})
	ctx := context.Background()

	s, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/a",
		Events: []string{"link.deleted", "click", "click"}, Description: "crm"})
	require.NoError(t, err)
	assert.True(t, ValidID(s.ID), s.ID)
	assert.Equal(t, []string{"click", "link.deleted"}, s.Events, "deduplicated, in the documented order")
	assert.Equal(t, at, s.CreatedAt)
	assert.True(t, s.Wants("click"))
	assert.False(t, s.Wants("link.created"))
	given := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	at = at.Add(time.Second)
	s2, err := r.Create(ctx, "alice", CreateRequest{URL: "https://hooks.example.com/b", Events: []string{"link.created"}, Secret: given})
	require.NoError(t, err)
	assert.Equal(t, given, s2.Secret)

	list, err := r.List(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []Subscription{s, s2}, list)
	cached, err := r.ForOwner(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, list, cached)
	got, err := r.Get(ctx, "alice", s.ID)
	require.NoError(t, err)
	assert.Equal(t, s, got)
	_, err = r.Get(ctx, "bob", s.ID)
	assert.ErrorIs(t, err, ErrNotFound, "another owner's")
	_, err = r.Get(ctx, "alice", "wh_nope")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, r.Delete(ctx, "bob", s.ID), ErrNotFound)
	require.NoError(t, r.Delete(ctx, "alice", s.ID))
	assert.ErrorIs(t, r.Delete(ctx, "alice", s.ID), ErrNotFound)
	list, err = r.List(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, []Subscription{s2}, list)

	// Every bad request is refused and writes nothing.
	before := srv.Keys(t, c)
	for name, req := range map[string]CreateRequest{
		"no url":        {Events: []string{"click"}},
		"private url":   {URL: "http://10.0.0.1/", Events: []string{"click"}},
		"no events":     {URL: "https://h.example/"},
		"unknown event": {URL: "https://h.example/", Events: []string{"click", "link.expired"}},
		"bad secret":    {URL: "https://h.example/", Events: []string{"click"}, Secret: "hunter2"},
		"long desc":     {URL: "https://h.example/", Events: []string{"click"}, Description: strings.Repeat("d", MaxDescription+1)},
		"control desc":  {URL: "https://h.example/", Events: []string{"click"}, Description: "a\nb"},
	} {
		_, err := r.Create(ctx, "carol", req)
		assert.Error(t, err, name)
		assert.True(t, errors.Is(err, ErrURL) || errors.Is(err, ErrEvents) || errors.Is(err, ErrSecret) || errors.Is(err, ErrDescription), "%s: %v", name, err)
	}
	assert.Equal(t, before, srv.Keys(t, c))

	for i := 0; i < MaxPerOwner; i++ {
		_, err := r.Create(ctx, "dave", CreateRequest{URL: fmt.Sprintf("https://h.example/%d", i), Events: []string{"click"}})
		require.NoError(t, err)
	}
	_, err = r.Create(ctx, "dave", CreateRequest{URL: "https://h.example/over", Events: []string{"click"}})
	assert.ErrorIs(t, err, ErrTooMany)
	list, err = r.List(ctx, "dave")
	require.NoError(t, err)
	assert.Len(t, list, MaxPerOwner)
}

func TestValidID(t *testing.T) {
	assert.True(t, ValidID("wh_0123456789abcdef01234567"))
	for _, bad := range []string{"", "wh_", "0123456789abcdef01234567", "wh_0123456789ABCDEF01234567", "wh_0123456789abcdef0123456", "wh_0123456789abcdef0123456z"} {
		assert.False(t, ValidID(bad), bad)
	}
}

// FuzzCheckURL: CheckURL never panics, and a URL it accepts without
// allowPrivate parses to http(s) with a host that is not a literal
// non-public address.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/in", "http://127.0.0.1/", "http://[::ffff:10.0.0.1]/", "https://a:b@c/", "http://0x7f.1/", "http://[fe80::1%25eth0]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckURL(raw, false) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !Public(ip) {
			t.Fatalf("accepted the non-public %q", raw)
		}
	})
}
