package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// frameOf prefixes body with its size, as a client writes it.
func frameOf(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// frameRequestBody encodes a request as a client does, without the size
// prefix: key, version, correlation id, nullable client id, the header's tag
// section when the request is flexible, then the kmsg body.
func frameRequestBody(kreq kmsg.Request, corr int32, clientID *string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(kreq.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(kreq.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		b = append(b, 0xff, 0xff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	if kreq.IsFlexible() {
		b = append(b, 0)
	}
	return kreq.AppendTo(b)
}

// frameSampleRequest returns a request of the key at the version with a few
// fields set, so bodies carry more than defaults.
func frameSampleRequest(key, version int16) kmsg.Request {
	kreq := kmsg.RequestForKey(key)
	kreq.SetVersion(version)
	switch r := kreq.(type) {
	case *kmsg.MetadataRequest:
		topic := "orders"
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = &topic
		r.Topics = append(r.Topics, mt)
		r.AllowAutoTopicCreation = true
	case *kmsg.ProduceRequest:
		r.Acks = -1
		r.TimeoutMillis = 1500
		pt := kmsg.NewProduceRequestTopic()
		pt.Topic = "orders"
		pp := kmsg.NewProduceRequestTopicPartition()
		pp.Partition = 2
		pp.Records = []byte("opaque record batch bytes")
		pt.Partitions = append(pt.Partitions, pp)
		r.Topics = append(r.Topics, pt)
	case *kmsg.FetchRequest:
		r.MaxWaitMillis = 500
		r.MaxBytes = 1 << 20
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "orders"
		ft.TopicID = [16]byte{1, 2, 3}
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = 1
		fp.FetchOffset = 42
		ft.Partitions = append(ft.Partitions, fp)
		r.Topics = append(r.Topics, ft)
	case *kmsg.CreateTopicsRequest:
		ct := kmsg.NewCreateTopicsRequestTopic()
		ct.Topic = "new-topic"
		ct.NumPartitions = 3
		ct.ReplicationFactor = 1
		r.Topics = append(r.Topics, ct)
	case *kmsg.DeleteTopicsRequest:
		r.TopicNames = []string{"old-topic"}
		name := "old-topic"
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic = &name
		r.Topics = append(r.Topics, dt)
	case *kmsg.ApiVersionsRequest:
		r.ClientSoftwareName = "raftline-test"
		r.ClientSoftwareVersion = "1.0"
	}
	return kreq
}

func TestReadFrame_SizeAboveMax_RejectedBeforeReadingOrAllocating(t *testing.T) {
	body := &frameEndlessReader{}
	r := io.MultiReader(bytes.NewReader(binary.BigEndian.AppendUint32(nil, 1<<30)), body)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readFrame(r, 1<<20)
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrFrameTooLarge) || got != nil {
		t.Fatalf("readFrame: %d bytes, %v; want ErrFrameTooLarge", len(got), err)
	}
	if body.read != 0 {
		t.Fatalf("read %d body bytes of a frame it refused", body.read)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Fatalf("allocated %d bytes for a refused 1 GiB frame", grew)
	}
}

// frameEndlessReader returns as many bytes as asked, forever.
type frameEndlessReader struct{ read int }

func (r *frameEndlessReader) Read(p []byte) (int, error) {
	r.read += len(p)
	return len(p), nil
}

func TestReadFrame_DeclaredLargeSentLittle_AllocatesOnlyWhatArrived(t *testing.T) {
	// A client declares a 100 MiB frame and sends 1 MiB of it. The reader
	// must hold what arrived, not what was promised.
	const declared, sent = 100 << 20, 1 << 20
	pr, pw := io.Pipe()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	errc := make(chan error, 1)
	go func() {
		_, err := readFrame(pr, 200<<20)
		errc <- err
	}()
	// Pipe writes return once the reader has taken the bytes.
	if _, err := pw.Write(binary.BigEndian.AppendUint32(nil, declared)); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(make([]byte, sent)); err != nil {
		t.Fatal(err)
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-errc; !errors.Is(err, ErrMalformedFrame) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut short: got %v, want ErrMalformedFrame wrapping io.ErrUnexpectedEOF", err)
	}
	// 1 MiB received, plus the pipe's copy of it and test noise; far from
	// the 100 MiB declared.
	if grew := during.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("allocated %d MiB for a frame declaring %d MiB of which %d MiB arrived", grew>>20, declared>>20, sent>>20)
	}
}

func TestBodyReader_BudgetTakenChunkByChunkAsBytesArrive(t *testing.T) {
	const size = 5*chunkSize + 123
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}
	src := &frameCountingReader{r: iotest.HalfReader(bytes.NewReader(body))}
	var acquired []int64
	var held int64
	br := bodyReader{r: src, chunk: chunkSize, acquire: func(n int64) error {
		if held+n-int64(src.read) > chunkSize {
			t.Fatalf("asked for %d with %d held and %d arrived", n, held, src.read)
		}
		held += n
		acquired = append(acquired, n)
		return nil
	}}
	got, err := br.read(size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("body assembled from chunks differs from the one sent")
	}
	if held != size || len(acquired) != 6 || acquired[5] != 123 {
		t.Fatalf("acquired %v (%d in all) for a %d-byte body", acquired, held, size)
	}

	// The budget refusing ends the read with its error, before reading on.
	refuse := errors.New("no room")
	src = &frameCountingReader{r: bytes.NewReader(body)}
	calls := 0
	br = bodyReader{r: src, chunk: chunkSize, acquire: func(int64) error {
		if calls++; calls == 2 {
			return refuse
		}
		return nil
	}}
	if _, err := br.read(size); !errors.Is(err, refuse) || src.read != chunkSize {
		t.Fatalf("got %v after reading %d bytes; want the budget's error after one chunk", err, src.read)
	}
}

// frameCountingReader counts the bytes read through it.
type frameCountingReader struct {
	r    io.Reader
	read int
}

func (c *frameCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func TestReadFrame_SizeBelowMinimum_Malformed(t *testing.T) {
	for _, size := range []uint32{0, 1, 7, 0x80000000, 0xffffffff} {
		in := append(binary.BigEndian.AppendUint32(nil, size), make([]byte, 16)...)
		if _, err := readFrame(bytes.NewReader(in), 1<<20); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("size %#x: got %v, want ErrMalformedFrame", size, err)
		}
	}
}

func TestReadFrame_TruncatedBody_Malformed(t *testing.T) {
	in := frameOf(make([]byte, 100))[:4+50]
	if _, err := readFrame(bytes.NewReader(in), 1<<20); !errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("got %v, want ErrMalformedFrame", err)
	}
}

