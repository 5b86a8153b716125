package qr

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// long200 is a realistic 200-byte URL: a short URL with tracking parameters.
var long200 = func() string {
	s := "https://sho.rt/AbC123x?utm_source=newsletter&utm_medium=email&utm_campaign=spring&ref="
	return s + strings.Repeat("x", 200-len(s))
}()

// contentCases is shared by TestRenderPNGRoundTrip, TestRenderSVG and the
// seed corpus of FuzzRender.
var contentCases = []struct {
	name    string
	content string
	size    int
}{
	{"short URL", "https://sho.rt/AbC123x", DefaultSize},
	{"short URL at min size", "https://sho.rt/AbC123x", MinSize},
	{"short URL at max size", "https://sho.rt/AbC123x", MaxSize},
	{"short URL odd size", "https://sho.rt/AbC123x", 333},
	{"custom code", "https://sho.rt/spring-sale_2026", DefaultSize},
	{"64-character code", "https://links.example.com/" + strings.Repeat("aZ9-", 16), DefaultSize},
	{"upper case (alphanumeric mode)", "HTTPS://SHO.RT/ABC123X", DefaultSize},
	{"digits (numeric mode)", "0123456789012345678901234567890", DefaultSize},
	{"non-ASCII", "https://bücher.example/straße", DefaultSize},
	{"200-byte URL", long200, DefaultSize},
	{"200-byte URL, one pixel per module", long200, 65}, // 57 modules + 8 quiet zone
}

// decodePNG decodes body as a PNG and then as a QR code. With pure, the
// decoder expects an upright code on a clean background, as drawPNG makes
// it, and reads the modules from the geometry; without, it searches for the
// finder patterns as it would in a photo. The search misses about 1 in 1,000
// valid codes (https://sho.rt/L3Cacff at 256 pixels is one; zbarimg reads
// it), so only tests of fixed content use it; the fuzzer uses pure.
func decodePNG(t testing.TB, body []byte, pure bool) (image.Image, string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(body))
	require.NoError(t, err, "png.Decode")
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err, "NewBinaryBitmapFromImage")
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_CHARACTER_SET: "UTF-8"}
	if pure {
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, hints)
	require.NoError(t, err, "QR decode")
	return img, res.GetText()
}

func TestRenderPNGRoundTrip(t *testing.T) {
	r := NewRenderer(16)
	for _, tc := range contentCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Render(tc.content, FormatPNG, tc.size)
			require.NoError(t, err)
			assert.Equal(t, "image/png", got.ContentType)
			img, text := decodePNG(t, got.Body, false)
			assert.Equal(t, image.Rect(0, 0, tc.size, tc.size), img.Bounds(), "PNG bounds")
			assert.Equal(t, tc.content, text, "decoded content")
			_, text = decodePNG(t, got.Body, true)
			assert.Equal(t, tc.content, text, "decoded content (pure)")
		})
	}
}

// TestRenderPNGQuietZone checks that the 4-module quiet zone and the margin
// around it are white and the code starts right after them.
func TestRenderPNGQuietZone(t *testing.T) {
	got, err := NewRenderer(0).Render("https://sho.rt/AbC123x", FormatPNG, 256)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(got.Body))
	require.NoError(t, err)
	// 22 bytes fit version 2 at level M: 25 modules + 2×4 quiet zone = 33,
	// 7 pixels each (231), centred in 256: the code starts at 12+4×7 = 40.
	const first = 12 + 4*7
	black := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r == 0 }
	for i := 0; i < 256; i++ {
		for _, p := range [][2]int{{i, first - 1}, {i, 255 - first + 1}, {first - 1, i}, {255 - first + 1, i}} {
			require.False(t, black(p[0], p[1]), "pixel %v in the quiet zone is black", p)
		}
	}
	// The finder pattern's top-left corner is black.
	assert.True(t, black(first, first), "pixel (%d, %d) = white, want black", first, first)
}

// TestDrawPNGPixels compares every pixel of drawPNG's output with the
// bitmap it draws: whole pixels per module, centred, white around.
func TestDrawPNGPixels(t *testing.T) {
	q, err := qrcode.New("https://sho.rt/AbC123x", qrcode.Medium)
	require.NoError(t, err)
	bitmap := q.Bitmap()
	n := len(bitmap)
	for _, size := range []int{n, n + 1, 64, 65, 71, 100, 256, 257, 1000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			body, err := drawPNG(bitmap, size)
			require.NoError(t, err)
			img, err := png.Decode(bytes.NewReader(body))
			require.NoError(t, err)
			require.Equal(t, image.Rect(0, 0, size, size), img.Bounds())
			scale := size / n
			off := (size - n*scale) / 2
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					mx, my := (x-off)/scale, (y-off)/scale
					want := x >= off && y >= off && mx < n && my < n && bitmap[my][mx]
					r, _, _, _ := img.At(x, y).RGBA()
					if got := r == 0; got != want {
						t.Fatalf("pixel (%d, %d) black = %v, want %v", x, y, got, want)
					}
				}
			}
		})
	}
	_, err = drawPNG(bitmap, n-1)
	assert.ErrorIs(t, err, ErrTooSmall, "drawPNG(%d modules, %d pixels)", n, n-1)
}

