package redisx

import (
	"fmt"
	"strconv"
	"time"
)

// DefaultPartitions is the number of partitions when none is configured.
const DefaultPartitions = 16

// MaxPartitions bounds the partition count.
const MaxPartitions = 1024

// Keyspace names every Redis key of the service. Keys of one link (its
// record, its analytics, its click-stream partition) share the hash tag of
// the link's partition, so every script touching one link runs on one
// Redis Cluster slot. A Keyspace is a value; it is safe for concurrent use.
type Keyspace struct {
	// Prefix is prepended to every key; it must not contain '{' or '}'.
	Prefix string
	// Partitions is the number of hash-tag partitions. It must never change
	// once links exist: a code's keys would move to another tag.
	Partitions int

	tags []string // "{p0}", "{p1}", … precomputed
}

// NewKeyspace validates and returns a Keyspace.
func NewKeyspace(prefix string, partitions int) (Keyspace, error) {
	if partitions < 1 || partitions > MaxPartitions {
		return Keyspace{}, fmt.Errorf("partitions must be 1 to %d, got %d", MaxPartitions, partitions)
	}
	for _, c := range prefix {
		if c == '{' || c == '}' || c <= ' ' || c == 0x7f {
			return Keyspace{}, fmt.Errorf("key prefix %q must not contain braces, spaces or control characters", prefix)
		}
	}
	ks := Keyspace{Prefix: prefix, Partitions: partitions, tags: make([]string, partitions)}
	for i := range ks.tags {
		ks.tags[i] = "{p" + strconv.Itoa(i) + "}"
	}
	return ks, nil
}

// PartitionOf returns the partition of a code: FNV-1a over its bytes modulo
// the partition count. It does not allocate.
func PartitionOf[T ~string | ~[]byte](code T, partitions int) int {
	return int(Hash(code) % uint32(partitions))
}

// Hash is 32-bit FNV-1a over the bytes of s. It does not allocate.
func Hash[T ~string | ~[]byte](s T) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Partition returns the partition of code.
func (k Keyspace) Partition(code string) int { return PartitionOf(code, k.Partitions) }

// Tag returns the hash tag of partition p, e.g. "{p3}".
func (k Keyspace) Tag(p int) string { return k.tags[p] }

// Link is the key of a link record: string, expires with the link.
func (k Keyspace) Link(code string) string {
	return k.Prefix + "l:" + k.tags[k.Partition(code)] + ":" + code
}

// LinkPrefix returns the part of Link(code) before the code; len(prefix)+len(code) == len(Link(code)).
func (k Keyspace) LinkPrefix(p int) string { return k.Prefix + "l:" + k.tags[p] + ":" }

// Expiry is the sorted set of the codes of partition p scored by expiry in
// Unix milliseconds (+inf for links that never expire).
func (k Keyspace) Expiry(p int) string { return k.Prefix + "exp:" + k.tags[p] }

// Owner is the sorted set indexing an owner's links, lexically ordered by
// "<created ms, 13 digits>:<code>".
func (k Keyspace) Owner(owner string) string { return k.Prefix + "o:{" + owner + "}" }

// Dedupe maps (owner, URL digest) to the code holding that URL.
func (k Keyspace) Dedupe(owner, digest string) string {
	return k.Prefix + "d:{" + owner + "}:" + digest
}

// APIKey is the record of an API key, named by the key's SHA-256 hex digest.
func (k Keyspace) APIKey(digest string) string { return k.Prefix + "k:" + digest }

// AnalyticsPrefix is the common prefix of the analytics keys of the codes
// of partition p: AnalyticsPrefix(p)+code is ClickTotals(code).
func (k Keyspace) AnalyticsPrefix(p int) string { return k.Prefix + "a:" + k.tags[p] + ":" }

// ClickTotals is the hash of a link's all-time click totals (fields
// "human", "bot", "preview", "head"; total clicks are human + bot), written
// by the worker.
func (k Keyspace) ClickTotals(code string) string {
	return k.AnalyticsPrefix(k.Partition(code)) + code
}

// Suffixes of the per-link analytics keys, appended to ClickTotals(code).
const (
	SuffixDaily     = ":d"  // hash day (YYYYMMDD) -> human clicks; days past retention pruned
	SuffixHourly    = ":h"  // hash hour (YYYYMMDDHH) -> human clicks; hours past retention pruned
	SuffixRecent    = ":r"  // list of the last clicks, newest first
	SuffixBreakdown = ":b:" // + day: hash c:/d:/b:/o:/r: field -> human clicks that day
	SuffixVisitors  = ":u:" // + day: HyperLogLog of visitor hashes that day
)

