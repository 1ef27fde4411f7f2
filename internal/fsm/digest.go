package fsm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"github.com/memsnap/memsnap/internal/model"
)

// Digest is an order-independent digest of a memory's content: the sum,
// modulo 2^128, of a 128-bit hash (the first 16 bytes of a SHA-256) of
// every entity (name, type and observations in their stored order) and of
// every relation (from, to, type). Being a sum, it follows a change at the
// cost of the change: subtract the hashes of the rows a batch removes or
// replaces, add those of the rows it writes.
//
// Times (created_at, updated_at) are left out: the reader's search index,
// which must reach the manifest's digest, holds none, and they are not
// part of what the memory tools answer; KV keys are left out too (the
// manifest counts them, the graph does not hold them).
type Digest struct{ Hi, Lo uint64 }

// digestPrefix names the digest's construction in its text form.
const digestPrefix = "sum128-sha256:"

// Add returns d + x modulo 2^128.
func (d Digest) Add(x Digest) Digest {
	lo, carry := bits.Add64(d.Lo, x.Lo, 0)
	hi, _ := bits.Add64(d.Hi, x.Hi, carry)
	return Digest{hi, lo}
}

// Sub returns d - x modulo 2^128.
func (d Digest) Sub(x Digest) Digest {
	lo, borrow := bits.Sub64(d.Lo, x.Lo, 0)
	hi, _ := bits.Sub64(d.Hi, x.Hi, borrow)
	return Digest{hi, lo}
}

// String is the digest as a manifest records it: "sum128-sha256:" and 32
// hex digits.
func (d Digest) String() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], d.Hi)
	binary.BigEndian.PutUint64(b[8:], d.Lo)
	return digestPrefix + hex.EncodeToString(b[:])
}

// ErrBadDigest is returned (wrapped) by ParseDigest for text that is not a
// digest's String.
var ErrBadDigest = errors.New("not a content digest")

// ParseDigest reads a digest's String.
func ParseDigest(s string) (Digest, error) {
	h, ok := strings.CutPrefix(s, digestPrefix)
	if !ok || len(h) != 32 || strings.ToLower(h) != h {
		return Digest{}, fmt.Errorf("%w: %q", ErrBadDigest, s)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return Digest{}, fmt.Errorf("%w: %q", ErrBadDigest, s)
	}
	return Digest{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}, nil
}

// hasher writes length-prefixed fields, so that no two different rows
// hash the same text.
type hasher struct{ b []byte }

func (h *hasher) str(s string) {
	h.b = binary.AppendUvarint(h.b, uint64(len(s)))
	h.b = append(h.b, s...)
}

func (h *hasher) sum() Digest {
	s := sha256.Sum256(h.b)
	return Digest{binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:16])}
}

// EntityHash is one entity's term of a Digest.
func EntityHash(name, entityType string, observations []string) Digest {
	n := 8 + len(name) + len(entityType)
	for _, o := range observations {
		n += 4 + len(o)
	}
	h := hasher{b: make([]byte, 0, n)}
	h.b = append(h.b, 'E')
	h.str(name)
	h.str(entityType)
	h.b = binary.AppendUvarint(h.b, uint64(len(observations)))
	for _, o := range observations {
		h.str(o)
	}
	return h.sum()
}

// RelationHash is one relation's term of a Digest.
func RelationHash(r model.Relation) Digest {
	h := hasher{b: make([]byte, 0, 8+len(r.From)+len(r.To)+len(r.RelationType))}
	h.b = append(h.b, 'R')
	h.str(r.From)
	h.str(r.To)
	h.str(r.RelationType)
	return h.sum()
}

// DigestOf is the digest of a whole memory: its entities (names unique)
// and relations (each once).
func DigestOf(ents []model.Entity, rels []model.Relation) Digest {
	var d Digest
	for _, e := range ents {
		d = d.Add(EntityHash(e.Name, e.EntityType, e.Observations))
	}
	for _, r := range rels {
		d = d.Add(RelationHash(r))
	}
	return d
}
