package qr

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"sync"
)

// zlibWriters reuses compressors (about 800 KiB each) between renders.
var zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

// drawPNG draws bitmap (bitmap[y][x] true for black) as a size×size PNG:
// every module gets the same whole number of pixels and the code is centred,
// the pixels left over widening the white margin. Scaling by a fraction
// would give modules of uneven width, which scanners read less well.
//
// The PNG is 1-bit greyscale, written here rather than by image/png, which
// spends 80% of a 2048-pixel render packing the bits one ColorIndexAt call
// at a time: each module row is packed once and written scale times.
func drawPNG(bitmap [][]bool, size int) ([]byte, error) {
	n := len(bitmap)
	scale := size / n
	if scale < 1 {
		return nil, fmt.Errorf("draw %d modules in %d pixels: %w", n, size, ErrTooSmall)
	}
	off := (size - n*scale) / 2

	// A scanline is a filter-type byte (0: none) and size bits, 1 for white.
	rowLen := 1 + (size+7)/8
	white := make([]byte, 2*rowLen)
	line := white[rowLen:]
	white = white[:rowLen]
	for i := 1; i < rowLen; i++ {
		white[i] = 0xff
	}

	b := make([]byte, 0, 1024)
	b = append(b, pngSignature...)
	b = appendChunk(b, "IHDR", func(b []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(size))
		b = binary.BigEndian.AppendUint32(b, uint32(size))
		// Bit depth 1, colour type 0 (greyscale), deflate, no filter
		// method beyond the per-line byte, no interlace.
		return append(b, 1, 0, 0, 0, 0)
	})
	buf := bytes.NewBuffer(b)
	start := len(b)
	buf.Write([]byte{0, 0, 0, 0, 'I', 'D', 'A', 'T'}) // length patched below

	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(buf)
	defer func() {
		zw.Reset(nil) // let buf go with the image, not stay with the pool
		zlibWriters.Put(zw)
	}()
	var err error
	write := func(p []byte, times int) {
		for ; times > 0 && err == nil; times-- {
			_, err = zw.Write(p)
		}
	}
	write(white, off)
	for _, row := range bitmap {
		copy(line, white)
		for mx, black := range row {
			if !black {
				continue
			}
			for x := off + mx*scale; x < off+(mx+1)*scale; x++ {
				line[1+x/8] &^= 0x80 >> (x % 8)
			}
		}
		write(line, scale)
	}
	write(white, size-off-n*scale)
	if err == nil {
		err = zw.Close()
	}
	if err != nil { // writes to a bytes.Buffer do not fail
		return nil, fmt.Errorf("compress png: %w", err)
	}

	b = buf.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-8))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start+4:]))
	b = appendChunk(b, "IEND", func(b []byte) []byte { return b })
	return b, nil
}

// appendChunk appends a PNG chunk of type typ whose data data appends.
func appendChunk(b []byte, typ string, data func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, typ...)
	b = data(b)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-8))
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start+4:]))
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
