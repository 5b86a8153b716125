package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/shortener/shortener/pkg/redisx"
)

// job is one delivery of one event to one subscription, queued in its
// event's partition (WebhookQueue scored by due time, WebhookJobs by ID).
type job struct {
	Sub        string `json:"s"`
	Owner      string `json:"o"`
	Msg        string `json:"m"` // the webhook-id: the same for every try and subscription
	Type       string `json:"t"`
	Body       string `json:"b"`
	Attempts   int    `json:"n"`           // tries made so far
	LastStatus int    `json:"c,omitempty"` // HTTP status of the last try (0: no answer)
	LastError  string `json:"e,omitempty"`
	FailedAt   int64  `json:"f,omitempty"` // Unix ms the last try failed
}

func (j *job) id() string { return j.Sub + ":" + j.Msg }

// enqueueScript acknowledges stream entries for the group and queues each
// one's deliveries, atomically on the partition's slot: an entry
// acknowledged has its deliveries queued, and an entry delivered twice to
// the group (a reclaim after a crash) is queued once, because only the
// first acknowledgement counts. KEYS: stream, queue, jobs. ARGV: group,
// due ms, then per entry: ID, n, and n pairs of job ID and job. Returns
// the queue's length.
var enqueueScript = redisx.NewScript(`
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i + 1])
  local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  for j = 0, n - 1 do
    local id, body = ARGV[i + 2 + 2 * j], ARGV[i + 3 + 2 * j]
    if acked == 1 and redis.call('HSETNX', KEYS[3], id, body) == 1 then
      redis.call('ZADD', KEYS[2], ARGV[2], id)
    end
  end
  i = i + 2 + 2 * n
end
return redis.call('ZCARD', KEYS[2])
`)

// claimScript leases up to ARGV[3] jobs due by ARGV[1]: their score moves
// to the lease's end ARGV[2], so nobody else takes them while they are in
// flight, and a dispatcher that dies holding them leaves them due again
// when the lease ends. KEYS: queue, jobs. Returns [id, job, …].
var claimScript = redisx.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = id
    out[#out + 1] = body
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`)

// doneScript removes a job. KEYS: queue, jobs. ARGV: job ID.
var doneScript = redisx.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
`)

// retryScript stores a job's failed try and makes it due again at ARGV[3],
// if it is still queued. KEYS: queue, jobs. ARGV: job ID, job, due ms.
var retryScript = redisx.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// deadScript moves a job that failed its last try to the dead-letter
// stream, if it is still queued. KEYS: queue, jobs, dead letters. ARGV:
// job ID, job.
var deadScript = redisx.NewScript(`
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'j', ARGV[2])
return 1
`)

// replayScript moves dead letters back into the queue, due at once: each
// only if this call removes it (two replays at once replay it once).
// KEYS: dead letters, queue, jobs. ARGV: due ms, then triples of entry ID,
// job ID, job.
var replayScript = redisx.NewScript(`
local n = 0
for i = 2, #ARGV, 3 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[3], ARGV[i + 1], ARGV[i + 2])
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i + 1])
    n = n + 1
  end
end
return n
`)

