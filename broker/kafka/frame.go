package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Errors from reading a request. Each closes the connection: after a frame
// that cannot be parsed the stream position is unknown, and Kafka brokers do
// the same.
var (
	ErrFrameTooLarge   = errors.New("request frame larger than the maximum")
	ErrMalformedFrame  = errors.New("malformed request frame")
	ErrUnknownAPIKey   = errors.New("unknown API key")
	ErrUnsupportedVers = errors.New("unsupported API version")
)

// request is one parsed Kafka request.
type request struct {
	key      int16
	version  int16
	corr     int32
	clientID string
	kreq     kmsg.Request // nil for an ApiVersions request above our range
	external bool         // arrived on the external listener
	// clientHost is the client's address as Kafka reports a group
	// member's host ("/" and the IP).
	clientHost string
}

// readFrame reads one size-prefixed frame, refusing sizes above max before
// reading or allocating anything for the body, and holding only the body
// bytes that have arrived (see bodyReader). The listener reads frames with
// the same pieces, between deadlines and budgets (conn.readRequest).
func readFrame(r io.Reader, max int32) ([]byte, error) {
	br := bodyReader{r: r, chunk: chunkSize}
	return br.frame(max)
}

// checkSize decodes a size prefix and refuses a frame too small to hold a
// request header or larger than max.
func checkSize(size [4]byte, max int32) (int32, error) {
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 8 {
		return 0, fmt.Errorf("%w: size %d", ErrMalformedFrame, n)
	}
	if n > max {
		return 0, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, n, max)
	}
	return n, nil
}

// chunkSize is the unit a large frame's body is read and charged in. A frame
// of up to chunkSize bytes is read straight into its body, so a connection
// holds at most chunkSize bytes it has not received.
const chunkSize = 64 << 10

// chunkPool keeps up to 512 chunks (32 MiB) between frames, so large frames
// and waves of stalled ones reuse memory instead of leaving garbage for the
// collector, which lets the heap grow to twice what is live before it runs;
// Listener.returnMemory empties it after a burst.
var chunkPool = make(chan []byte, 512)

func getChunk() []byte {
	select {
	case c := <-chunkPool:
		return c
	default:
		return make([]byte, chunkSize)
	}
}

func putChunk(c []byte) {
	select {
	case chunkPool <- c:
	default:
	}
}

// drainChunks empties the pool, so memory returned after a burst includes
// its chunks.
func drainChunks() {
	for {
		select {
		case <-chunkPool:
		default:
			return
		}
	}
}

// bodyReader reads frame bodies as their bytes arrive. A declared size is
// only a promise: a body larger than a chunk is read into chunks taken one
// at a time, each when the previous one is full, and copied into one buffer
// once the last byte is in. A client that declares 100 MiB and sends 1 MiB
// makes the broker hold 1 MiB and one chunk, not 100 MiB. Assembling briefly
// takes twice the frame's size; by then the client has sent all of it.
type bodyReader struct {
	r     io.Reader
	chunk int // chunkSize, smaller in tests
	// acquire, when set, is asked for each chunk's bytes before they are
	// read (a frame of up to a chunk asks once, for its size); an error
	// ends the read with that error.
	acquire func(n int64) error
	// progress, when set, is called after every read that returned bytes.
	progress func()
}

// frame reads a size prefix and the body it announces (see readFrame).
func (br *bodyReader) frame(max int32) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(br.r, size[:]); err != nil {
		return nil, err
	}
	n, err := checkSize(size, max)
	if err != nil {
		return nil, err
	}
	return br.read(n)
}

// read reads a body of n bytes. A body cut short is ErrMalformedFrame
// wrapping the read error (so a deadline shows as os.ErrDeadlineExceeded).
func (br *bodyReader) read(n int32) ([]byte, error) {
	size := int(n)
	if size <= br.chunk {
		if err := br.take(size); err != nil {
			return nil, err
		}
		body := make([]byte, size)
		if err := br.fill(body); err != nil {
			return nil, err
		}
		return body, nil
	}
	var chunks [][]byte
	defer func() {
		for _, c := range chunks {
			br.put(c)
		}
	}()
	for left := size; left > 0; {
		k := min(left, br.chunk)
		if err := br.take(k); err != nil {
			return nil, err
		}
		c := br.get()[:k]
		chunks = append(chunks, c)
		if err := br.fill(c); err != nil {
			return nil, err
		}
		left -= k
	}
	body := make([]byte, 0, size)
	for _, c := range chunks {
		body = append(body, c...)
	}
	return body, nil
}

func (br *bodyReader) take(n int) error {
	if br.acquire == nil {
		return nil
	}
	return br.acquire(int64(n))
}

// fill reads exactly len(p) bytes.
func (br *bodyReader) fill(p []byte) error {
	for got := 0; got < len(p); {
		m, err := br.r.Read(p[got:])
		if m > 0 {
			got += m
			if br.progress != nil {
				br.progress()
			}
		}
		if got == len(p) {
			return nil
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%w: truncated: %w", ErrMalformedFrame, err)
		}
	}
	return nil
}

func (br *bodyReader) get() []byte {
	if br.chunk == chunkSize {
		return getChunk()
	}
	return make([]byte, br.chunk)
}

func (br *bodyReader) put(c []byte) {
	if cap(c) == chunkSize {
		putChunk(c[:chunkSize])
	}
}

// parseRequest decodes the request header and body. supported reports the
// version range served for a key (ok false for keys not served).
func parseRequest(body []byte, supported func(key int16) (min, max int16, ok bool)) (*request, error) {
	rd := kbin.Reader{Src: body}
	req := &request{key: rd.Int16(), version: rd.Int16(), corr: rd.Int32()}
	if cid := rd.NullableString(); cid != nil {
		req.clientID = *cid
	}
	if !rd.Ok() {
		return nil, fmt.Errorf("%w: short header", ErrMalformedFrame)
	}
	min, max, ok := supported(req.key)
	if !ok {
		if name := kmsg.NameForKey(req.key); name != "Unknown" {
			// Known to Kafka, not served by raftline (yet): say which.
			return req, fmt.Errorf("%w: %d (%s)", ErrUnknownAPIKey, req.key, name)
		}
		return req, fmt.Errorf("%w: %d", ErrUnknownAPIKey, req.key)
	}
	if req.version < min || req.version > max {
		if req.key == apiVersionsKey {
			// Answered with a v0 UNSUPPORTED_VERSION response that
			// tells the client our range (KIP-511); the body of a
			// newer version cannot be parsed.
			return req, nil
		}
		return req, fmt.Errorf("%w: %s v%d (served: v%d-v%d)", ErrUnsupportedVers, kmsg.NameForKey(req.key), req.version, min, max)
	}
	kreq := kmsg.RequestForKey(req.key)
	kreq.SetVersion(req.version)
	if kreq.IsFlexible() {
		kmsg.SkipTags(&rd)
		if !rd.Ok() {
			return nil, fmt.Errorf("%w: bad header tags", ErrMalformedFrame)
		}
	}
	if err := kreq.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", ErrMalformedFrame, kmsg.NameForKey(req.key), req.version, err)
	}
	req.kreq = kreq
	return req, nil
}

// appendResponse frames a response: size, correlation id, the response
// header's tag section when flexible (ApiVersions always uses header v0), and
// the body.
func appendResponse(buf []byte, corr int32, resp kmsg.Response) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		buf = append(buf, 0)
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf[start:], uint32(len(buf)-start-4))
	return buf
}