// DayKeyRetention is how many days of per-day keys a link can have.
const DayKeyRetention = 91

// LinkKeys lists every key that belongs to one link (all in the link's
// slot), for deletion: the record first, then its analytics, including
// the per-day keys of the last DayKeyRetention days before now.
func (k Keyspace) LinkKeys(code string, now time.Time) []string {
	base := k.ClickTotals(code)
	keys := []string{k.Link(code), k.ClickLimit(code), base, base + SuffixDaily, base + SuffixHourly, base + SuffixRecent}
	day := now.UTC()
	for i := 0; i <= DayKeyRetention; i++ {
		d := day.AddDate(0, 0, -i).Format("20060102")
		keys = append(keys, base+SuffixBreakdown+d, base+SuffixVisitors+d)
	}
	return keys
}

// ClickLimit counts the redirects of a link with max_clicks; it expires
// with the link.
func (k Keyspace) ClickLimit(code string) string {
	return k.Prefix + "n:" + k.tags[k.Partition(code)] + ":" + code
}

// ClickLimitPrefix is ClickLimit(code) without the code, for partition p.
func (k Keyspace) ClickLimitPrefix(p int) string { return k.Prefix + "n:" + k.tags[p] + ":" }

// Stream is the click stream of partition p.
func (k Keyspace) Stream(p int) string { return k.Prefix + "clicks:" + k.tags[p] }

// DeadLetter is the stream of partition p's events that could not be applied.
func (k Keyspace) DeadLetter(p int) string { return k.Prefix + "clicks-dlq:" + k.tags[p] }

// Producer is the last batch sequence an edge appended to partition p, so a
// retried append is not applied twice.
func (k Keyspace) Producer(p int, edgeID string) string {
	return k.Prefix + "prod:" + k.tags[p] + ":" + edgeID
}

// TagPrefix starts the keys of partition p's share of tag analytics:
// TagPrefix(p)+"<owner>:<tag>" (hash total/human/bot), + ":d" (day -> human
// clicks), + ":b:<day>" (breakdowns), like a link's.
func (k Keyspace) TagPrefix(p int) string { return k.Prefix + "ta:" + k.tags[p] + ":" }

// OwnerTag indexes an owner's links with one tag, like Owner.
func (k Keyspace) OwnerTag(owner, tag string) string { return k.Prefix + "o:{" + owner + "}:t:" + tag }

// OrphanPrefix starts partition p's daily orphan-visit hashes:
// OrphanPrefix(p)+"<day>" holds total, p:<path> and r:<referer> counts.
func (k Keyspace) OrphanPrefix(p int) string { return k.Prefix + "orph:" + k.tags[p] + ":" }

// Top is the sorted set of partition p's codes by all-time clicks.
func (k Keyspace) Top(p int) string { return k.Prefix + "top:" + k.tags[p] }

// PartitionClicks counts every click applied in partition p; their sum is
// the global click total.
func (k Keyspace) PartitionClicks(p int) string { return k.Prefix + "stats:" + k.tags[p] + ":clicks" }

// Webhooks is the hash of an owner's webhook subscriptions: subscription
// ID -> its JSON record (URL, events, secret).
func (k Keyspace) Webhooks(owner string) string { return k.Prefix + "wh:{" + owner + "}" }

// WebhookQueue is the sorted set of partition p's webhook deliveries, by
// the Unix ms at which each is due (or its lease ends while one is in
// flight); members are job IDs "<subscription>:<message>".
func (k Keyspace) WebhookQueue(p int) string { return k.Prefix + "whq:" + k.tags[p] }

// WebhookJobs is the hash of partition p's queued deliveries: job ID -> job.
func (k Keyspace) WebhookJobs(p int) string { return k.Prefix + "whj:" + k.tags[p] }

// WebhookDeadLetter is the stream of partition p's deliveries that failed
// their last try; the API lists and replays them.
func (k Keyspace) WebhookDeadLetter(p int) string { return k.Prefix + "whdlq:" + k.tags[p] }

// Meta is the hash of settings that must stay the same for every process
// sharing the keyspace (the partition count).
func (k Keyspace) Meta() string { return k.Prefix + "meta" }
