package link

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// urlCases is shared by TestURLPolicy and FuzzURLPolicy's seed corpus.
var urlCases = []struct {
	name string
	url  string
	want error
}{
	{"plain https", "https://example.com", nil},
	{"plain http with path", "http://example.com/a/b", nil},
	{"query and fragment", "https://example.com/p?q=1&r=%2F#frag", nil},
	{"percent escapes", "https://example.com/%E2%9C%93/a%20b", nil},
	{"non-ASCII host", "https://bücher.example/straße?x=ü", nil},
	{"punycode host", "https://xn--bcher-kva.example/", nil},
	{"port", "https://example.com:8443/x", nil},
	{"IPv4", "http://192.0.2.1/x", nil},
	{"IPv6", "http://[2001:db8::1]:8080/x", nil},
	{"upper-case scheme", "HTTPS://example.com/", nil},
	{"empty", "", ErrURLEmpty},
	{"javascript", "javascript:alert(1)", ErrURLScheme},
	{"data", "data:text/html,<script>alert(1)</script>", ErrURLScheme},
	{"file", "file:///etc/passwd", ErrURLScheme},
	{"ftp", "ftp://example.com/file", ErrURLScheme},
	{"relative", "/just/a/path", ErrURLScheme},
	{"scheme-less", "example.com/path", ErrURLScheme},
	{"protocol-relative", "//example.com/path", ErrURLScheme},
	{"no host", "http:///path", ErrURLHost},
	{"opaque", "http:example.com", ErrURLHost},
	{"empty label", "http://exa..mple.com/", ErrURLHost},
	{"bad host char", "http://exa!mple.com/", ErrURLHost},
	{"port zero", "http://example.com:0/", ErrURLHost},
	{"port too big", "http://example.com:70000/", ErrURLHost},
	{"userinfo", "https://user:pass@example.com/", ErrURLUserinfo},
	{"userinfo phishing", "https://google.com@evil.example/", ErrURLUserinfo},
	{"space", "https://example.com/a b", ErrURLChars},
	{"tab", "https://example.com/a\tb", ErrURLChars},
	{"CR", "https://example.com/a\rb", ErrURLChars},
	{"LF", "https://example.com/a\nSet-Cookie: x=1", ErrURLChars},
	{"CRLF header injection", "https://example.com/x\r\nLocation: https://evil.example", ErrURLChars},
	{"NUL", "https://example.com/\x00", ErrURLChars},
	{"DEL", "https://example.com/\x7f", ErrURLChars},
	{"C1 control", "https://example.com/\u0085", ErrURLChars},
	{"line separator", "https://example.com/\u2028", ErrURLChars},
	{"invalid UTF-8", "https://example.com/\xff\xfe", ErrURLChars},
	{"backslash", "https://example.com\\@evil.example/", ErrURLParse},
	{"bad escape", "https://example.com/%zz", ErrURLParse},
	{"self host", "http://sho.rt/abc", ErrURLSelf},
	{"self host upper case", "https://SHO.RT./abc", ErrURLSelf},
	{"blocked domain", "https://malware.example/x", ErrURLBlocked},
	{"blocked subdomain", "https://a.b.malware.example/x", ErrURLBlocked},
	{"not blocked lookalike", "https://notmalware.example/x", nil},
	{"too long", "https://example.com/" + strings.Repeat("a", 2048), ErrURLTooLong},
	{"at the limit", "https://example.com/" + strings.Repeat("a", 2048-len("https://example.com/")), nil},
}

func testPolicy(t testing.TB) *URLPolicy {
	p, err := NewURLPolicy(0, "https://sho.rt", strings.NewReader("# blocked\nmalware.example\n\n  PHISH.example  # trailing comment\n"))
	require.NoError(t, err)
	return p
}

func TestURLPolicy(t *testing.T) {
	p := testPolicy(t)
	require.Equal(t, 2, p.Blocked())
	require.Equal(t, DefaultMaxURLLength, p.MaxLen())
	for _, tc := range urlCases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, p.Check(tc.url), tc.want, "Check(%q)", tc.url)
			if tc.want == nil {
				assert.NoError(t, p.Check(tc.url), "Check(%q)", tc.url)
			}
		})
	}
	assert.ErrorIs(t, p.Check("https://www.phish.example/"), ErrURLBlocked)
}

func TestURLPolicyMaxLen(t *testing.T) {
	p, err := NewURLPolicy(30, "", nil)
	require.NoError(t, err)
	assert.NoError(t, p.Check("https://example.com/123456789"))
	assert.ErrorIs(t, p.Check("https://example.com/1234567890a"), ErrURLTooLong)
	_, err = NewURLPolicy(0, "not a url", nil)
	assert.Error(t, err)
}

func FuzzURLPolicy(f *testing.F) {
	for _, tc := range urlCases {
		f.Add(tc.url)
	}
	p := testPolicy(f)
	f.Fuzz(func(t *testing.T, raw string) {
		if p.Check(raw) != nil {
			return
		}
		// Whatever passes must be safe to put in a Location header.
		for i := 0; i < len(raw); i++ {
			if raw[i] <= ' ' || raw[i] == 0x7f {
				t.Fatalf("Check(%q) accepted a control byte or space", raw)
			}
		}
		l := strings.ToLower(raw)
		if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
			t.Fatalf("Check(%q) accepted a URL that is not http(s)://", raw)
		}
	})
}