// svgDoc is the part of the SVG that the tests check.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Width   string   `xml:"width,attr"`
	Height  string   `xml:"height,attr"`
	ViewBox string   `xml:"viewBox,attr"`
	Rects   []struct {
		Fill string `xml:"fill,attr"`
	} `xml:"rect"`
	Paths []struct {
		Fill string `xml:"fill,attr"`
		D    string `xml:"d,attr"`
	} `xml:"path"`
}

func TestRenderSVG(t *testing.T) {
	r := NewRenderer(16)
	for _, tc := range contentCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Render(tc.content, FormatSVG, tc.size)
			require.NoError(t, err)
			assert.Equal(t, "image/svg+xml", got.ContentType)

			var doc svgDoc
			dec := xml.NewDecoder(bytes.NewReader(got.Body))
			dec.Strict = true
			require.NoError(t, dec.Decode(&doc), "SVG is not well-formed XML:\n%s", got.Body)
			assert.Equal(t, "http://www.w3.org/2000/svg", doc.XMLName.Space)
			assert.Equal(t, strconv.Itoa(tc.size), doc.Width, "width")
			assert.Equal(t, strconv.Itoa(tc.size), doc.Height, "height")
			require.Len(t, doc.Paths, 1, "paths")
			assert.Equal(t, "#000", doc.Paths[0].Fill)
			require.Len(t, doc.Rects, 1, "background rects")
			assert.Equal(t, "#fff", doc.Rects[0].Fill)

			n := modules(t, tc.content)
			assert.Equal(t, fmt.Sprintf("0 0 %d %d", n, n), doc.ViewBox, "viewBox")
			assert.Equal(t, pngModules(t, tc.content), svgModules(t, doc.Paths[0].D, n),
				"SVG path and PNG disagree on the modules")
		})
	}
}

// modules returns the side of content's code in modules, quiet zone included.
func modules(t *testing.T, content string) int {
	t.Helper()
	img, err := render(content, FormatSVG, DefaultSize)
	require.NoError(t, err)
	var doc svgDoc
	require.NoError(t, xml.Unmarshal(img.Body, &doc))
	var n, m int
	_, err = fmt.Sscanf(doc.ViewBox, "0 0 %d %d", &n, &m)
	require.NoError(t, err)
	return n
}

// pngModules samples a one-pixel-per-module PNG of content.
func pngModules(t *testing.T, content string) [][]bool {
	t.Helper()
	n := modules(t, content)
	img, err := render(content, FormatPNG, max(n, MinSize))
	require.NoError(t, err)
	dec, err := png.Decode(bytes.NewReader(img.Body))
	require.NoError(t, err)
	scale := max(n, MinSize) / n
	off := (max(n, MinSize) - n*scale) / 2
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
		for x := range out[y] {
			r, _, _, _ := dec.At(off+x*scale, off+y*scale).RGBA()
			out[y][x] = r == 0
		}
	}
	return out
}

// svgModules paints the runs of path data d, as drawSVG writes them, on an
// n×n grid; a run that overlaps another or leaves the grid fails the test.
func svgModules(t *testing.T, d string, n int) [][]bool {
	t.Helper()
	out := make([][]bool, n)
	for y := range out {
		out[y] = make([]bool, n)
	}
	for _, cmd := range strings.Split(strings.TrimSuffix(d, "z"), "z") {
		var x, y, w, x2 int
		_, err := fmt.Sscanf(cmd, "M%d %dh%dv1H%d", &x, &y, &w, &x2)
		require.NoError(t, err, "path command %q", cmd)
		require.Equal(t, x, x2, "run %q does not close", cmd)
		require.True(t, y >= 0 && y < n && x >= 0 && w > 0 && x+w <= n, "run %q leaves the %d×%d grid", cmd, n, n)
		for i := x; i < x+w; i++ {
			require.False(t, out[y][i], "run %q overlaps another", cmd)
			out[y][i] = true
		}
	}
	return out
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		format  string
		size    int
		want    error
	}{
		{"size 63", "https://sho.rt/a", FormatPNG, 63, ErrSize},
		{"size 2049", "https://sho.rt/a", FormatPNG, 2049, ErrSize},
		{"size 0", "https://sho.rt/a", FormatPNG, 0, ErrSize},
		{"size -1", "https://sho.rt/a", FormatPNG, -1, ErrSize},
		{"svg size 0", "https://sho.rt/a", FormatSVG, 0, ErrSize},
		{"format gif", "https://sho.rt/a", "gif", DefaultSize, ErrFormat},
		{"format empty", "https://sho.rt/a", "", DefaultSize, ErrFormat},
		{"format upper case", "https://sho.rt/a", "PNG", DefaultSize, ErrFormat},
		{"too long png", "https://sho.rt/" + strings.Repeat("a", 2400), FormatPNG, DefaultSize, ErrTooLong},
		{"too long svg", "https://sho.rt/" + strings.Repeat("a", 2400), FormatSVG, DefaultSize, ErrTooLong},
		{"too small png", long200, FormatPNG, 64, ErrTooSmall},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRenderer(4)
			got, err := r.Render(tc.content, tc.format, tc.size)
			assert.ErrorIs(t, err, tc.want, "Render(%.20q, %q, %d) error", tc.content, tc.format, tc.size)
			assert.Zero(t, got, "image on error")
			hits, renders := r.Stats()
			assert.Zero(t, hits+renders, "a failed Render counted")
		})
	}
}

