package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery, as Standard Webhooks names them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature value of a delivery: "v1," and the
// base64 HMAC-SHA256, keyed by the secret's key, of
// "<msgID>.<unix seconds>.<body>".
func Sign(key []byte, msgID string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignatureHeader returns the webhook-signature value of a delivery to
// sub signed at ts: the signature by its secret and, while the secret a
// rotation replaced is still in its grace at ts, a space and the
// signature by that previous secret (the new one first).
func SignatureHeader(sub *Subscription, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := SecretKey(sub.Secret)
	if err != nil {
		return "", err
	}
	sig := Sign(key, msgID, ts, body)
	if prev := sub.ActivePreviousSecret(ts); prev != "" {
		if pk, err := SecretKey(prev); err == nil {
			sig += " " + Sign(pk, msgID, ts, body)
		}
	}
	return sig, nil
}

// ErrSignature is a delivery whose signature or timestamp does not verify.
var ErrSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver would: the timestamp within
// tolerance of now and one of the space-separated signatures (a receiver
// may see several while a secret rotates) matching. Receivers written in
// Go can use it; it is what the tests check deliveries with.
func Verify(secret, msgID, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := SecretKey(secret)
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrSignature
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return ErrSignature
	}
	want := Sign(key, msgID, ts, body)
	for _, s := range strings.Fields(signatures) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrSignature
}
