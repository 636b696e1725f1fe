package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
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

func FuzzReadFrame(f *testing.F) {
	const max = 64
	f.Add(frameOf(make([]byte, 8)))
	f.Add(frameOf(make([]byte, max)))
	f.Add(frameOf(make([]byte, max+1)))
	f.Add(append(frameOf([]byte("12345678")), frameOf([]byte("abcdefghij"))...))
	f.Add([]byte{0, 0, 0, 20, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			body, err := readFrame(r, max)
			if err != nil {
				if body != nil {
					t.Fatalf("%d bytes returned with error %v", len(body), err)
				}
				return
			}
			if len(body) > max || len(body) < 8 {
				t.Fatalf("returned a %d-byte body with max %d", len(body), max)
			}
			consumed := len(in) - r.Len()
			start := consumed - len(body)
			if int(binary.BigEndian.Uint32(in[start-4:start])) != len(body) || !bytes.Equal(in[start:consumed], body) {
				t.Fatal("body is not the bytes the size prefix announced")
			}
		}
	})
}
