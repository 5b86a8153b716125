// Package qr renders QR codes of short URLs as PNG or SVG images for
// GET /api/v1/links/{code}/qr, and keeps recent images in a bounded cache.
//
// Codes use error-correction level M (about 15% of the symbol may be lost)
// and a quiet zone of 4 modules, drawn black on white. Encoding is done by
// github.com/skip2/go-qrcode; the drawing is this package's own: a 1-bit
// PNG of exactly the requested size with whole pixels per module, centred,
// and an SVG with a viewBox in modules and one path of horizontal runs.
package qr

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	qrcode "github.com/skip2/go-qrcode"
)

// Formats accepted by Render.
const (
	FormatPNG = "png"
	FormatSVG = "svg"
)

// Image sizes in pixels, for both width and height.
const (
	MinSize     = 64
	MaxSize     = 2048
	DefaultSize = 256
)

// Errors returned by Render. Match them with errors.Is; their text is fit to
// show to a client.
var (
	ErrSize   = errors.New("size must be 64 to 2048 pixels")
	ErrFormat = errors.New("format must be png or svg")
	// ErrTooLong: the content does not fit in the largest QR code (version
	// 40) at level M, about 2,331 bytes.
	ErrTooLong = errors.New("content is too long for a QR code")
	// ErrTooSmall: a PNG must give every module at least one whole pixel,
	// and this code has more modules (quiet zone included) than the size
	// has pixels. Short URLs never hit it: up to 122 bytes need 53 modules.
	ErrTooSmall = errors.New("size is too small for this code: under one pixel per module")
)

// Image is a rendered code. Body may be shared with the cache and with other
// callers: never modify it.
type Image struct {
	Body        []byte
	ContentType string // "image/png" or "image/svg+xml"
	// ETag is a strong, quoted entity tag: a hash of Body, which is a pure
	// function of (content, format, size), so it changes exactly when the
	// bytes do, also across releases that change the drawing.
	ETag string
}

type key struct {
	content string
	format  string
	size    int
}

// Renderer renders images and caches them in an LRU of a fixed number of
// entries. It is safe for concurrent use.
type Renderer struct {
	cache   *lru.Cache[key, Image] // nil: caching disabled
	hits    atomic.Uint64
	renders atomic.Uint64
}

// NewRenderer returns a Renderer that keeps the cacheEntries most recently
// used images; cacheEntries < 1 disables the cache. An entry for a short
// URL is small: its PNG is about 0.4 KiB at 256 pixels and 3.5 KiB at 2048,
// its SVG about 2.3 KiB at any size. The largest content (2,331 bytes) makes
// at most about 7 KiB of PNG and 140 KiB of SVG.
func NewRenderer(cacheEntries int) *Renderer {
	r := &Renderer{}
	if cacheEntries > 0 {
		c, err := lru.New[key, Image](cacheEntries)
		if err != nil { // only for a size < 1, excluded above
			panic("qr: " + err.Error())
		}
		r.cache = c
	}
	return r
}

// Render returns the image of content in format ("png" or "svg") at size×size
// pixels. A repeat of the same (content, format, size) is served from the
// cache without rendering again. Errors are ErrFormat, ErrSize, ErrTooLong
// and ErrTooSmall (PNG only), possibly wrapped. It is safe for concurrent
// use; two concurrent misses of one key may both render.
func (r *Renderer) Render(content, format string, size int) (Image, error) {
	if format != FormatPNG && format != FormatSVG {
		return Image{}, ErrFormat
	}
	if size < MinSize || size > MaxSize {
		return Image{}, ErrSize
	}
	k := key{content: content, format: format, size: size}
	if r.cache != nil {
		if img, ok := r.cache.Get(k); ok {
			r.hits.Add(1)
			return img, nil
		}
	}
	img, err := render(content, format, size)
	if err != nil {
		return Image{}, err
	}
	r.renders.Add(1)
	if r.cache != nil {
		r.cache.Add(k, img)
	}
	return img, nil
}

// Stats returns how many Render calls were served from the cache and how
// many images were rendered. It is safe for concurrent use.
func (r *Renderer) Stats() (hits, renders uint64) {
	return r.hits.Load(), r.renders.Load()
}

// render draws one image; format and size are already valid.
func render(content, format string, size int) (Image, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		// skip2 fails only when no version holds the content.
		return Image{}, fmt.Errorf("encode %d bytes: %w", len(content), ErrTooLong)
	}
	bitmap := q.Bitmap() // quiet zone of 4 modules included
	var img Image
	switch format {
	case FormatPNG:
		if img.Body, err = drawPNG(bitmap, size); err != nil {
			return Image{}, err
		}
		img.ContentType = "image/png"
	case FormatSVG:
		img.Body = drawSVG(bitmap, size)
		img.ContentType = "image/svg+xml"
	}
	img.ETag = etag(img.Body)
	return img, nil
}

// etag returns a strong entity tag: 128 bits of SHA-256 in hex, quoted.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	var b [2 + 2*16]byte
	b[0], b[len(b)-1] = '"', '"'
	hex.Encode(b[1:len(b)-1], sum[:16])
	return string(b[:])
}