func TestRenderLongestContent(t *testing.T) {
	// 2,331 bytes is the byte-mode capacity of version 40 at level M.
	r := NewRenderer(0)
	content := "https://sho.rt/" + strings.Repeat("a", 2331-len("https://sho.rt/"))
	got, err := r.Render(content, FormatPNG, MaxSize)
	require.NoError(t, err)
	_, text := decodePNG(t, got.Body, false)
	assert.Equal(t, content, text)

	_, err = r.Render(content+"a", FormatPNG, MaxSize)
	assert.ErrorIs(t, err, ErrTooLong)
}

func TestRenderCache(t *testing.T) {
	const content = "https://sho.rt/AbC123x"
	for _, format := range []string{FormatPNG, FormatSVG} {
		t.Run(format, func(t *testing.T) {
			r := NewRenderer(8)
			first, err := r.Render(content, format, DefaultSize)
			require.NoError(t, err)
			hits, renders := r.Stats()
			assert.Equal(t, [2]uint64{0, 1}, [2]uint64{hits, renders}, "Stats() after one Render")

			second, err := r.Render(content, format, DefaultSize)
			require.NoError(t, err)
			hits, renders = r.Stats()
			assert.Equal(t, [2]uint64{1, 1}, [2]uint64{hits, renders}, "Stats() after a repeat")
			assert.Equal(t, first.Body, second.Body, "cached body")
			assert.Equal(t, first.ETag, second.ETag, "cached ETag")

			// A fresh render gives the same bytes: the output is deterministic,
			// so the ETag is stable across instances and restarts.
			fresh, err := NewRenderer(0).Render(content, format, DefaultSize)
			require.NoError(t, err)
			assert.Equal(t, first.Body, fresh.Body, "body of a fresh render")
			assert.Equal(t, first.ETag, fresh.ETag, "ETag of a fresh render")

			bigger, err := r.Render(content, format, DefaultSize+1)
			require.NoError(t, err)
			assert.NotEqual(t, first.ETag, bigger.ETag, "ETag for another size")
			other, err := r.Render(content+"y", format, DefaultSize)
			require.NoError(t, err)
			assert.NotEqual(t, first.ETag, other.ETag, "ETag for other content")
			hits, renders = r.Stats()
			assert.Equal(t, [2]uint64{1, 3}, [2]uint64{hits, renders}, "Stats() after two new keys")
		})
	}
}

func TestETag(t *testing.T) {
	r := NewRenderer(8)
	seen := map[string]string{}
	for _, format := range []string{FormatPNG, FormatSVG} {
		for _, size := range []int{MinSize, DefaultSize, MaxSize} {
			img, err := r.Render("https://sho.rt/AbC123x", format, size)
			require.NoError(t, err)
			name := fmt.Sprintf("%s@%d", format, size)
			assert.Regexp(t, `^"[0-9a-f]{32}"$`, img.ETag, "%s: ETag is not strong and quoted", name)
			if prev, ok := seen[img.ETag]; ok {
				t.Errorf("%s and %s share ETag %s", prev, name, img.ETag)
			}
			seen[img.ETag] = name
		}
	}
}

func TestRenderCacheEviction(t *testing.T) {
	r := NewRenderer(2)
	for _, size := range []int{100, 101, 102, 100} { // 100 is evicted by 102
		_, err := r.Render("https://sho.rt/a", FormatSVG, size)
		require.NoError(t, err)
	}
	hits, renders := r.Stats()
	assert.Equal(t, [2]uint64{0, 4}, [2]uint64{hits, renders}, "Stats() with a 2-entry cache")
}

