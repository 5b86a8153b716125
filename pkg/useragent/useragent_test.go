package useragent

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Real agents (and a few hostile ones) with the Info we expect for each.
var cases = []struct {
	name string
	ua   string
	want Info
}{
	// Desktop browsers.
	{"chrome windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		Info{Device: "desktop", Browser: "Chrome", OS: "Windows"}},
	{"safari macos",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
		Info{Device: "desktop", Browser: "Safari", OS: "Mac OS X"}},
	{"chrome macos",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		Info{Device: "desktop", Browser: "Chrome", OS: "Mac OS X"}},
	{"firefox linux",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		Info{Device: "desktop", Browser: "Firefox", OS: "Linux"}},
	{"firefox ubuntu",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		Info{Device: "desktop", Browser: "Firefox", OS: "Ubuntu"}},
	{"edge windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
		Info{Device: "desktop", Browser: "Edge", OS: "Windows"}},
	{"opera windows",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
		Info{Device: "desktop", Browser: "Opera", OS: "Windows"}},
	{"chrome chromeos",
		"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		Info{Device: "desktop", Browser: "Chrome", OS: "Chrome OS"}},
	{"ie8 with tablet pc token is desktop",
		"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2; .NET CLR 2.0.50727; Media Center PC 6.0; Tablet PC 2.0)",
		Info{Device: "desktop", Browser: "IE", OS: "Windows"}},
	{"samsung smart tv is desktop",
		"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
		Info{Device: "desktop", Browser: "Samsung Internet", OS: "Tizen"}},
	{"fire tv is desktop",
		"Mozilla/5.0 (Linux; Android 9; AFTMM) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.1.1 like Chrome/124.0.6367.118 Safari/537.36",
		Info{Device: "desktop", Browser: "Amazon Silk", OS: "Android"}},

	// Phones.
	{"safari iphone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
		Info{Device: "mobile", Browser: "Mobile Safari", OS: "iOS"}},
	{"chrome iphone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
		Info{Device: "mobile", Browser: "Chrome Mobile iOS", OS: "iOS"}},
	{"facebook in-app iphone",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/16.6;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
		Info{Device: "mobile", Browser: "Facebook", OS: "iOS"}},
	{"chrome android phone reduced",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		Info{Device: "mobile", Browser: "Chrome Mobile", OS: "Android"}},
	{"chrome android pixel",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
		Info{Device: "mobile", Browser: "Chrome Mobile", OS: "Android"}},
	{"samsung internet phone",
		"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
		Info{Device: "mobile", Browser: "Samsung Internet", OS: "Android"}},
	{"instagram in-app android",
		"Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 Instagram 329.0.0.41.93 Android",
		Info{Device: "mobile", Browser: "Instagram", OS: "Android"}},
	{"firefox android phone",
		"Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
		Info{Device: "mobile", Browser: "Firefox Mobile", OS: "Android"}},
	{"opera mini android",
		"Opera/9.80 (Android; Opera Mini/7.5.33361/31.1448; U; en) Presto/2.8.119 Version/11.1010",
		Info{Device: "mobile", Browser: "Opera Mini", OS: "Android"}},
	{"edge windows phone",
		"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977",
		Info{Device: "mobile", Browser: "Edge Mobile", OS: "Windows Phone"}},
	{"cubot phone underscore",
		"Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
		Info{Device: "mobile", Browser: "Chrome Mobile", OS: "Android"}},
	{"cubot phone space",
		"Mozilla/5.0 (Linux; Android 9; CUBOT P30 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
		Info{Device: "mobile", Browser: "Chrome Mobile", OS: "Android"}},

	// Tablets.
	{"chrome android tablet reduced",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		Info{Device: "tablet", Browser: "Chrome", OS: "Android"}},
	{"chrome galaxy tab",
		"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36",
		Info{Device: "tablet", Browser: "Chrome", OS: "Android"}},
	{"firefox android tablet",
		"Mozilla/5.0 (Android 14; Tablet; rv:125.0) Gecko/125.0 Firefox/125.0",
		Info{Device: "tablet", Browser: "Firefox Mobile", OS: "Android"}},
	{"safari ipad",
		"Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
		Info{Device: "tablet", Browser: "Mobile Safari", OS: "iOS"}},
	{"kindle e-reader",
		"Mozilla/5.0 (Linux; U; en-US) AppleWebKit/528.5+ (KHTML, like Gecko, Safari/528.5+) Version/4.0 Kindle/3.0 (screen 600X800; rotate)",
		Info{Device: "tablet", Browser: "Kindle", OS: "Kindle"}},
	{"kindle fire silk says mobile safari",
		"Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/535.19 (KHTML, like Gecko) Silk/3.4 Mobile Safari/535.19 Silk-Accelerated=true",
		Info{Device: "tablet", Browser: "Amazon Silk", OS: "Android"}},
	{"fire tablet silk",
		"Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.2.1 like Chrome/124.0.6367.118 Safari/537.36",
		Info{Device: "tablet", Browser: "Amazon Silk", OS: "Android"}},

	// Crawlers and link-preview fetchers.
	{"googlebot",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		Info{Device: "bot", Browser: "Googlebot", OS: "Other", Bot: true}},
	{"googlebot smartphone",
		"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		Info{Device: "bot", Browser: "Googlebot", OS: "Android", Bot: true}},
	{"bingbot",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		Info{Device: "bot", Browser: "bingbot", OS: "Other", Bot: true}},
	{"applebot",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1 (Applebot/0.1; +http://www.apple.com/go/applebot)",
		Info{Device: "bot", Browser: "Applebot", OS: "iOS", Bot: true}},
	{"slackbot link expanding",
		"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
		Info{Device: "bot", Browser: "Slackbot-LinkExpanding", OS: "Other", Bot: true, Preview: true}},
	{"twitterbot",
		"Twitterbot/1.0",
		Info{Device: "bot", Browser: "Twitterbot", OS: "Other", Bot: true, Preview: true}},
	{"facebookexternalhit",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		Info{Device: "bot", Browser: "FacebookBot", OS: "Other", Bot: true, Preview: true}},
	{"whatsapp",
		"WhatsApp/2.23.20.0 A",
		Info{Device: "bot", Browser: "WhatsApp", OS: "Other", Bot: true, Preview: true}},
	{"discordbot",
		"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
		Info{Device: "bot", Browser: "Discordbot", OS: "Other", Bot: true, Preview: true}},
	{"telegrambot",
		"TelegramBot (like TwitterBot)",
		Info{Device: "bot", Browser: "TelegramBot", OS: "Other", Bot: true, Preview: true}},
	{"skype uri preview on windows",
		"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
		Info{Device: "bot", Browser: "Other", OS: "Windows", Bot: true, Preview: true}},
	{"gptbot",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
		Info{Device: "bot", Browser: "GPTBot", OS: "Other", Bot: true}},
	{"mediapartners google",
		"Mediapartners-Google",
		Info{Device: "bot", Browser: "Mediapartners-Google", OS: "Other", Bot: true}},

	// Tools, libraries and headless browsers.
	{"curl", "curl/8.5.0", Info{Device: "bot", Browser: "curl", OS: "Other", Bot: true}},
	{"wget", "Wget/1.21.4", Info{Device: "bot", Browser: "Wget", OS: "Other", Bot: true}},
	{"python requests", "python-requests/2.31.0", Info{Device: "bot", Browser: "Python Requests", OS: "Other", Bot: true}},
	{"go http client", "Go-http-client/1.1", Info{Device: "bot", Browser: "Go-http-client", OS: "Other", Bot: true}},
	{"okhttp", "okhttp/4.12.0", Info{Device: "bot", Browser: "okhttp", OS: "Other", Bot: true}},
	{"java", "Java/17.0.2", Info{Device: "bot", Browser: "Java", OS: "Other", Bot: true}},
	{"libwww perl", "libwww-perl/6.72", Info{Device: "bot", Browser: "libwww-perl", OS: "Other", Bot: true}},
	{"axios", "axios/1.6.8", Info{Device: "bot", Browser: "axios", OS: "Other", Bot: true}},
	{"node fetch", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"android dalvik http stack",
		"Dalvik/2.1.0 (Linux; U; Android 11; SM-A125F Build/RP1A.200720.012)",
		Info{Device: "bot", Browser: "Android", OS: "Android", Bot: true}},
	{"headless chrome",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
		Info{Device: "bot", Browser: "HeadlessChrome", OS: "Linux", Bot: true}},
	{"phantomjs",
		"Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
		Info{Device: "bot", Browser: "PhantomJS", OS: "Linux", Bot: true}},

	// Hostile and degenerate input.
	{"empty", "", Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"blank", " \t ", Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"bare mozilla", "Mozilla/5.0", Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"100 KB garbage", strings.Repeat("garbage-", 100<<10/8), Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"binary bytes", "\x00\x01\x02\x7f\xff\xfe\xfd\x80\x81\xc0\xc1\xf5\r\n\x1b[0m", Info{Device: "bot", Browser: "Other", OS: "Other", Bot: true}},
	{"chrome followed by 100 KB of padding",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 " + strings.Repeat("x", 100<<10),
		Info{Device: "desktop", Browser: "Chrome", OS: "Windows"}},
}

// caseUA returns the agent of the named case.
func caseUA(tb testing.TB, name string) string {
	tb.Helper()
	for _, tc := range cases {
		if tc.name == name {
			return tc.ua
		}
	}
	require.FailNow(tb, "no such case", name)
	return ""
}

func TestClassify(t *testing.T) {
	c, err := New(0)
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, c.Classify(tc.ua))
			// The cached answer is the same.
			assert.Equal(t, tc.want, c.Classify(tc.ua))
		})
	}
}

