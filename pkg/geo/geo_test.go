package geo

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shortener/shortener/pkg/clicks"
	"github.com/shortener/shortener/pkg/geo/geotest"
)

var testNets = map[string]string{
	"81.2.69.0/24":    "GB",
	"2001:db8::/32":   "DE",
	"1.1.1.0/24":      "AU",
	"1.1.1.128/25":    "NZ", // nested in 1.1.1.0/24: the narrower wins
	"192.0.2.0/24":    "xx", // odd data: lower-case "XX" is still unknown
	"198.51.100.0/24": "gb", // odd data: lower case is upper-cased
	"203.0.113.0/24":  "",   // a record without a usable code
}

func openTestDB(t *testing.T, header string) *Resolver {
	t.Helper()
	path := filepath.Join(t.TempDir(), "country.mmdb")
	geotest.WriteDB(t, path, testNets)
	r, err := Open(Config{Header: header, DBPath: path})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Close()) })
	return r
}

// countryCases run against a resolver with header "CF-IPCountry" and the
// test database; they also seed FuzzCountry.
var countryCases = []struct {
	name   string
	header string
	ip     string
	want   string
}{
	{name: "database ipv4", ip: "81.2.69.142", want: "GB"},
	{name: "database ipv4 first address", ip: "81.2.69.0", want: "GB"},
	{name: "database ipv4 last address", ip: "81.2.69.255", want: "GB"},
	{name: "database ipv4 outside", ip: "81.2.70.1", want: Unknown},
	{name: "database ipv6", ip: "2001:db8:1234::1", want: "DE"},
	{name: "database ipv6 outside", ip: "2001:db9::1", want: Unknown},
	{name: "database ipv4-mapped", ip: "::ffff:1.1.1.1", want: "AU"},
	{name: "database nested network", ip: "1.1.1.200", want: "NZ"},
	{name: "database XX is unknown", ip: "192.0.2.1", want: Unknown},
	{name: "database lower case is upper-cased", ip: "198.51.100.1", want: "GB"},
	{name: "database empty code", ip: "203.0.113.1", want: Unknown},
	{name: "no ip", ip: "", want: Unknown},
	{name: "header wins over database", header: "FR", ip: "81.2.69.142", want: "FR"},
	{name: "header without ip", header: "FR", want: "FR"},
	{name: "header lower case is upper-cased", header: "fr", ip: "81.2.69.142", want: "FR"},
	{name: "header with spaces", header: " jp\t", ip: "81.2.69.142", want: "JP"},
	{name: "header empty", header: "", ip: "81.2.69.142", want: "GB"},
	{name: "header one letter", header: "X", ip: "81.2.69.142", want: "GB"},
	{name: "header three letters", header: "XXX", ip: "81.2.69.142", want: "GB"},
	{name: "header digit", header: "1A", ip: "81.2.69.142", want: "GB"},
	{name: "header cloudflare unknown", header: "XX", ip: "81.2.69.142", want: "GB"},
	{name: "header lower-case unknown", header: "xx", ip: "81.2.69.142", want: "GB"},
	{name: "header cloudflare tor", header: "T1", ip: "81.2.69.142", want: "GB"},
	{name: "header non-ascii", header: "ÄB", ip: "2001:db8::1", want: "DE"},
	{name: "invalid header and no database match", header: "XX", ip: "8.8.8.8", want: Unknown},
}

func TestCountry(t *testing.T) {
	r := openTestDB(t, "CF-IPCountry")
	assert.Equal(t, "CF-IPCountry", r.Header())
	for _, tc := range countryCases {
		t.Run(tc.name, func(t *testing.T) {
			var ip netip.Addr
			if tc.ip != "" {
				ip = netip.MustParseAddr(tc.ip)
			}
			assert.Equal(t, tc.want, r.Country([]byte(tc.header), ip))
		})
	}
}