func TestReadFrame_ConnectionClosedBetweenFrames_EOF(t *testing.T) {
	// A clean close before a size prefix is io.EOF, which the server does
	// not log as an error; a close inside the prefix is not clean.
	if _, err := readFrame(bytes.NewReader(nil), 1<<20); err != io.EOF {
		t.Fatalf("empty stream: got %v, want io.EOF", err)
	}
	if _, err := readFrame(bytes.NewReader([]byte{0, 0}), 1<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("half a size prefix: got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadFrame_BackToBackFrames_EachReadWhole(t *testing.T) {
	a, b := bytes.Repeat([]byte{'a'}, 8), bytes.Repeat([]byte{'b'}, 64)
	r := bytes.NewReader(append(frameOf(a), frameOf(b)...))
	for _, want := range [][]byte{a, b} {
		got, err := readFrame(r, 64)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if _, err := readFrame(r, 64); err != io.EOF {
		t.Fatalf("after the last frame: got %v, want io.EOF", err)
	}
}

func TestReadFrame_SizeEqualToMax_Accepted(t *testing.T) {
	body := bytes.Repeat([]byte{'x'}, 100)
	if got, err := readFrame(bytes.NewReader(frameOf(body)), 100); err != nil || len(got) != 100 {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if _, err := readFrame(bytes.NewReader(frameOf(append(body, 'y'))), 100); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("one byte over: got %v, want ErrFrameTooLarge", err)
	}
}

func TestParseRequest_EveryServedKeyAtMinAndMaxVersion_RoundTrips(t *testing.T) {
	if len(handlers) == 0 {
		t.Fatal("no handlers registered")
	}
	clientID := "client-1"
	for _, key := range apiKeys() {
		h := handlers[key]
		for _, v := range []int16{h.min, h.max} {
			t.Run(kmsg.NameForKey(key)+"/v"+strconv.Itoa(int(v)), func(t *testing.T) {
				sent := frameSampleRequest(key, v)
				want := sent.AppendTo(nil)
				req, err := parseRequest(frameRequestBody(sent, 12345, &clientID), supported)
				if err != nil {
					t.Fatalf("parseRequest: %v", err)
				}
				if req.key != key || req.version != v || req.corr != 12345 || req.clientID != clientID {
					t.Fatalf("header: key %d v%d corr %d client %q", req.key, req.version, req.corr, req.clientID)
				}
				if req.kreq == nil || req.kreq.Key() != key || req.kreq.GetVersion() != v {
					t.Fatalf("kreq %T not the sent key and version", req.kreq)
				}
				if got := req.kreq.AppendTo(nil); !bytes.Equal(got, want) {
					t.Fatalf("re-encoded body differs from the one sent:\n got %x\nwant %x", got, want)
				}
			})
		}
	}
}

func TestParseRequest_FramedByFranzGo_Parses(t *testing.T) {
	// What a real franz-go client writes, not our own encoding of it.
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("kgo"))
	for _, key := range apiKeys() {
		h := handlers[key]
		sent := frameSampleRequest(key, h.max)
		framed := f.AppendRequest(nil, sent, 7)
		body, err := readFrame(bytes.NewReader(framed), 1<<20)
		if err != nil {
			t.Fatalf("%s: readFrame: %v", kmsg.NameForKey(key), err)
		}
		req, err := parseRequest(body, supported)
		if err != nil {
			t.Fatalf("%s v%d: %v", kmsg.NameForKey(key), h.max, err)
		}
		if req.corr != 7 || req.clientID != "kgo" || !bytes.Equal(req.kreq.AppendTo(nil), sent.AppendTo(nil)) {
			t.Fatalf("%s: parsed corr %d client %q", kmsg.NameForKey(key), req.corr, req.clientID)
		}
	}
}

func TestParseRequest_NullClientID_Empty(t *testing.T) {
	req, err := parseRequest(frameRequestBody(frameSampleRequest(3, 1), 1, nil), supported)
	if err != nil {
		t.Fatal(err)
	}
	if req.clientID != "" {
		t.Fatalf("client id %q, want empty", req.clientID)
	}
}

func TestParseRequest_UnknownKey_ErrUnknownAPIKey(t *testing.T) {
	for _, key := range []int16{-1, 5, 37, 1000, 32767} {
		if _, ok := handlers[key]; ok {
			t.Fatalf("key %d is served; pick another", key)
		}
		body := binary.BigEndian.AppendUint16(nil, uint16(key))
		body = append(body, 0, 0, 0, 0, 0, 9, 0xff, 0xff)
		req, err := parseRequest(body, supported)
		if !errors.Is(err, ErrUnknownAPIKey) {
			t.Errorf("key %d: got %v, want ErrUnknownAPIKey", key, err)
			continue
		}
		if req == nil || req.corr != 9 {
			t.Errorf("key %d: header not returned with the error", key)
		}
	}
}

func TestParseRequest_VersionOutsideServedRange_ErrUnsupportedVers(t *testing.T) {
	for _, key := range apiKeys() {
		if key == apiVersionsKey {
			continue
		}
		h := handlers[key]
		versions := []int16{h.max + 1, 32767, -1}
		if h.min > 0 {
			versions = append(versions, h.min-1)
		}
		for _, v := range versions {
			body := binary.BigEndian.AppendUint16(nil, uint16(key))
			body = binary.BigEndian.AppendUint16(body, uint16(v))
			body = append(body, 0, 0, 0, 5, 0xff, 0xff)
			req, err := parseRequest(body, supported)
			if !errors.Is(err, ErrUnsupportedVers) {
				t.Errorf("%s v%d: got %v, want ErrUnsupportedVers", kmsg.NameForKey(key), v, err)
				continue
			}
			if req == nil || req.kreq != nil || req.corr != 5 {
				t.Errorf("%s v%d: want the header and no body", kmsg.NameForKey(key), v)
			}
		}
	}
}

func TestParseRequest_ApiVersionsAboveRange_NoErrorNoBody(t *testing.T) {
	// KIP-511: a client newer than the broker sends ApiVersions at its own
	// highest version and expects an answer naming the broker's range.
	max := handlers[apiVersionsKey].max
	for _, v := range []int16{max + 1, max + 10, 32767} {
		body := binary.BigEndian.AppendUint16(nil, apiVersionsKey)
		body = binary.BigEndian.AppendUint16(body, uint16(v))
		body = append(body, 0, 0, 0, 3, 0, 3, 'c', 'l', 'i')
		body = append(body, 0xde, 0xad, 0xbe, 0xef) // a body from the future
		req, err := parseRequest(body, supported)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		if req.kreq != nil || req.key != apiVersionsKey || req.version != v || req.corr != 3 || req.clientID != "cli" {
			t.Fatalf("v%d: got %+v", v, req)
		}
	}
}

func TestParseRequest_GarbageOrShort_ErrMalformedFrame(t *testing.T) {
	metadataV12 := frameRequestBody(frameSampleRequest(3, 12), 1, nil)
	produceV3 := frameRequestBody(frameSampleRequest(0, 3), 1, nil)
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"cut in the correlation id", []byte{0, 3, 0, 1, 0, 0}},
		{"cut in the client id", []byte{0, 3, 0, 1, 0, 0, 0, 1, 0, 5, 'a', 'b'}},
		{"flexible header with a bad tag section", append([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff}, 0x05)},
		{"metadata v12 cut short", frameConcat(metadataV12[:len(metadataV12)-3])},
		{"produce v3 cut short", frameConcat(produceV3[:len(produceV3)-5])},
		{"produce v3 with a garbage body", frameConcat(produceV3[:10], bytes.Repeat([]byte{0x7f}, 40))},
		{"metadata v12 with a garbage body", frameConcat(metadataV12[:11], bytes.Repeat([]byte{0x7f}, 40))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseRequest(tt.body, supported); !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("got %v, want ErrMalformedFrame", err)
			}
		})
	}
}

// frameConcat joins byte slices into a new one, never sharing the inputs'
// backing arrays.
func frameConcat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