func TestStatsCountsHitsAndMisses(t *testing.T) {
	c, err := New(0)
	require.NoError(t, err)
	hits, misses := c.Stats()
	require.Zero(t, hits)
	require.Zero(t, misses)

	ua := cases[0].ua
	for range 3 {
		c.Classify(ua)
	}
	hits, misses = c.Stats()
	assert.Equal(t, uint64(2), hits)
	assert.Equal(t, uint64(1), misses)

	c.Classify(cases[1].ua)
	hits, misses = c.Stats()
	assert.Equal(t, uint64(2), hits)
	assert.Equal(t, uint64(2), misses)
}

func TestLRUEvicts(t *testing.T) {
	c, err := New(1)
	require.NoError(t, err)
	a, b := cases[0].ua, cases[1].ua
	c.Classify(a)
	c.Classify(b) // evicts a
	c.Classify(a) // parsed again
	hits, misses := c.Stats()
	assert.Equal(t, uint64(0), hits)
	assert.Equal(t, uint64(3), misses)
}

func TestNewDefaultsCacheSize(t *testing.T) {
	for _, size := range []int{0, -1} {
		c, err := New(size)
		require.NoError(t, err)
		for i := range DefaultCacheSize + 10 {
			c.cache.Add(strconv.Itoa(i), Info{})
		}
		assert.Equal(t, DefaultCacheSize, c.cache.Len(), "size %d", size)
	}
}

