package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	clientID := "fuzz"
	for _, key := range apiKeys() {
		h := handlers[key]
		for _, v := range []int16{h.min, (h.min + h.max) / 2, h.max} {
			body := frameRequestBody(frameSampleRequest(key, v), 1, &clientID)
			f.Add(body)
			f.Add(body[:len(body)-1])
		}
	}
	f.Add([]byte{0, apiVersionsKey, 0x7f, 0, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := append([]byte(nil), body...)
		req, err := parseRequest(body, supported)
		if !bytes.Equal(body, orig) {
			t.Fatal("parseRequest modified the frame")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrUnknownAPIKey) && !errors.Is(err, ErrUnsupportedVers) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// What the handlers rely on: a served key, and a body of that key
		// and version unless it is ApiVersions above the served range.
		h, ok := handlers[req.key]
		if !ok {
			t.Fatalf("accepted unserved key %d", req.key)
		}
		if req.kreq == nil {
			if req.key != apiVersionsKey || (req.version >= h.min && req.version <= h.max) {
				t.Fatalf("no body for key %d v%d", req.key, req.version)
			}
			return
		}
		if req.version < h.min || req.version > h.max {
			t.Fatalf("accepted key %d v%d outside v%d-v%d", req.key, req.version, h.min, h.max)
		}
		if req.kreq.Key() != req.key || req.kreq.GetVersion() != req.version {
			t.Fatalf("body is key %d v%d, header says %d v%d", req.kreq.Key(), req.kreq.GetVersion(), req.key, req.version)
		}
	})
}

// FuzzReadFrame reads frames from arbitrary bytes, delivered a few at a
// time, into chunks of a fuzzed size, and checks what the listener relies
// on: a frame is returned whole and exactly as announced, or not at all
// with an error it classifies; and the body never takes budget for more
// than one chunk beyond the bytes that have arrived, however large the
// size it declares.
func FuzzReadFrame(f *testing.F) {
	const max = 64
	f.Add(frameOf(make([]byte, 8)), uint8(3), uint8(1))
	f.Add(frameOf(make([]byte, max)), uint8(16), uint8(7))
	f.Add(frameOf(make([]byte, max+1)), uint8(64), uint8(64))
	f.Add(append(frameOf([]byte("12345678")), frameOf([]byte("abcdefghij"))...), uint8(4), uint8(2))
	f.Add([]byte{0, 0, 0, 20, 1, 2, 3}, uint8(8), uint8(1))
	f.Add([]byte{0, 0, 0, 60, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint8(5), uint8(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint8(1), uint8(1))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0}, uint8(2), uint8(9))
	f.Add([]byte{0, 0}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk, step uint8) {
		src := &fuzzTrickle{r: bytes.NewReader(in), step: int(step%16) + 1}
		var acquired, frameStart int
		br := bodyReader{r: src, chunk: int(chunk%80) + 1,
			acquire: func(n int64) error {
				// The bytes of this frame's body that have arrived.
				arrived := src.read - frameStart - 4
				if acquired += int(n); acquired-arrived > int(chunk%80)+1 {
					t.Fatalf("holds %d bytes with %d of the body arrived, chunk %d", acquired, arrived, int(chunk%80)+1)
				}
				return nil
			}}
		for {
			frameStart, acquired = src.read, 0
			body, err := br.frame(max)
			if err != nil {
				if body != nil {
					t.Fatalf("%d bytes returned with error %v", len(body), err)
				}
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(body) > max || len(body) < 8 {
				t.Fatalf("returned a %d-byte body with max %d", len(body), max)
			}
			if acquired != len(body) {
				t.Fatalf("a %d-byte body took %d bytes of budget", len(body), acquired)
			}
			consumed := src.read
			start := consumed - len(body)
			if int(binary.BigEndian.Uint32(in[start-4:start])) != len(body) || !bytes.Equal(in[start:consumed], body) {
				t.Fatal("body is not the bytes the size prefix announced")
			}
		}
	})
}

// fuzzTrickle returns at most step bytes per read, as a slow client's
// socket does, and counts what it returned.
type fuzzTrickle struct {
	r    io.Reader
	step int
	read int
}

func (s *fuzzTrickle) Read(p []byte) (int, error) {
	n, err := s.r.Read(p[:min(len(p), s.step)])
	s.read += n
	return n, err
}
