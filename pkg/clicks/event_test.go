package clicks

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

var (
	testTime = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)
	testMS   = "1741964966535"
)

// encodeCases pairs events with their exact encodings. They also seed the
// fuzz targets.
var encodeCases = []struct {
	name string
	in   Event
	want string
}{
	{
		name: "typical",
		in: Event{Code: "abc123", Time: testTime, IP: "81.2.69.142", UserAgent: chromeUA,
			Referer: "https://example.com/page?q=1", Country: "GB"},
		want: "1\t" + testMS + "\tabc123\tGB\t81.2.69.142\thttps://example.com/page?q=1\t" + chromeUA,
	},
	{
		name: "zero event",
		in:   Event{},
		want: "1\t-62135596800000\t\tunknown\t\t\t",
	},
	{
		name: "empty strings unknown country",
		in:   Event{Code: "x", Time: time.UnixMilli(0), Country: "unknown"},
		want: "1\t0\tx\tunknown\t\t\t",
	},
	{
		name: "negative time",
		in:   Event{Code: "x", Time: time.UnixMilli(-1500), Country: "US"},
		want: "1\t-1500\tx\tUS\t\t\t",
	},
	{
		name: "time in another zone is written as UTC milliseconds",
		in:   Event{Code: "x", Time: testTime.In(time.FixedZone("UTC+5", 5*3600)), Country: "FR"},
		want: "1\t" + testMS + "\tx\tFR\t\t\t",
	},
	{
		name: "lower-case country is upper-cased",
		in:   Event{Code: "x", Time: testTime, Country: "de"},
		want: "1\t" + testMS + "\tx\tDE\t\t\t",
	},
	{
		name: "invalid countries become unknown",
		in:   Event{Code: "x", Time: testTime, Country: "D1"},
		want: "1\t" + testMS + "\tx\tunknown\t\t\t",
	},
	{
		name: "three letter country becomes unknown",
		in:   Event{Code: "x", Time: testTime, Country: "GBR"},
		want: "1\t" + testMS + "\tx\tunknown\t\t\t",
	},
	{
		name: "ipv6 is canonicalised",
		in:   Event{Code: "x", Time: testTime, IP: "2001:0DB8:0000:0000:0000:0000:0000:0001", Country: "DE"},
		want: "1\t" + testMS + "\tx\tDE\t2001:db8::1\t\t",
	},
	{
		name: "ipv4-mapped ipv6 is unmapped",
		in:   Event{Code: "x", Time: testTime, IP: "::ffff:1.2.3.4", Country: "AU"},
		want: "1\t" + testMS + "\tx\tAU\t1.2.3.4\t\t",
	},
	{
		name: "zone is dropped",
		in:   Event{Code: "x", Time: testTime, IP: "fe80::1%eth0", Country: "AU"},
		want: "1\t" + testMS + "\tx\tAU\tfe80::1\t\t",
	},
	{
		name: "unparsable ip is dropped",
		in:   Event{Code: "x", Time: testTime, IP: "1.2.3.4\tevil", Country: "AU"},
		want: "1\t" + testMS + "\tx\tAU\t\t\t",
	},
	{
		name: "control bytes become spaces",
		in: Event{Code: "a\tb", Time: testTime, Country: "GB",
			UserAgent: "ua\twith\ttabs\nand\r\nnewlines\x00\x7f", Referer: "https://e.com/\x1b[31m"},
		want: "1\t" + testMS + "\ta b\tGB\t\thttps://e.com/ [31m\tua with tabs and  newlines  ",
	},
	{
		name: "invalid utf-8 becomes U+FFFD",
		in:   Event{Code: "x", Time: testTime, Country: "GB", UserAgent: "a\xffb\xc3"},
		want: "1\t" + testMS + "\tx\tGB\t\t\ta\uFFFDb\uFFFD",
	},
	{
		name: "multi-byte text is kept",
		in:   Event{Code: "x", Time: testTime, Country: "JP", UserAgent: "ブラウザ", Referer: "https://例え.jp/"},
		want: "1\t" + testMS + "\tx\tJP\t\thttps://例え.jp/\tブラウザ",
	},
	{
		name: "long user agent is truncated",
		in:   Event{Code: "x", Time: testTime, Country: "GB", UserAgent: strings.Repeat("u", MaxUserAgent+10)},
		want: "1\t" + testMS + "\tx\tGB\t\t\t" + strings.Repeat("u", MaxUserAgent),
	},
	{
		name: "long referer is truncated on a rune boundary",
		in:   Event{Code: "x", Time: testTime, Country: "GB", Referer: strings.Repeat("r", MaxReferer-2) + "é" + "é"},
		want: "1\t" + testMS + "\tx\tGB\t\t" + strings.Repeat("r", MaxReferer-2) + "é\t",
	},
	{
		name: "truncation does not split a three byte rune",
		in:   Event{Code: "x", Time: testTime, Country: "GB", UserAgent: strings.Repeat("u", MaxUserAgent-2) + "€"},
		want: "1\t" + testMS + "\tx\tGB\t\t\t" + strings.Repeat("u", MaxUserAgent-2),
	},
	{
		name: "long code is truncated",
		in:   Event{Code: strings.Repeat("c", MaxCode+1), Time: testTime, Country: "GB"},
		want: "1\t" + testMS + "\t" + strings.Repeat("c", MaxCode) + "\tGB\t\t\t",
	},
}