func TestLongAgentsShareTheirPrefixKey(t *testing.T) {
	c, err := New(0)
	require.NoError(t, err)
	prefix := strings.Repeat("Mozilla/5.0 ", maxLen/12+1)
	require.Greater(t, len(prefix), maxLen)

	first := c.Classify(prefix + "one")
	second := c.Classify(prefix + "two")
	assert.Equal(t, first, second)
	hits, misses := c.Stats()
	assert.Equal(t, uint64(1), hits)
	assert.Equal(t, uint64(1), misses)
	for _, k := range c.cache.Keys() {
		assert.LessOrEqual(t, len(k), maxLen)
	}
}

func TestTruncate(t *testing.T) {
	assert.Equal(t, "abc", truncate("abc", 5))
	assert.Equal(t, "abcde", truncate("abcdef", 5))
	// "é" is 2 bytes: cutting inside it backs off before it.
	assert.Equal(t, "abcd", truncate("abcdé", 5))
	assert.Equal(t, "abc€", truncate("abc€x", 6))
	assert.Equal(t, "abc", truncate("abc€x", 5))
	// Continuation bytes all the way: cut at n.
	assert.Equal(t, "\x80\x80\x80\x80\x80", truncate(strings.Repeat("\x80", 10), 5))
}

func TestHasBotToken(t *testing.T) {
	for ua, want := range map[string]bool{
		"cubot_x30":                   false,
		"cubot note 20 pro":           false,
		"kingkong cubot; cubot p30":   false,
		"cubot x30 bot":               true,
		"cubotbot":                    true,
		"bot":                         true,
		"xbot":                        true,
		"mozilla/5.0 (windows nt 10)": false,
		"robot":                       true,
		"telegram-android/10.0":       false,
		"discord/1.0.9":               false,
		"googlebot/2.1":               true,
		"python-urllib/3.11":          true,
		"datadog agent/7":             true,
	} {
		assert.Equal(t, want, hasBotToken(ua), ua)
	}
}

