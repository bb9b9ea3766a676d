package policy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"time"
)

// A confirmation token and an elicitation requestState are the same signed
// value, told apart by purpose: HMAC-SHA256 over the tool, the SHA-256 of the
// canonical arguments, the client (Caller.ClientID, and the MCP session id
// for a handshake-era session; a 2026-07-28 request is stateless and has
// none), an expiry and a random nonce. The nonce is accepted once (through a
// Claimer, so once across replicas that share one), and the Idempotency-Key
// sent upstream is derived from it, so a replay that reaches another replica
// is still deduplicated by an API that honours the header.

// minKeyLen is the shortest configured signing key accepted.
const minKeyLen = 16

const (
	tokenVersion = 1
	nonceLen     = 16
	macLen       = 16
	headerLen    = 1 + nonceLen + 8
	tokenLen     = headerLen + macLen
)

// purpose keeps a token from being used as a requestState and the reverse.
type purpose byte

const (
	purposeToken     purpose = 't'
	purposeState     purpose = 'e'
	purposeContinued purpose = 'c'
)

// rejection says why a presented token or requestState was refused.
type rejection string

const (
	rejectInvalid rejection = "invalid" // garbled, forged, or bound to other arguments, tool or client
	rejectExpired rejection = "expired"
	rejectReused  rejection = "reused"
)

// binding is what a confirmation is bound to.
type binding struct {
	tool    string
	args    [32]byte
	client  string
	session string
	callID  string // the call context's call_id, when the call has one
	// inner is the integration's requestState a continuation carries, so
	// that a continuation cannot be replayed with another (or none).
	inner string
}

// continuing is b bound also to the inner state of a continuation.
func (b binding) continuing(inner string) binding {
	b.inner = inner
	return b
}

// ticket is the signed part of a token.
type ticket struct {
	nonce [nonceLen]byte
	exp   int64 // unix milliseconds
}

// keys returns the signing key and the idempotency key, both derived from
// the configured key (read on each use, so rotation and cache_ttl apply as
// to any secret) or from the process's random key.
func (c *confirmer) keys(ctx context.Context) (mac, idem []byte, err error) {
	master := c.local
	if c.keyRef != "" {
		s, err := c.secrets.Lookup(ctx, c.keyRef)
		if err != nil {
			return nil, nil, fmt.Errorf("policy.confirmation.key: %w", err)
		}
		if len(s) < minKeyLen {
			return nil, nil, fmt.Errorf("policy.confirmation.key: the secret is %d bytes; use at least %d random bytes", len(s), minKeyLen)
		}
		master = []byte(s)
	}
	return derive(master, "switchboard/confirmation/mac"), derive(master, "switchboard/confirmation/idempotency-key"), nil
}

func derive(master []byte, label string) []byte {
	h := hmac.New(sha256.New, master)
	h.Write([]byte(label))
	return h.Sum(nil)
}

// newTicket is a fresh nonce expiring after the confirmation TTL.
func (c *confirmer) newTicket() ticket {
	var t ticket
	_, _ = rand.Read(t.nonce[:])
	t.exp = c.now().Add(c.ttl).UnixMilli()
	return t
}

// sign makes the token of t for b. A continuation signs the ticket of the
// confirmation it continues, so it keeps that one's expiry and
// Idempotency-Key.
func (c *confirmer) sign(key []byte, p purpose, b binding, t ticket) string {
	buf := make([]byte, 0, tokenLen)
	buf = append(buf, tokenVersion)
	buf = append(buf, t.nonce[:]...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(t.exp))
	buf = append(buf, mac(key, p, b, buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// verify checks a presented token against the call it came with. It does
// not consume it.
func (c *confirmer) verify(key []byte, p purpose, s string, b binding) (ticket, rejection) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(raw) != tokenLen || raw[0] != tokenVersion {
		return ticket{}, rejectInvalid
	}
	if !hmac.Equal(raw[headerLen:], mac(key, p, b, raw[:headerLen])) {
		return ticket{}, rejectInvalid
	}
	var t ticket
	copy(t.nonce[:], raw[1:1+nonceLen])
	t.exp = int64(binary.BigEndian.Uint64(raw[1+nonceLen : headerLen]))
	if c.now().UnixMilli() >= t.exp {
		return ticket{}, rejectExpired
	}
	return t, ""
}

// A token is base64url(version | nonce | expiry | mac), 55 characters.

// mac authenticates header (version, nonce, expiry) together with the
// binding; each variable-length field is length-prefixed.
func mac(key []byte, p purpose, b binding, header []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("switchboard confirmation\x00"))
	h.Write([]byte{byte(p)})
	writeField(h, b.tool)
	h.Write(b.args[:])
	writeField(h, b.client)
	writeField(h, b.session)
	writeField(h, b.callID)
	if p == purposeContinued {
		writeField(h, b.inner)
	}
	h.Write(header)
	return h.Sum(nil)[:macLen]
}

func writeField(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// idempotencyKey is the Idempotency-Key of a confirmed call: a UUID-shaped
// (RFC 9562 version 8) HMAC of the confirmation's nonce, so the same
// confirmation always gives the same key, on every replica sharing the key.
func idempotencyKey(key []byte, t ticket) string {
	h := hmac.New(sha256.New, key)
	h.Write(t.nonce[:])
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// pruneGrace keeps a used nonce this long past its expiry, so that a clock
// stepping back a little cannot make a spent token valid again.
const pruneGrace = time.Minute

// continuationTicket is the single-use ticket of a continuation: its
// confirmation's nonce (spent already when the call was confirmed) mixed
// with the inner state it continues.
func continuationTicket(t ticket, inner string) ticket {
	h := sha256.New()
	h.Write(t.nonce[:])
	h.Write([]byte(inner))
	copy(t.nonce[:], h.Sum(nil))
	return t
}

// claimKey is the single-use key of a ticket.
func claimKey(t ticket) string { return "confirmation:" + hex.EncodeToString(t.nonce[:]) }

// consume marks t used, or says why it cannot be: already used, or expired
// since it was verified. An error means single use could not be checked, and
// the call must not run.
func (c *confirmer) consume(ctx context.Context, t ticket) (rejection, error) {
	now := c.now()
	if now.UnixMilli() >= t.exp {
		return rejectExpired, nil
	}
	ttl := time.Duration(t.exp-now.UnixMilli())*time.Millisecond + pruneGrace
	first, err := c.once.Claim(ctx, claimKey(t), ttl)
	if err != nil {
		return "", err
	}
	if !first {
		return rejectReused, nil
	}
	return "", nil
}