// queueScript queues one job, due at ARGV[3], unless a job of that ID is
// queued already. KEYS: queue, jobs. ARGV: job ID, job, due ms.
var queueScript = redisx.NewScript(`
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// TestMessagePrefix starts the message ID of every test delivery.
const TestMessagePrefix = "evt_test_"

// testData is the data of a webhook.test event.
type testData struct {
	WebhookID string `json:"webhook_id"`
}

// SendTest queues a delivery of a webhook.test event to owner's
// subscription id (ErrNotFound if there is none), due at once, and
// returns its message ID ("evt_test_" and 32 hex digits). It goes through
// the same queue (the partition of the subscription's ID) as every
// delivery: signed, retried and dead-lettered alike.
func (r *Registry) SendTest(ctx context.Context, owner, id string) (string, error) {
	s, err := r.Get(ctx, owner, id)
	if err != nil {
		return "", err
	}
	rnd := make([]byte, 16)
	_, _ = rand.Read(rnd)
	now := r.now()
	data, _ := json.Marshal(testData{WebhookID: s.ID})
	body, _ := json.Marshal(envelope{Type: EventTest, Timestamp: now.UTC().Format(timestampLayout), Data: data})
	j := job{Sub: s.ID, Owner: owner, Msg: TestMessagePrefix + hex.EncodeToString(rnd), Type: EventTest, Body: string(body)}
	b, _ := json.Marshal(j)
	p := redisx.PartitionOf(s.ID, r.cfg.Keys.Partitions)
	k := r.cfg.Keys
	err = queueScript.ExecMulti(ctx, r.c, redisx.Call{
		Keys: []string{k.WebhookQueue(p), k.WebhookJobs(p)},
		Args: []string{j.id(), string(b), strconv.FormatInt(now.UnixMilli(), 10)},
	})[0].Error()
	if err != nil {
		return "", fmt.Errorf("queue test delivery: %w", err)
	}
	return j.Msg, nil
}

// DeadLetter is a delivery that failed its last try.
type DeadLetter struct {
	MessageID  string          `json:"message_id"`
	Type       string          `json:"type"`
	Attempts   int             `json:"attempts"`
	LastStatus *int            `json:"last_status"` // nil: no HTTP answer
	LastError  string          `json:"last_error"`
	FailedAt   time.Time       `json:"failed_at"`
	Payload    json.RawMessage `json:"payload"`
}

// deadEntry is a dead letter as stored, with where it is.
type deadEntry struct {
	p     int
	entry string
	j     job
}

// scanDead calls f with every dead letter of owner's subscription id, per
// partition oldest first; f returns false to stop.
func (r *Registry) scanDead(ctx context.Context, owner, id string, f func(deadEntry) bool) error {
	const page = 500
	for p := 0; p < r.cfg.Keys.Partitions; p++ {
		key := r.cfg.Keys.WebhookDeadLetter(p)
		start := "-"
		for {
			rows, err := r.c.Do(ctx, r.c.B().Xrange().Key(key).Start(start).End("+").Count(page).Build()).ToArray()
			if err != nil {
				return fmt.Errorf("read dead letters: %w", err)
			}
			for _, row := range rows {
				e, err := row.AsXRangeEntry()
				if err != nil {
					return fmt.Errorf("read dead letters: %w", err)
				}
				start = "(" + e.ID
				var j job
				if json.Unmarshal([]byte(e.FieldValues["j"]), &j) != nil || j.Sub != id || j.Owner != owner {
					continue
				}
				if !f(deadEntry{p: p, entry: e.ID, j: j}) {
					return nil
				}
			}
			if len(rows) < page {
				break
			}
		}
	}
	return nil
}

// DeadLetters returns up to limit dead letters of owner's subscription id
// (ErrNotFound if it does not exist), most recent failure first.
func (r *Registry) DeadLetters(ctx context.Context, owner, id string, limit int) ([]DeadLetter, error) {
	if _, err := r.Get(ctx, owner, id); err != nil {
		return nil, err
	}
	var all []DeadLetter
	err := r.scanDead(ctx, owner, id, func(d deadEntry) bool {
		dl := DeadLetter{MessageID: d.j.Msg, Type: d.j.Type, Attempts: d.j.Attempts, LastError: d.j.LastError,
			FailedAt: time.UnixMilli(d.j.FailedAt).UTC(), Payload: json.RawMessage(d.j.Body)}
		if d.j.LastStatus != 0 {
			st := d.j.LastStatus
			dl.LastStatus = &st
		}
		all = append(all, dl)
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(all, func(a, b DeadLetter) int {
		if c := b.FailedAt.Compare(a.FailedAt); c != 0 {
			return c
		}
		return strings.Compare(b.MessageID, a.MessageID)
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// Replay queues every dead letter of owner's subscription id for delivery
// again, with a fresh count of tries, and returns how many it queued.
func (r *Registry) Replay(ctx context.Context, owner, id string) (int, error) {
	if _, err := r.Get(ctx, owner, id); err != nil {
		return 0, err
	}
	byPartition := map[int][]string{}
	err := r.scanDead(ctx, owner, id, func(d deadEntry) bool {
		d.j.Attempts, d.j.LastStatus, d.j.LastError, d.j.FailedAt = 0, 0, "", 0
		b, _ := json.Marshal(d.j)
		byPartition[d.p] = append(byPartition[d.p], d.entry, d.j.id(), string(b))
		return true
	})
	if err != nil {
		return 0, err
	}
	now := strconv.FormatInt(r.now().UnixMilli(), 10)
	total := 0
	for p, args := range byPartition {
		k := r.cfg.Keys
		for len(args) > 0 {
			n := min(len(args), 3*200)
			moved, err := replayScript.ExecMulti(ctx, r.c, redisx.Call{
				Keys: []string{k.WebhookDeadLetter(p), k.WebhookQueue(p), k.WebhookJobs(p)},
				Args: append([]string{now}, args[:n]...),
			})[0].AsInt64()
			if err != nil {
				return total, fmt.Errorf("replay dead letters: %w", err)
			}
			total += int(moved)
			args = args[n:]
		}
	}
	return total, nil
}

// parseJobs reads a claim's [id, job, …] reply; the IDs of jobs that do
// not parse come back in bad.
func parseJobs(m rueidis.RedisMessage) (jobs []job, bad []string, err error) {
	arr, err := m.AsStrSlice()
	if err != nil {
		return nil, nil, err
	}
	jobs = make([]job, 0, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		var j job
		if json.Unmarshal([]byte(arr[i+1]), &j) != nil || j.id() != arr[i] {
			bad = append(bad, arr[i])
			continue
		}
		jobs = append(jobs, j)
	}
	return jobs, bad, nil
}