func TestRenderNoCache(t *testing.T) {
	r := NewRenderer(0)
	for range 3 {
		_, err := r.Render("https://sho.rt/a", FormatPNG, DefaultSize)
		require.NoError(t, err)
	}
	hits, renders := r.Stats()
	assert.Equal(t, [2]uint64{0, 3}, [2]uint64{hits, renders}, "Stats() with the cache disabled")
}

func TestRenderConcurrent(t *testing.T) {
	const (
		workers = 8
		rounds  = 25
	)
	keys := []struct {
		content, format string
		size            int
	}{
		{"https://sho.rt/AbC123x", FormatPNG, 256},
		{"https://sho.rt/AbC123x", FormatSVG, 256},
		{"https://sho.rt/AbC123x", FormatPNG, 512},
		{"https://sho.rt/Zz9", FormatPNG, 256},
		{long200, FormatSVG, 128},
	}
	want := make([]Image, len(keys))
	for i, k := range keys {
		var err error
		want[i], err = render(k.content, k.format, k.size)
		require.NoError(t, err)
	}

	r := NewRenderer(len(keys) - 1) // one too few: evictions race with hits
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				j := (w + i) % len(keys)
				k := keys[j]
				got, err := r.Render(k.content, k.format, k.size)
				if err == nil && (!bytes.Equal(got.Body, want[j].Body) || got.ETag != want[j].ETag) {
					err = fmt.Errorf("Render(%q, %q, %d) differs from a lone render", k.content, k.format, k.size)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	hits, renders := r.Stats()
	assert.Equal(t, uint64(workers*rounds), hits+renders, "hits + renders")
	assert.NotZero(t, hits, "hits")
}

func TestRenderCachedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; `go test` without -race checks this budget")
	}
	r := NewRenderer(4)
	_, err := r.Render("https://sho.rt/AbC123x", FormatPNG, DefaultSize)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() { _, _ = r.Render("https://sho.rt/AbC123x", FormatPNG, DefaultSize) })
	assert.Zero(t, allocs, "allocations per cached Render")
}

// FuzzRender: Render never panics, and every image it returns is the right
// size and decodes back to the content.
func FuzzRender(f *testing.F) {
	for _, tc := range contentCases {
		f.Add(tc.content, tc.size)
	}
	f.Fuzz(func(t *testing.T, content string, size int) {
		r := NewRenderer(0)
		img, err := r.Render(content, FormatPNG, size)
		if err != nil {
			if !errors.Is(err, ErrSize) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrTooSmall) {
				t.Fatalf("Render(%q, png, %d): unexpected error %v", content, size, err)
			}
			return
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img.Body))
		if err != nil || cfg.Width != size || cfg.Height != size {
			t.Fatalf("Render(%q, png, %d): PNG of %d×%d, error %v", content, size, cfg.Width, cfg.Height, err)
		}
		// Decoding a large image takes the QR decoder up to a second; the
		// drawing scales every size alike, so the small ones are enough.
		// The decoder reads byte segments as UTF-8: other bytes cannot
		// round-trip through its text.
		if size <= 512 && utf8.ValidString(content) {
			if _, text := decodePNG(t, img.Body, true); text != content {
				t.Fatalf("Render(%q, png, %d) decodes to %q", content, size, text)
			}
		}
		svg, err := r.Render(content, FormatSVG, size)
		if err != nil {
			t.Fatalf("Render(%q, svg, %d): %v after png succeeded", content, size, err)
		}
		if err := xml.Unmarshal(svg.Body, new(svgDoc)); err != nil {
			t.Fatalf("Render(%q, svg, %d): not XML: %v", content, size, err)
		}
	})
}

func BenchmarkRender(b *testing.B) {
	for _, format := range []string{FormatPNG, FormatSVG} {
		for _, size := range []int{DefaultSize, MaxSize} {
			name := fmt.Sprintf("%s/%d", format, size)
			b.Run("cached/"+name, func(b *testing.B) {
				r := NewRenderer(16)
				_, err := r.Render("https://sho.rt/AbC123x", format, size)
				require.NoError(b, err)
				b.ReportAllocs()
				for b.Loop() {
					_, _ = r.Render("https://sho.rt/AbC123x", format, size)
				}
			})
			b.Run("uncached/"+name, func(b *testing.B) {
				r := NewRenderer(0)
				b.ReportAllocs()
				var n int
				for b.Loop() {
					img, _ := r.Render("https://sho.rt/AbC123x", format, size)
					n = len(img.Body)
				}
				b.ReportMetric(float64(n), "body_bytes")
			})
		}
	}
}