func TestCountryDoesNotAllocate(t *testing.T) {
	r := openTestDB(t, "CF-IPCountry")
	for _, tc := range countryCases {
		t.Run(tc.name, func(t *testing.T) {
			var ip netip.Addr
			if tc.ip != "" {
				ip = netip.MustParseAddr(tc.ip)
			}
			header := []byte(tc.header)
			var got string
			allocs := testing.AllocsPerRun(100, func() { got = r.Country(header, ip) })
			assert.Zero(t, allocs)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCountryIgnoresHeaderWhenNotConfigured(t *testing.T) {
	r := openTestDB(t, "")
	assert.Empty(t, r.Header())
	assert.Equal(t, "GB", r.Country([]byte("FR"), netip.MustParseAddr("81.2.69.142")))
	assert.Equal(t, Unknown, r.Country([]byte("FR"), netip.MustParseAddr("8.8.8.8")))
}

func TestCountryWithoutDatabase(t *testing.T) {
	r, err := Open(Config{Header: " CF-IPCountry "})
	require.NoError(t, err)
	assert.Equal(t, "CF-IPCountry", r.Header())
	assert.Equal(t, "FR", r.Country([]byte("FR"), netip.MustParseAddr("81.2.69.142")))
	assert.Equal(t, Unknown, r.Country([]byte("XX"), netip.MustParseAddr("81.2.69.142")))
	assert.Equal(t, Unknown, r.Country(nil, netip.MustParseAddr("81.2.69.142")))
	assert.NoError(t, r.Close())
}

func TestZeroConfigAndNilResolver(t *testing.T) {
	r, err := Open(Config{})
	require.NoError(t, err)
	assert.Equal(t, Unknown, r.Country([]byte("FR"), netip.MustParseAddr("81.2.69.142")))
	assert.NoError(t, r.Close())

	var nilR *Resolver
	assert.Equal(t, Unknown, nilR.Country([]byte("FR"), netip.MustParseAddr("81.2.69.142")))
	assert.Empty(t, nilR.Header())
	assert.NoError(t, nilR.Close())
}

func TestCloseTwiceAndAnswerAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "country.mmdb")
	geotest.WriteDB(t, path, testNets)
	r, err := Open(Config{Header: "CF-IPCountry", DBPath: path})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.NoError(t, r.Close())
	assert.Equal(t, "FR", r.Country([]byte("FR"), netip.MustParseAddr("81.2.69.142")))
	assert.Equal(t, Unknown, r.Country(nil, netip.MustParseAddr("81.2.69.142")))
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notMMDB := filepath.Join(dir, "not.mmdb")
	require.NoError(t, os.WriteFile(notMMDB, []byte("this is not a MaxMind database\n"), 0o600))
	empty := filepath.Join(dir, "empty.mmdb")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))

	tests := []struct {
		name string
		path string
	}{
		{name: "missing file", path: filepath.Join(dir, "missing.mmdb")},
		{name: "not an mmdb", path: notMMDB},
		{name: "empty file", path: empty},
		{name: "directory", path: dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(Config{DBPath: tc.path})
			require.Error(t, err)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), "cannot open geo database "+`"`+tc.path+`"`)
		})
	}
}

func TestCountryConcurrent(t *testing.T) {
	r := openTestDB(t, "CF-IPCountry")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 500 {
				tc := countryCases[i%len(countryCases)]
				var ip netip.Addr
				if tc.ip != "" {
					ip = netip.MustParseAddr(tc.ip)
				}
				if got := r.Country([]byte(tc.header), ip); got != tc.want {
					t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestInternTable(t *testing.T) {
	assert.Equal(t, "AA", codes[0])
	assert.Equal(t, "ZZ", codes[len(codes)-1])
	assert.Equal(t, "GB", codes[('G'-'A')*26+'B'-'A'])
	assert.Equal(t, clicks.CountryUnknown, Unknown)
}

func FuzzCountry(f *testing.F) {
	path := filepath.Join(f.TempDir(), "country.mmdb")
	geotest.WriteDB(f, path, testNets)
	r, err := Open(Config{Header: "CF-IPCountry", DBPath: path})
	require.NoError(f, err)
	f.Cleanup(func() { _ = r.Close() })
	for _, tc := range countryCases {
		var ip []byte
		if tc.ip != "" {
			ip = netip.MustParseAddr(tc.ip).AsSlice()
		}
		f.Add([]byte(tc.header), ip)
	}
	f.Fuzz(func(t *testing.T, header, ipBytes []byte) {
		ip, _ := netip.AddrFromSlice(ipBytes)
		got := r.Country(header, ip)
		if got == Unknown {
			return
		}
		require.Len(t, got, 2)
		require.True(t, 'A' <= got[0] && got[0] <= 'Z' && 'A' <= got[1] && got[1] <= 'Z', "got %q", got)
		require.NotEqual(t, "XX", got)
	})
}

func BenchmarkCountry(b *testing.B) {
	path := filepath.Join(b.TempDir(), "country.mmdb")
	geotest.WriteDB(b, path, testNets)
	r, err := Open(Config{Header: "CF-IPCountry", DBPath: path})
	require.NoError(b, err)
	b.Cleanup(func() { _ = r.Close() })
	for _, bc := range []struct {
		name   string
		header string
		ip     string
	}{
		{name: "header", header: "FR", ip: "81.2.69.142"},
		{name: "database", ip: "81.2.69.142"},
		{name: "database miss", ip: "8.8.8.8"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			header, ip := []byte(bc.header), netip.MustParseAddr(bc.ip)
			b.ReportAllocs()
			for b.Loop() {
				r.Country(header, ip)
			}
		})
	}
}
