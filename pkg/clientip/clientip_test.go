package clientip

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testTrusted = "10.0.0.0/8, 192.168.1.1, 2001:db8:cafe::/48, ::ffff:172.16.0.0/108"

// clientIPCases also seed FuzzClientIP.
var clientIPCases = []struct {
	name string
	peer string
	xff  string
	want string
}{
	{name: "untrusted peer without xff", peer: "203.0.113.7", want: "203.0.113.7"},
	{name: "untrusted peer with spoofed xff", peer: "203.0.113.7", xff: "1.1.1.1", want: "203.0.113.7"},
	{name: "untrusted ipv6 peer with spoofed xff", peer: "2001:db8:1::1", xff: "10.0.0.1", want: "2001:db8:1::1"},
	{name: "trusted peer without xff", peer: "10.0.0.1", want: "10.0.0.1"},
	{name: "trusted peer with one hop", peer: "10.0.0.1", xff: "198.51.100.9", want: "198.51.100.9"},
	{name: "client then trusted proxy", peer: "10.0.0.1", xff: "198.51.100.9, 10.1.2.3", want: "198.51.100.9"},
	{name: "spoofed left-most hop is ignored", peer: "10.0.0.1", xff: "6.6.6.6, 198.51.100.9, 10.1.2.3", want: "198.51.100.9"},
	{name: "single trusted address", peer: "192.168.1.1", xff: "198.51.100.9", want: "198.51.100.9"},
	{name: "neighbour of single trusted address is not trusted", peer: "192.168.1.2", xff: "198.51.100.9", want: "192.168.1.2"},
	{name: "garbage hop stops the walk", peer: "10.0.0.1", xff: "198.51.100.9, garbage, 10.1.2.3", want: "10.1.2.3"},
	{name: "garbage right-most hop gives peer", peer: "10.0.0.1", xff: "198.51.100.9, nope", want: "10.0.0.1"},
	{name: "all trusted chain gives left-most hop", peer: "10.0.0.1", xff: "10.9.9.9, 192.168.1.1, 10.1.2.3", want: "10.9.9.9"},
	{name: "ipv6 client behind ipv6 proxies", peer: "2001:db8:cafe::1", xff: "2001:db8:1::42, 2001:db8:cafe::2", want: "2001:db8:1::42"},
	{name: "ipv4-mapped peer is unmapped", peer: "::ffff:10.0.0.1", xff: "198.51.100.9", want: "198.51.100.9"},
	{name: "ipv4-mapped untrusted peer is returned unmapped", peer: "::ffff:203.0.113.7", xff: "198.51.100.9", want: "203.0.113.7"},
	{name: "ipv4-mapped hop is unmapped", peer: "10.0.0.1", xff: "::ffff:198.51.100.9", want: "198.51.100.9"},
	{name: "ipv4-mapped trusted cidr", peer: "172.16.5.5", xff: "198.51.100.9", want: "198.51.100.9"},
	{name: "ports in hops", peer: "10.0.0.1", xff: "198.51.100.9:5678, 10.1.2.3:443", want: "198.51.100.9"},
	{name: "bracketed ipv6 with port", peer: "10.0.0.1", xff: "[2001:db8::7]:80", want: "2001:db8::7"},
	{name: "bracketed ipv6 without port", peer: "10.0.0.1", xff: "[2001:db8::7]", want: "2001:db8::7"},
	{name: "bracketed mapped ipv6 is unmapped", peer: "10.0.0.1", xff: "[::ffff:198.51.100.9]:80", want: "198.51.100.9"},
	{name: "spaces tabs and empty hops", peer: "10.0.0.1", xff: "  198.51.100.9 ,, \t10.1.2.3 , ", want: "198.51.100.9"},
	{name: "several headers joined", peer: "10.0.0.1", xff: "198.51.100.9, 10.1.2.3,10.4.4.4", want: "198.51.100.9"},
	{name: "only commas", peer: "10.0.0.1", xff: ", ,", want: "10.0.0.1"},
	{name: "ipv4 in brackets is garbage", peer: "10.0.0.1", xff: "[198.51.100.9]", want: "10.0.0.1"},
	{name: "unclosed bracket is garbage", peer: "10.0.0.1", xff: "[2001:db8::7", want: "10.0.0.1"},
	{name: "junk after bracket is garbage", peer: "10.0.0.1", xff: "[2001:db8::7]x", want: "10.0.0.1"},
	{name: "port out of range is garbage", peer: "10.0.0.1", xff: "198.51.100.9:99999", want: "10.0.0.1"},
	{name: "empty port is garbage", peer: "10.0.0.1", xff: "198.51.100.9:", want: "10.0.0.1"},
	{name: "ipv6 without brackets and a port-like tail is ipv6", peer: "10.0.0.1", xff: "2001:db8::1:80", want: "2001:db8::1:80"},
	{name: "zone is dropped", peer: "10.0.0.1", xff: "fe80::1%eth0", want: "fe80::1"},
	{name: "leading zero octet is garbage", peer: "10.0.0.1", xff: "198.051.100.9", want: "10.0.0.1"},
	{name: "garbage after a good untrusted hop is never reached", peer: "10.0.0.1", xff: "junk, 198.51.100.9", want: "198.51.100.9"},
	{name: "hostname is garbage", peer: "10.0.0.1", xff: "unknown", want: "10.0.0.1"},
}

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrusted(testTrusted)
	require.NoError(t, err)
	for _, tc := range clientIPCases {
		t.Run(tc.name, func(t *testing.T) {
			got := trusted.ClientIP(netip.MustParseAddr(tc.peer), []byte(tc.xff))
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

func TestClientIPTrustsNobody(t *testing.T) {
	none, err := ParseTrusted("")
	require.NoError(t, err)
	for name, tr := range map[string]*Trusted{"nil": nil, "zero": {}, "empty list": none} {
		t.Run(name, func(t *testing.T) {
			got := tr.ClientIP(netip.MustParseAddr("::ffff:10.0.0.1"), []byte("198.51.100.9"))
			assert.Equal(t, netip.MustParseAddr("10.0.0.1"), got)
		})
	}
	t.Run("invalid peer", func(t *testing.T) {
		trusted, err := ParseTrusted(testTrusted)
		require.NoError(t, err)
		assert.Equal(t, netip.Addr{}, trusted.ClientIP(netip.Addr{}, []byte("198.51.100.9")))
	})
}

func TestClientIPDoesNotAllocate(t *testing.T) {
	trusted, err := ParseTrusted(testTrusted)
	require.NoError(t, err)
	for _, tc := range clientIPCases {
		t.Run(tc.name, func(t *testing.T) {
			peer := netip.MustParseAddr(tc.peer)
			xff := []byte(tc.xff)
			var got netip.Addr
			allocs := testing.AllocsPerRun(100, func() { got = trusted.ClientIP(peer, xff) })
			assert.Zero(t, allocs)
			assert.Equal(t, netip.MustParseAddr(tc.want), got)
		})
	}
}

func TestParseTrusted(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		in      []string // trusted
		out     []string // not trusted
		wantErr string
	}{
		{name: "empty", list: "", out: []string{"10.0.0.1", "::1"}},
		{name: "blank entries", list: " , ,", out: []string{"10.0.0.1"}},
		{name: "ipv4 cidr", list: "10.0.0.0/8", in: []string{"10.0.0.1", "10.255.255.255", "::ffff:10.1.1.1"}, out: []string{"11.0.0.1"}},
		{name: "single ipv4", list: "127.0.0.1", in: []string{"127.0.0.1"}, out: []string{"127.0.0.2"}},
		{name: "single ipv6", list: "::1", in: []string{"::1"}, out: []string{"::2", "127.0.0.1"}},
		{name: "mixed list with spaces", list: " 2001:db8::/32 ,127.0.0.1", in: []string{"2001:db8:ffff::1", "127.0.0.1"}, out: []string{"2001:db9::1"}},
		{name: "host bits are ignored", list: "10.1.2.3/8", in: []string{"10.200.0.1"}},
		{name: "mapped cidr is ipv4", list: "::ffff:10.0.0.0/104", in: []string{"10.9.9.9"}, out: []string{"11.0.0.1"}},
		{name: "single mapped address is ipv4", list: "::ffff:10.0.0.1", in: []string{"10.0.0.1"}},
		{name: "prefix too long", list: "10.0.0.0/8, 10.0.0.0/33", wantErr: `"10.0.0.0/33"`},
		{name: "not an address", list: "10.0.0.0/8, bogus", wantErr: `"bogus"`},
		{name: "hostname", list: "localhost", wantErr: `"localhost"`},
		{name: "zone", list: "fe80::1%eth0", wantErr: `"fe80::1%eth0"`},
		{name: "cidr with zone", list: "fe80::%eth0/64", wantErr: `"fe80::%eth0/64"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := ParseTrusted(tc.list)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "cannot parse trusted proxy "+tc.wantErr)
				assert.Nil(t, tr)
				return
			}
			require.NoError(t, err)
			for _, s := range tc.in {
				assert.True(t, tr.contains(netip.MustParseAddr(s).Unmap()), "%s trusted", s)
			}
			for _, s := range tc.out {
				assert.False(t, tr.contains(netip.MustParseAddr(s).Unmap()), "%s not trusted", s)
			}
		})
	}
}

func TestAnonymize(t *testing.T) {
	tests := []struct {
		name string
		in   netip.Addr
		want string
	}{
		{name: "ipv4", in: netip.MustParseAddr("203.0.113.77"), want: "203.0.113.0"},
		{name: "ipv4 already zero", in: netip.MustParseAddr("10.0.0.0"), want: "10.0.0.0"},
		{name: "ipv4 broadcast", in: netip.MustParseAddr("255.255.255.255"), want: "255.255.255.0"},
		{name: "ipv4-mapped", in: netip.MustParseAddr("::ffff:203.0.113.77"), want: "203.0.113.0"},
		{name: "ipv6", in: netip.MustParseAddr("2001:db8:abcd:12:3456:789a:bcde:f012"), want: "2001:db8:abcd::"},
		{name: "ipv6 loopback", in: netip.MustParseAddr("::1"), want: "::"},
		{name: "ipv6 with zone", in: netip.MustParseAddr("fe80::1:2:3%eth0"), want: "fe80::"},
		{name: "ipv6 all ones", in: netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), want: "ffff:ffff:ffff::"},
		{name: "invalid", in: netip.Addr{}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Anonymize(tc.in))
		})
	}
}

func FuzzClientIP(f *testing.F) {
	for _, tc := range clientIPCases {
		f.Add(testTrusted, tc.peer, []byte(tc.xff))
	}
	f.Fuzz(func(t *testing.T, list, peerText string, xff []byte) {
		tr, err := ParseTrusted(list)
		if err != nil {
			return
		}
		peer, err := netip.ParseAddr(peerText)
		if err != nil {
			return
		}
		before := string(xff)
		got := tr.ClientIP(peer, xff)
		require.Equal(t, before, string(xff), "xff is not modified")
		require.False(t, got.Is4In6(), "result is unmapped")
		require.Empty(t, got.Zone(), "result has no zone")
		if !tr.contains(peer.Unmap().WithZone("")) {
			require.Equal(t, peer.Unmap().WithZone(""), got, "untrusted peer wins")
		}
	})
}
