// Command ceiling is the smallest fasthttp server that answers like the
// edge's redirect path: every request gets a fixed 302 with a Location
// header, and nothing else happens. The load harness (benchmarks/load) builds
// it and runs it as a separate process exactly like the edge, so the ratio
// edge/ceiling shows what the edge's own work (code check, client-side cache
// lookup, metrics, click hand-off) costs on top of fasthttp and the kernel.
//
// It writes the same response headers as the edge's redirect (Location and
// Cache-Control, no Server or Content-Type header), so both put the same
// bytes on the wire.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "address to answer on")
	location := fs.String("location", "https://example.com/landing?utm_source=newsletter&utm_campaign=dec", "Location of every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *listen, err)
	}
	loc := *location
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.Response.SetStatusCode(fasthttp.StatusFound)
			ctx.Response.Header.Set("Location", loc)
			ctx.Response.Header.Set("Cache-Control", "private, no-cache")
		},
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		ReadBufferSize:        16 << 10,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           90 * time.Second,
		CloseOnShutdown:       true,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-sig:
		return srv.Shutdown()
	}
}