func TestAppendEncode(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendEncode(nil, &tc.in)
			assert.Equal(t, tc.want, string(got))
			assert.LessOrEqual(t, len(got), MaxEncodedLen)

			prefix := AppendEncode([]byte("prefix:"), &tc.in)
			assert.Equal(t, "prefix:"+tc.want, string(prefix), "appends after existing bytes")

			dec, err := Decode(tc.want)
			require.NoError(t, err)
			norm := Normalize(tc.in)
			assert.Equal(t, norm, dec)
			assert.Equal(t, norm, Normalize(norm), "Normalize is idempotent")
			assert.Equal(t, time.UTC, dec.Time.Location())
		})
	}
}

func TestMaxEncodedLen(t *testing.T) {
	e := Event{
		Code:      strings.Repeat("c", MaxCode+5),
		Time:      time.UnixMilli(math.MinInt64),
		IP:        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		UserAgent: strings.Repeat("u", MaxUserAgent+5),
		Referer:   strings.Repeat("r", MaxReferer+5),
		Country:   "??",
		Kind:      KindOrphan,
	}
	assert.Len(t, AppendEncode(nil, &e), MaxEncodedLen, "the longest: an orphan (version 2) with every field at its limit")
}

var decodeErrorCases = []struct {
	name        string
	in          string
	wantVersion bool
}{
	{name: "empty", in: ""},
	{name: "garbage", in: "hello world"},
	{name: "future version", in: "2\t" + testMS + "\tx\tGB\t\t\t", wantVersion: true},
	{name: "future version alone", in: "2", wantVersion: true},
	{name: "non-numeric version", in: "v1\t" + testMS + "\tx\tGB\t\t\t"},
	{name: "too few fields", in: "1\t" + testMS + "\tx\tGB\t\t"},
	{name: "too many fields", in: "1\t" + testMS + "\tx\tGB\t\t\t\t"},
	{name: "empty time", in: "1\t\tx\tGB\t\t\t"},
	{name: "time with plus sign", in: "1\t+5\tx\tGB\t\t\t"},
	{name: "time with leading zero", in: "1\t05\tx\tGB\t\t\t"},
	{name: "negative zero time", in: "1\t-0\tx\tGB\t\t\t"},
	{name: "lone minus time", in: "1\t-\tx\tGB\t\t\t"},
	{name: "time overflows int64", in: "1\t9223372036854775808\tx\tGB\t\t\t"},
	{name: "fractional time", in: "1\t1.5\tx\tGB\t\t\t"},
	{name: "long code", in: "1\t0\t" + strings.Repeat("c", MaxCode+1) + "\tGB\t\t\t"},
	{name: "code with control byte", in: "1\t0\ta\x01b\tGB\t\t\t"},
	{name: "lower-case country", in: "1\t0\tx\tgb\t\t\t"},
	{name: "empty country", in: "1\t0\tx\t\t\t\t"},
	{name: "three letter country", in: "1\t0\tx\tGBR\t\t\t"},
	{name: "non-canonical ipv6", in: "1\t0\tx\tGB\t2001:DB8::1\t\t"},
	{name: "mapped ipv4", in: "1\t0\tx\tGB\t::ffff:1.2.3.4\t\t"},
	{name: "ip with zone", in: "1\t0\tx\tGB\tfe80::1%eth0\t\t"},
	{name: "not an ip", in: "1\t0\tx\tGB\tlocalhost\t\t"},
	{name: "ip with port", in: "1\t0\tx\tGB\t1.2.3.4:80\t\t"},
	{name: "long referer", in: "1\t0\tx\tGB\t\t" + strings.Repeat("r", MaxReferer+1) + "\t"},
	{name: "referer with newline", in: "1\t0\tx\tGB\t\ta\nb\t"},
	{name: "long user agent", in: "1\t0\tx\tGB\t\t\t" + strings.Repeat("u", MaxUserAgent+1)},
	{name: "user agent with invalid utf-8", in: "1\t0\tx\tGB\t\t\ta\xffb"},
	{name: "user agent with carriage return", in: "1\t0\tx\tGB\t\t\tab\r"},
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range decodeErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformed)
			assert.Equal(t, tc.wantVersion, errors.Is(err, ErrVersion), "ErrVersion")
			assert.True(t, strings.HasPrefix(err.Error(), "cannot decode click event: "), err.Error())
		})
	}
}