func TestAsciiLower(t *testing.T) {
	assert.Equal(t, "already lower", asciiLower("already lower"))
	assert.Equal(t, "mixed ÄÖ case \xff", asciiLower("MiXeD ÄÖ CASE \xff"))
}

func TestClassifyConcurrent(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		cacheSize, goroutines, reps int
		n                           int // agents used, from the start of cases
	}{
		// Everything fits: goroutines race to parse and then hit.
		{name: "hits", cacheSize: len(cases), goroutines: 16, reps: 2, n: len(cases)},
		// Too small: goroutines keep evicting each other's entries.
		{name: "evictions", cacheSize: 2, goroutines: 4, reps: 2, n: 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cacheSize)
			require.NoError(t, err)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for g := range tt.goroutines {
				wg.Go(func() {
					<-start
					for i := range tt.reps * tt.n {
						tc := cases[(g+i)%tt.n] // each goroutine starts elsewhere
						if got := c.Classify(tc.ua); got != tc.want {
							t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
						}
						c.Stats()
					}
				})
			}
			close(start)
			wg.Wait()
			hits, misses := c.Stats()
			assert.Equal(t, uint64(tt.goroutines*tt.reps*tt.n), hits+misses)
			assert.GreaterOrEqual(t, misses, uint64(tt.n))
		})
	}
}

func BenchmarkClassifyCached(b *testing.B) {
	c, err := New(0)
	require.NoError(b, err)
	ua := caseUA(b, "chrome windows")
	c.Classify(ua)
	b.ReportAllocs()
	for b.Loop() {
		c.Classify(ua)
	}
}

// BenchmarkClassifyUncached parses a new agent every iteration by appending
// a counter to a real one.
func BenchmarkClassifyUncached(b *testing.B) {
	for _, bc := range []struct{ name, ua string }{
		{"desktop", caseUA(b, "chrome windows")}, // the common case
		{"mobile", caseUA(b, "chrome android pixel")},
		{"bot", caseUA(b, "googlebot")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := New(0)
			require.NoError(b, err)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c.Classify(bc.ua + " " + strconv.Itoa(i))
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.ua)
	}
	c, err := New(0)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, ua string) {
		info := c.Classify(ua)
		assert.Contains(t, []string{"desktop", "mobile", "tablet", "bot"}, info.Device)
		assert.Equal(t, info.Device == "bot", info.Bot)
		for _, fam := range []string{info.Browser, info.OS} {
			assert.NotEmpty(t, fam)
			assert.True(t, utf8.ValidString(fam), "%q", fam)
			assert.LessOrEqual(t, len(fam), maxFamilyLen)
		}
	})
}
