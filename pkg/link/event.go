package link

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// EventField is the stream entry field of a link event. Link events share
// the click streams (clicks:{pN}) with click events, whose field is "e":
// a link's events and its clicks are one ordered log per partition, so a
// consumer sees link.created before the link's first click.
const EventField = "l"

// Link event types.
const (
	EventCreated = "link.created"
	EventUpdated = "link.updated"
	EventDeleted = "link.deleted"
)

// Event is a change of a link, appended to its partition's click stream by
// the same script that makes the change: a change is never without its
// event, nor an event without its change.
type Event struct {
	Type  string    // EventCreated, EventUpdated or EventDeleted
	Time  time.Time // millisecond precision
	Code  string
	Owner string // never "": anonymous links have no events
	// Data is the link as the API shows it (Config.Describe), after the
	// change (before it, for a deletion).
	Data []byte
}

// eventVersion is the first field of an encoded event.
const eventVersion = "1"

// ErrEventMalformed reports a link event EncodeEvent could not have made.
var ErrEventMalformed = errors.New("link: malformed event")

// EncodeEvent encodes e as "1\t<type>\t<unix ms>\t<code>\t<owner>\t<data>".
// Code and owner never hold tabs (they are validated); data may.
func EncodeEvent(e Event) string {
	var b strings.Builder
	b.Grow(32 + len(e.Type) + len(e.Code) + len(e.Owner) + len(e.Data))
	b.WriteString(eventVersion)
	b.WriteByte('\t')
	b.WriteString(e.Type)
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(e.Time.UnixMilli(), 10))
	b.WriteByte('\t')
	b.WriteString(e.Code)
	b.WriteByte('\t')
	b.WriteString(e.Owner)
	b.WriteByte('\t')
	b.Write(e.Data)
	return b.String()
}

// DecodeEvent parses an encoding made by EncodeEvent. Data aliases s.
func DecodeEvent(s string) (Event, error) {
	f := strings.SplitN(s, "\t", 6)
	if len(f) != 6 || f[0] != eventVersion {
		return Event{}, ErrEventMalformed
	}
	switch f[1] {
	case EventCreated, EventUpdated, EventDeleted:
	default:
		return Event{}, ErrEventMalformed
	}
	ms, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || ms < 0 || !ValidLookup(f[3]) || !ValidOwner(f[4]) {
		return Event{}, ErrEventMalformed
	}
	return Event{Type: f[1], Time: time.UnixMilli(ms).UTC(), Code: f[3], Owner: f[4], Data: []byte(f[5])}, nil
}

// event returns the encoded event of a change of l, or "" when the store
// emits none (no Describe, or an anonymous link).
func (s *Store) event(typ string, l *Link) string {
	if s.cfg.Describe == nil || l.Owner == "" {
		return ""
	}
	return EncodeEvent(Event{Type: typ, Time: s.now(), Code: l.Code, Owner: l.Owner, Data: s.cfg.Describe(l)})
}

// Cached reads a link through the client-side cache, like Resolve: for
// consumers that look up the link of every click (the webhook dispatcher),
// a hot code costs no round trip. It returns ErrNotFound, or the link with
// ErrExpired (a tombstone has only its code).
func (s *Store) Cached(ctx context.Context, code string) (Link, error) {
	l := Link{Code: code}
	if !ValidLookup(code) {
		return l, ErrNotFound
	}
	raw, err := s.c.DoCache(ctx, s.c.B().Get().Key(s.cfg.Keys.Link(code)).Cache(), s.cfg.CacheTTL).ToString()
	if rueidis.IsRedisNil(err) {
		return l, ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("get %q: %w", code, err)
	}
	if err := decode(raw, &l); err != nil {
		if errors.Is(err, errTombstone) {
			return l, ErrExpired
		}
		return l, fmt.Errorf("get %q: %w", code, err)
	}
	if l.Expired(s.now()) {
		return l, ErrExpired
	}
	return l, nil
}
