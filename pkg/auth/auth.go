// Package auth holds API keys: generation, storage as SHA-256 digests only,
// and resolving a presented key to the principal it stands for.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// Errors of this package.
var (
	ErrUnknownKey = errors.New("auth: unknown API key")
	ErrBadOwner   = errors.New("auth: owner must be 1 to 64 of A-Z, a-z, 0-9, '_', '.', '@', '-' and not \"anonymous\"")
)

// KeyPrefix starts every generated key, so leaked keys are easy to grep for.
const KeyPrefix = "sk_"

// Principal is who a request acts as.
type Principal struct {
	Owner string // "" for an anonymous caller
	Admin bool
}

// Anonymous reports whether p carries no key.
func (p Principal) Anonymous() bool { return p.Owner == "" && !p.Admin }

// Keys stores API keys in Redis. It is safe for concurrent use.
type Keys struct {
	c          rueidis.Client
	ks         redisx.Keyspace
	adminKey   [32]byte // digest of the bootstrap admin key; zero when unset
	hasAdmin   bool
	validOwner func(string) bool
}

// NewKeys returns a key store. adminKey, when not empty, is a bootstrap key
// that acts as an admin named "admin"; it is never written to Redis.
// validOwner decides which owner names are allowed.
func NewKeys(c rueidis.Client, ks redisx.Keyspace, adminKey string, validOwner func(string) bool) *Keys {
	k := &Keys{c: c, ks: ks, validOwner: validOwner}
	if adminKey != "" {
		k.adminKey, k.hasAdmin = sha256.Sum256([]byte(adminKey)), true
	}
	return k
}

// Digest returns the hex SHA-256 of key: the only form stored. Keys carry
// 190 random bits, so a fast hash is enough (no dictionary to attack).
func Digest(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Generate returns a new random key: KeyPrefix and 32 base62 characters.
func Generate() string {
	var b strings.Builder
	b.WriteString(KeyPrefix)
	buf := make([]byte, 64)
	for b.Len() < len(KeyPrefix)+32 {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		for _, x := range buf {
			if x < 248 && b.Len() < len(KeyPrefix)+32 {
				b.WriteByte(alphabet[x%62])
			}
		}
	}
	return b.String()
}

// Create makes a new key for owner and returns it; only its digest is stored.
func (k *Keys) Create(ctx context.Context, owner string, admin bool) (string, error) {
	if !k.validOwner(owner) {
		return "", ErrBadOwner
	}
	key := Generate()
	rec := owner + "\n" + strconv.FormatBool(admin) + "\n" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	err := k.c.Do(ctx, k.c.B().Set().Key(k.ks.APIKey(Digest(key))).Value(rec).Nx().Build()).Error()
	if err != nil {
		return "", fmt.Errorf("store API key: %w", err)
	}
	return key, nil
}

// Revoke deletes a key. Edges stop accepting it at once (cache invalidation).
func (k *Keys) Revoke(ctx context.Context, key string) error {
	n, err := k.c.Do(ctx, k.c.B().Del().Key(k.ks.APIKey(Digest(key))).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("revoke API key: %w", err)
	}
	if n == 0 {
		return ErrUnknownKey
	}
	return nil
}

// Lookup resolves a presented key. Lookups go through the client-side cache,
// and a revoked key is invalidated on every edge.
func (k *Keys) Lookup(ctx context.Context, key string) (Principal, error) {
	d := sha256.Sum256([]byte(key))
	if k.hasAdmin && subtle.ConstantTimeCompare(d[:], k.adminKey[:]) == 1 {
		return Principal{Owner: "admin", Admin: true}, nil
	}
	if len(key) > 256 {
		return Principal{}, ErrUnknownKey
	}
	rec, err := k.c.DoCache(ctx, k.c.B().Get().Key(k.ks.APIKey(hex.EncodeToString(d[:]))).Cache(), time.Minute).ToString()
	if rueidis.IsRedisNil(err) {
		return Principal{}, ErrUnknownKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up API key: %w", err)
	}
	parts := strings.SplitN(rec, "\n", 3)
	if len(parts) < 2 {
		return Principal{}, fmt.Errorf("look up API key: malformed record")
	}
	return Principal{Owner: parts[0], Admin: parts[1] == "true"}, nil
}
