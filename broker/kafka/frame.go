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
}

// readFrame reads one size-prefixed frame, refusing sizes above max before
// allocating anything.
func readFrame(r io.Reader, max int32) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 8 {
		return nil, fmt.Errorf("%w: size %d", ErrMalformedFrame, n)
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: truncated: %v", ErrMalformedFrame, err)
	}
	return body, nil
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
