package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"sync"
)

// palette is white (index 0, the background) and black: two colours make
// the PNG encoder write one bit per pixel.
var palette = color.Palette{color.White, color.Black}

// pngEncoder reuses the zlib writer and row buffers between renders.
var pngEncoder = png.Encoder{
	CompressionLevel: png.BestCompression,
	BufferPool:       &encoderPool{},
}

type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

// drawPNG draws bitmap (bitmap[y][x] true for black) in a size×size image:
// every module gets the same whole number of pixels and the code is centred,
// the pixels left over widening the white margin. Scaling by a fraction
// would give modules of uneven width, which scanners read less well.
func drawPNG(bitmap [][]bool, size int) ([]byte, error) {
	n := len(bitmap)
	scale := size / n
	if scale < 1 {
		return nil, fmt.Errorf("draw %d modules in %d pixels: %w", n, size, ErrTooSmall)
	}
	off := (size - n*scale) / 2

	img := image.NewPaletted(image.Rect(0, 0, size, size), palette) // all index 0: white
	for my, row := range bitmap {
		y0 := off + my*scale
		line := img.Pix[y0*img.Stride : y0*img.Stride+size]
		for mx, black := range row {
			if black {
				x0 := off + mx*scale
				for x := x0; x < x0+scale; x++ {
					line[x] = 1
				}
			}
		}
		for y := y0 + 1; y < y0+scale; y++ {
			copy(img.Pix[y*img.Stride:y*img.Stride+size], line)
		}
	}

	var buf bytes.Buffer
	buf.Grow(1024)
	if err := pngEncoder.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// drawSVG draws bitmap as an SVG whose user units are modules (viewBox
// "0 0 n n") shown at size×size pixels: a white background and one black
// path in which each horizontal run of black modules is one rectangle.
func drawSVG(bitmap [][]bool, size int) []byte {
	n := len(bitmap)
	b := make([]byte, 0, 512+n*n) // about 1 byte per module for a URL-sized code
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, `" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`...)
	for y, row := range bitmap {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			// M{start} {y}h{run}v1H{start}z: the run as a closed rectangle.
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(start), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(x-start), 10)
			b = append(b, "v1H"...)
			b = strconv.AppendInt(b, int64(start), 10)
			b = append(b, 'z')
		}
	}
	b = append(b, `"/></svg>`...)
	return b
}
