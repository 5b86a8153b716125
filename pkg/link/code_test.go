package link

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var codeCases = []struct {
	name string
	code string
	want error
}{
	{"three chars", "abc", nil},
	{"mixed", "Promo_2026-Dec", nil},
	{"64 chars", strings.Repeat("a", 64), nil},
	{"two chars", "ab", ErrCodeLength},
	{"65 chars", strings.Repeat("a", 65), ErrCodeLength},
	{"slash", "a/b", ErrCodeChars},
	{"dot", "a.b", ErrCodeChars},
	{"path traversal", "../etc", ErrCodeChars},
	{"space", "a b", ErrCodeChars},
	{"NUL", "ab\x00", ErrCodeChars},
	{"CRLF", "ab\r\n", ErrCodeChars},
	{"percent", "ab%41", ErrCodeChars},
	{"non-ASCII", "café", ErrCodeChars},
	{"reserved api", "api", ErrCodeReserved},
	{"reserved any case", "MeTrIcS", ErrCodeReserved},
	{"reserved healthz", "healthz", ErrCodeReserved},
	{"reserved readyz", "readyz", ErrCodeReserved},
	{"favicon", "favicon.ico", ErrCodeChars},
	{"robots", "robots.txt", ErrCodeChars},
}

func TestValidateCustomCode(t *testing.T) {
	for _, tc := range codeCases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateCustomCode(tc.code)
			if tc.want == nil {
				assert.NoError(t, err, "ValidateCustomCode(%q)", tc.code)
			} else {
				assert.ErrorIs(t, err, tc.want, "ValidateCustomCode(%q)", tc.code)
			}
		})
	}
	assert.True(t, IsReserved("favicon.ico") && IsReserved("ROBOTS.TXT"), "favicon.ico and robots.txt are reserved names")
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	counts := map[byte]int{}
	for i := 0; i < 20000; i++ {
		c := NewCode()
		assert.Len(t, c, RandomCodeLength)
		assert.True(t, ValidLookup(c), "NewCode() = %q is not a valid code", c)
		assert.False(t, seen[c], "NewCode() repeated %q", c)
		seen[c] = true
		for j := 0; j < len(c); j++ {
			counts[c[j]]++
		}
	}
	assert.Len(t, counts, 62, "every base62 character should appear")
	for ch, n := range counts {
		// 140000 draws over 62 symbols: mean 2258; a biased draw would skew some far off.
		assert.InDelta(t, 2258, n, 300, "character %q drawn %d times", ch, n)
	}
}

func FuzzValidateCustomCode(f *testing.F) {
	for _, tc := range codeCases {
		f.Add(tc.code)
	}
	f.Fuzz(func(t *testing.T, code string) {
		if ValidateCustomCode(code) == nil && !ValidLookup(code) {
			t.Fatalf("ValidateCustomCode(%q) accepted what ValidLookup refuses", code)
		}
		if ValidLookup(code) != ValidLookup([]byte(code)) {
			t.Fatalf("ValidLookup disagrees for string and bytes of %q", code)
		}
	})
}

func BenchmarkNewCode(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = NewCode()
	}
}
