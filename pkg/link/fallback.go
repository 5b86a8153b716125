package link

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/rueidis"
)

// Fallback keeps the records this edge fetched from Redis, so that while
// Redis is unreachable (rueidis drops a connection's cache with the
// connection) recently served links keep redirecting for a bounded window.
// It follows Redis's invalidations like the client-side cache does, and it
// is only read when Redis cannot be asked. Safe for concurrent use.
type Fallback struct {
	entries *lru.Cache[string, string] // record key -> record
	window  time.Duration
	lastOK  atomic.Int64 // unix ms of the last answer from Redis
}

// NewFallback returns a fallback of up to size records, served for at most
// window after Redis last answered.
func NewFallback(size int, window time.Duration) *Fallback {
	if size <= 0 {
		size = 1
	}
	c, _ := lru.New[string, string](size)
	f := &Fallback{entries: c, window: window}
	f.Contact()
	return f
}

// Contact records that Redis answered just now.
func (f *Fallback) Contact() { f.lastOK.Store(time.Now().UnixMilli()) }

// Invalidated is the rueidis OnInvalidations callback: a changed or deleted
// key leaves the fallback too. A nil list (a flush, or a lost connection) is
// ignored: a lost connection is exactly when the fallback is needed.
func (f *Fallback) Invalidated(keys []rueidis.RedisMessage) {
	for _, k := range keys {
		if s, err := k.ToString(); err == nil {
			f.entries.Remove(s)
		}
	}
}

func (f *Fallback) put(key, record string) { f.entries.Add(key, record) }

func (f *Fallback) forget(key string) { f.entries.Remove(key) }

// get returns the record of key while within the staleness window.
func (f *Fallback) get(key string, now time.Time) (string, bool) {
	if now.UnixMilli()-f.lastOK.Load() > f.window.Milliseconds() {
		return "", false
	}
	return f.entries.Get(key)
}

// Len returns the number of records kept.
func (f *Fallback) Len() int { return f.entries.Len() }
