package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shortener/shortener/pkg/auth"
	"github.com/shortener/shortener/pkg/flagenv"
	"github.com/shortener/shortener/pkg/link"
	"github.com/shortener/shortener/pkg/redisx"
)

// runKeys is "edge keys create --owner NAME [--admin]" and
// "edge keys revoke KEY". The new key is the last line printed.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "revoke") {
		return errors.New(`usage: edge keys create --owner NAME [--admin] | edge keys revoke KEY`)
	}
	var c config
	var owner string
	var admin bool
	fs := flag.NewFlagSet("edge keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	redisFlags(fs, &c)
	if args[0] == "create" {
		fs.StringVar(&owner, "owner", "", "owner of the links created with the key (required)")
		fs.BoolVar(&admin, "admin", false, "the key may act on every owner's links")
	}
	if err := flagenv.Parse(fs, args[1:], getenv); err != nil {
		return err
	}
	ks, err := redisx.NewKeyspace(c.keyPrefix, c.partitions)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rdb, err := redisx.New(redisx.Config{URL: c.redisURL, ClientName: "shortener-keys", DisableCache: true})
	if err != nil {
		return err
	}
	defer rdb.Close()
	keys := auth.NewKeys(rdb, ks, "", link.ValidOwner)
	if args[0] == "revoke" {
		if fs.NArg() != 1 {
			return errors.New("usage: edge keys revoke KEY")
		}
		if err := keys.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "revoked")
		return nil
	}
	if owner == "" {
		return errors.New("--owner is required")
	}
	key, err := keys.Create(ctx, owner, admin)
	if err != nil {
		return err
	}
	role := "owner"
	if admin {
		role = "admin"
	}
	fmt.Fprintf(stdout, "created %s key for %q; it is shown only once:\n%s\n", role, owner, key)
	return nil
}