func TestDecodeKeepsSubstrings(t *testing.T) {
	in := encodeCases[0].want
	e, err := Decode(in)
	require.NoError(t, err)
	assert.Equal(t, encodeCases[0].in.UserAgent, e.UserAgent)
	assert.Equal(t, time.UnixMilli(testTime.UnixMilli()).UTC(), e.Time)
}

func TestAppendEncodeDoesNotAllocate(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			buf := make([]byte, 0, MaxEncodedLen)
			allocs := testing.AllocsPerRun(100, func() {
				buf = AppendEncode(buf[:0], &tc.in)
			})
			assert.Zero(t, allocs)
		})
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var sink Event
			allocs := testing.AllocsPerRun(100, func() {
				sink, _ = Decode(tc.want)
			})
			assert.Zero(t, allocs)
			assert.Equal(t, Normalize(tc.in), sink)
		})
	}
}

func TestNormalizeKeepsCleanStrings(t *testing.T) {
	e := encodeCases[0].in
	n := Normalize(e)
	assert.Equal(t, e.UserAgent, n.UserAgent)
	assert.Equal(t, e.IP, n.IP)
	assert.Equal(t, e.Country, n.Country)
	allocs := testing.AllocsPerRun(100, func() { n = Normalize(e) })
	assert.Zero(t, allocs, "Normalize of an already normal event does not allocate")
}

func FuzzEventRoundTrip(f *testing.F) {
	for _, tc := range encodeCases {
		_, off := tc.in.Time.Zone()
		f.Add(tc.in.Code, tc.in.Time.Unix(), int64(tc.in.Time.Nanosecond()), int32(off),
			tc.in.IP, tc.in.UserAgent, tc.in.Referer, tc.in.Country)
	}
	f.Fuzz(func(t *testing.T, code string, sec, nsec int64, zoneOffset int32, ip, ua, ref, country string) {
		e := Event{
			Kind:      Kind(byte(sec) % 3 * 'h' / 2), // 0, 'h'/2 (not a kind) or 'h'
			Code:      code,
			Time:      time.Unix(sec, nsec).In(time.FixedZone("fuzz", int(zoneOffset%(24*3600)))),
			IP:        ip,
			UserAgent: ua,
			Referer:   ref,
			Country:   country,
		}
		norm := Normalize(e)
		require.Equal(t, norm, Normalize(norm), "Normalize is idempotent")

		enc := AppendEncode(nil, &e)
		require.LessOrEqual(t, len(enc), MaxEncodedLen)
		got, err := Decode(string(enc))
		require.NoError(t, err, "encoding %q", enc)
		require.Equal(t, norm, got)
		require.Equal(t, string(enc), string(AppendEncode(nil, &norm)), "a normal event encodes the same")
	})
}

func FuzzDecode(f *testing.F) {
	for _, tc := range encodeCases {
		f.Add(tc.want)
	}
	for _, tc := range decodeErrorCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Decode(s)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.Equal(t, e, Normalize(e), "decoded events are normal")
		require.Equal(t, s, string(AppendEncode(nil, &e)), "Decode accepts only what AppendEncode writes")
	})
}

func BenchmarkEncode(b *testing.B) {
	e := encodeCases[0].in
	buf := make([]byte, 0, MaxEncodedLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], &e)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecode(b *testing.B) {
	s := encodeCases[0].want
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := Decode(s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestKindsRoundTrip(t *testing.T) {
	at := time.UnixMilli(1764860400123).UTC()
	for _, k := range []Kind{KindClick, KindHead, KindOrphan} {
		e := Event{Code: "/some/path.php", Time: at, IP: "192.0.2.1", Referer: "https://x.example/", UserAgent: "ua", Country: "DE", Kind: k}
		enc := string(AppendEncode(nil, &e))
		if k == KindClick {
			assert.True(t, strings.HasPrefix(enc, "1\t"), "clicks keep version 1: %q", enc)
		} else {
			assert.True(t, strings.HasPrefix(enc, "2\t"+string(rune(k))+"\t1\t"), "other kinds are version 2: %q", enc)
		}
		got, err := Decode(enc)
		require.NoError(t, err)
		assert.Equal(t, e, got)
	}
	for _, bad := range []string{"2\tx\t1\t1\tc\tDE\t\t\t", "2\th\t", "2\t"} {
		_, err := Decode(bad)
		assert.ErrorIs(t, err, ErrMalformed, "Decode(%q)", bad)
	}
}
