package clientip

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseAddrCases also seed FuzzParseAddr; want "" means invalid.
var parseAddrCases = []struct {
	name string
	in   string
	want string
}{
	{name: "ipv4", in: "192.0.2.1", want: "192.0.2.1"},
	{name: "ipv4 zeros", in: "0.0.0.0", want: "0.0.0.0"},
	{name: "ipv4 max", in: "255.255.255.255", want: "255.255.255.255"},
	{name: "ipv6 full", in: "2001:0db8:0000:0000:0000:ff00:0042:8329", want: "2001:db8::ff00:42:8329"},
	{name: "ipv6 compressed", in: "2001:db8::1", want: "2001:db8::1"},
	{name: "ipv6 upper case", in: "2001:DB8::A", want: "2001:db8::a"},
	{name: "ipv6 unspecified", in: "::", want: "::"},
	{name: "ipv6 loopback", in: "::1", want: "::1"},
	{name: "ipv6 trailing ellipsis", in: "1::", want: "1::"},
	{name: "ipv4-mapped", in: "::ffff:1.2.3.4", want: "::ffff:1.2.3.4"},
	{name: "embedded ipv4 in full form", in: "1:2:3:4:5:6:1.2.3.4", want: "1:2:3:4:5:6:102:304"},
	{name: "zone dropped", in: "fe80::1%eth0", want: "fe80::1"},
	{name: "empty", in: ""},
	{name: "ipv4 leading zero", in: "01.2.3.4"},
	{name: "ipv4 too big", in: "256.1.1.1"},
	{name: "ipv4 too short", in: "1.2.3"},
	{name: "ipv4 too long", in: "1.2.3.4.5"},
	{name: "ipv4 empty field", in: "1..3.4"},
	{name: "ipv4 trailing dot", in: "1.2.3.4."},
	{name: "ipv4 with zone", in: "1.2.3.4%eth0"},
	{name: "ipv4 with port", in: "1.2.3.4:80"},
	{name: "ipv6 five digit group", in: "2001:db8::12345"},
	{name: "ipv6 two ellipses", in: "1::2::3"},
	{name: "ipv6 too short", in: "1:2:3"},
	{name: "ipv6 too long", in: "1:2:3:4:5:6:7:8:9"},
	{name: "ipv6 ellipsis standing for nothing", in: "1:2:3:4::5:6:7:8"},
	{name: "ipv6 trailing colon", in: "1:2:3:4:5:6:7:"},
	{name: "ipv6 leading colon", in: ":1::"},
	{name: "ipv6 empty zone", in: "fe80::1%"},
	{name: "zone only", in: "%eth0"},
	{name: "misplaced ipv4", in: "1:2:3:4:1.2.3.4"},
	{name: "ipv4 with no room", in: "1:2:3:4:5:6:7:1.2.3.4"},
	{name: "bracketed", in: "[::1]"},
	{name: "hostname", in: "localhost"},
}

func TestParseAddr(t *testing.T) {
	for _, tc := range parseAddrCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseAddr(tc.in)
			gotBytes, okBytes := ParseAddr([]byte(tc.in))
			assert.Equal(t, got, gotBytes, "string and []byte agree")
			assert.Equal(t, ok, okBytes)
			if tc.want == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
			allocs := testing.AllocsPerRun(100, func() { got, ok = ParseAddr(tc.in) })
			assert.Zero(t, allocs)
		})
	}
}

func TestParseAddrDoesNotAllocateOnError(t *testing.T) {
	b := []byte("1.2.3")
	allocs := testing.AllocsPerRun(100, func() { _, _ = ParseAddr(b) })
	assert.Zero(t, allocs)
}

func FuzzParseAddr(f *testing.F) {
	for _, tc := range parseAddrCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseAddr(s)
		want, err := netip.ParseAddr(s)
		require.Equal(t, err == nil, ok, "agrees with netip.ParseAddr on validity (err %v)", err)
		if ok {
			require.Equal(t, want.WithZone(""), got)
		}
		gotBytes, okBytes := ParseAddr([]byte(s))
		require.Equal(t, ok, okBytes)
		require.Equal(t, got, gotBytes)
	})
}

func BenchmarkClientIP(b *testing.B) {
	trusted, err := ParseTrusted(testTrusted)
	require.NoError(b, err)
	peer := netip.MustParseAddr("10.0.0.1")
	xff := []byte("198.51.100.9, 10.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		trusted.ClientIP(peer, xff)
	}
}
