// Package payload builds load-test record keys and values.
//
// Every value starts with a fixed header holding the run, a record id unique
// within the run, and the time the record was meant to be sent. The
// end-to-end latency is measured from that time and the verifier identifies
// records by run and id. The header is in the value, not in Kafka record
// headers, so that --size is the exact size of what is sent and stored, and
// not in the record timestamp, which a broker may overwrite with its own
// (LogAppendTime).
package payload

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// HeaderSize is the size of the header at the start of every value, and so
// the smallest --size that can carry it.
const HeaderSize = 3 + 8 + 8 + 8

var magic = [3]byte{'r', 'l', 1} // the last byte is the header version

// Header identifies a record and when it was meant to be sent.
type Header struct {
	Run  uint64
	ID   uint64
	Sent time.Time
}

// Put writes h at the start of dst, which must be at least HeaderSize long.
func Put(dst []byte, h Header) {
	copy(dst, magic[:])
	binary.BigEndian.PutUint64(dst[3:], h.Run)
	binary.BigEndian.PutUint64(dst[11:], h.ID)
	binary.BigEndian.PutUint64(dst[19:], uint64(h.Sent.UnixNano()))
}

// Parse reads the header at the start of a value. It reports false for
// values that were not written by this package.
func Parse(value []byte) (Header, bool) {
	if len(value) < HeaderSize || [3]byte(value[:3]) != magic {
		return Header{}, false
	}
	return Header{
		Run:  binary.BigEndian.Uint64(value[3:]),
		ID:   binary.BigEndian.Uint64(value[11:]),
		Sent: time.Unix(0, int64(binary.BigEndian.Uint64(value[19:]))),
	}, true
}

// Keys says how record keys are chosen.
type Keys struct {
	// Random gives every record a fresh random key.
	Random bool
	// Distinct, when positive, picks each key from this many fixed keys.
	Distinct int
}

// ParseKeys parses the --keys flag: "none", "random" or a number of distinct
// keys.
func ParseKeys(s string) (Keys, error) {
	switch s {
	case "none", "":
		return Keys{}, nil
	case "random":
		return Keys{Random: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return Keys{}, fmt.Errorf("%q is not none, random or a positive number of distinct keys", s)
	}
	return Keys{Distinct: n}, nil
}

// String returns the flag form of k.
func (k Keys) String() string {
	switch {
	case k.Random:
		return "random"
	case k.Distinct > 0:
		return strconv.Itoa(k.Distinct)
	}
	return "none"
}

// Generator makes keys and values for one producer. It is not safe for
// concurrent use; give each producer its own.
type Generator struct {
	size   int
	keys   Keys
	rng    *rand.Rand
	filler []byte
}

// NewGenerator returns a Generator of size-byte values, seeded by seed.
func NewGenerator(size int, keys Keys, seed uint64) (*Generator, error) {
	if size < HeaderSize {
		return nil, fmt.Errorf("record size %d is below the %d-byte header", size, HeaderSize)
	}
	if keys.Random && keys.Distinct > 0 {
		return nil, errors.New("keys cannot be both random and a fixed set")
	}
	g := &Generator{size: size, keys: keys, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	// Random upper-case letters, as kafka-producer-perf-test sends: roughly as
	// compressible as text, so --compression does real work. Values are cut
	// from this at random offsets so that they differ.
	g.filler = make([]byte, 2*size+4096)
	for i := range g.filler {
		g.filler[i] = 'A' + byte(g.rng.IntN(26))
	}
	return g, nil
}

// Value returns a new value carrying h.
func (g *Generator) Value(h Header) []byte {
	v := make([]byte, g.size)
	Put(v, h)
	off := g.rng.IntN(len(g.filler) - g.size)
	copy(v[HeaderSize:], g.filler[off:])
	return v
}

// Key returns the key for the next record, or nil when records are unkeyed.
func (g *Generator) Key() []byte {
	switch {
	case g.keys.Random:
		return strconv.AppendUint(make([]byte, 0, 20), g.rng.Uint64(), 16)
	case g.keys.Distinct > 0:
		return strconv.AppendInt([]byte("key-"), int64(g.rng.IntN(g.keys.Distinct)), 10)
	}
	return nil
}

// MarshalText encodes k in its flag form, for JSON results.
func (k Keys) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes the flag form.
func (k *Keys) UnmarshalText(b []byte) error {
	parsed, err := ParseKeys(string(b))
	*k = parsed
	return err
}
