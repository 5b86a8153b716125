// Package chart draws the grouped bar charts of the load harness into an
// image, with its own 5×7 bitmap font: no plotting or font dependencies.
// Values are drawn as given; the caller formats them.
package chart

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Series is one kind of bar, drawn in every group.
type Series struct {
	Name  string
	Color color.RGBA
}

// Group is a cluster of bars, one value per series.
type Group struct {
	Label  string // may hold a "\n"
	Values []float64
}

// Line is a horizontal reference line.
type Line struct {
	Value float64
	Label string
}

// Panel is one bar chart.
type Panel struct {
	Title  string
	Format func(float64) string // value labels and axis ticks
	Groups []Group
	Lines  []Line
}

// Chart is panels side by side under a title and a legend.
type Chart struct {
	Title  string
	Series []Series
	Panels []Panel
}

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{30, 30, 30, 255}
	grey  = color.RGBA{215, 215, 215, 255}
	dark  = color.RGBA{110, 110, 110, 255}
	red   = color.RGBA{200, 40, 40, 255}
)

// Palette has distinct colours for up to four series.
var Palette = []color.RGBA{{52, 101, 164, 255}, {237, 145, 33, 255}, {78, 154, 6, 255}, {117, 80, 123, 255}}

// WritePNG renders c at w×h pixels as PNG.
func (c Chart) WritePNG(out io.Writer, w, h int) error {
	return png.Encode(out, c.Render(w, h))
}

// Render draws c at w×h pixels.
func (c Chart) Render(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	text(img, (w-textWidth(c.Title, 3))/2, 14, c.Title, 3, black)
	// Legend.
	x := 40
	for _, s := range c.Series {
		fill(img, x, 56, 18, 14, s.Color)
		text(img, x+26, 56, s.Name, 2, black)
		x += 26 + textWidth(s.Name, 2) + 40
	}
	if len(c.Panels) == 0 {
		return img
	}
	pw := w / len(c.Panels)
	for i, p := range c.Panels {
		c.panel(img, p, image.Rect(i*pw, 90, (i+1)*pw, h))
	}
	return img
}

func (c Chart) panel(img *image.RGBA, p Panel, r image.Rectangle) {
	format := p.Format
	if format == nil {
		format = func(v float64) string { return trimFloat(v) }
	}
	text(img, r.Min.X+(r.Dx()-textWidth(p.Title, 2))/2, r.Min.Y, p.Title, 2, black)
	left, right, top, bottom := r.Min.X+110, r.Max.X-30, r.Min.Y+50, r.Max.Y-60
	maxV := 0.0
	for _, g := range p.Groups {
		for _, v := range g.Values {
			maxV = math.Max(maxV, v)
		}
	}
	for _, l := range p.Lines {
		maxV = math.Max(maxV, l.Value)
	}
	step := niceStep(maxV * 1.12 / 5)
	top5 := step * math.Ceil(maxV*1.12/step)
	if top5 <= 0 {
		top5, step = 1, 0.2
	}
	y := func(v float64) int { return bottom - int(math.Round(v/top5*float64(bottom-top))) }
	for v := 0.0; v <= top5+step/2; v += step {
		yy := y(v)
		hline(img, left, right, yy, grey, false)
		s := format(v)
		text(img, left-10-textWidth(s, 2), yy-7, s, 2, dark)
	}
	vline(img, left, top, bottom, black)
	hline(img, left, right, bottom, black, false)
	n := len(p.Groups)
	if n == 0 {
		return
	}
	gw := float64(right-left) / float64(n)
	ns := len(c.Series)
	bw := int(gw * 0.72 / float64(max(ns, 1)))
	for gi, g := range p.Groups {
		gx := left + int(gw*float64(gi)+gw*0.14)
		for si, v := range g.Values {
			if si >= ns {
				break
			}
			bx := gx + si*bw
			fill(img, bx+1, y(v), bw-2, bottom-y(v), c.Series[si].Color)
			s := format(v)
			text(img, bx+(bw-textWidth(s, 1))/2, y(v)-11, s, 1, black)
		}
		lines := strings.Split(g.Label, "\n")
		for li, l := range lines {
			cx := left + int(gw*float64(gi)+gw/2)
			text(img, cx-textWidth(l, 2)/2, bottom+10+li*18, l, 2, black)
		}
	}
	// Reference lines, labelled in a key under the panel title.
	kx := right
	for _, l := range p.Lines {
		hline(img, left, right, y(l.Value), red, true)
		w := textWidth(l.Label, 2)
		kx -= w
		text(img, kx, r.Min.Y+24, l.Label, 2, red)
		kx -= 38
		hline(img, kx, kx+30, r.Min.Y+30, red, true)
		kx -= 20
	}
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

func textWidth(s string, scale int) int {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return 0
	}
	return n*6*scale - scale
}

// text draws s with its top-left corner at (x, y).
func text(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		if g, ok := glyphs[r]; ok {
			for row, bits := range g {
				for col, b := range bits {
					if b == '#' {
						fill(img, x+col*scale, y+row*scale, scale, scale, c)
					}
				}
			}
		}
		x += 6 * scale
	}
}

func fill(img *image.RGBA, x, y, w, h int, c color.RGBA) {
	draw.Draw(img, image.Rect(x, y, x+w, y+h), &image.Uniform{c}, image.Point{}, draw.Src)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA, dashed bool) {
	for x := x0; x <= x1; x++ {
		if !dashed || (x/6)%2 == 0 {
			img.SetRGBA(x, y, c)
			if dashed {
				img.SetRGBA(x, y+1, c)
			}
		}
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}
