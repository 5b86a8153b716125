package redisx

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"

	"github.com/redis/rueidis"
)

// Script is a Lua script run with EVALSHA in pipelined batches: unlike
// rueidis's Lua.ExecMulti it does not SCRIPT LOAD on every call, only after
// a NOSCRIPT answer. It is safe for concurrent use.
type Script struct {
	src string
	sha string
}

// NewScript returns a Script for src.
func NewScript(src string) *Script {
	sum := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(sum[:])}
}

// Call is one invocation of a Script.
type Call struct {
	Keys []string
	Args []string
}

// ExecMulti runs the calls in one pipelined round trip (per node) and
// returns their results in order.
func (s *Script) ExecMulti(ctx context.Context, c rueidis.Client, calls ...Call) []rueidis.RedisResult {
	build := func(idx []int) rueidis.Commands {
		cmds := make(rueidis.Commands, len(idx))
		for i, j := range idx {
			cmds[i] = c.B().Evalsha().Sha1(s.sha).Numkeys(int64(len(calls[j].Keys))).Key(calls[j].Keys...).Arg(calls[j].Args...).Build()
		}
		return cmds
	}
	idx := make([]int, len(calls))
	for i := range idx {
		idx[i] = i
	}
	out := c.DoMulti(ctx, build(idx)...)
	var retry []int
	for i, r := range out {
		if err := r.Error(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return out
	}
	for _, n := range c.Nodes() {
		if err := n.Do(ctx, n.B().ScriptLoad().Script(s.src).Build()).Error(); err != nil {
			for _, i := range retry {
				out[i] = rueidis.NewErrorResult(err)
			}
			return out
		}
	}
	for k, r := range c.DoMulti(ctx, build(retry)...) {
		out[retry[k]] = r
	}
	return out
}
