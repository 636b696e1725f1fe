package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions v0-4.
//
// Lists every registered key with the versions served. A request above v4 is
// answered as Kafka does (KIP-511): a v0 response with UNSUPPORTED_VERSION and
// the ApiVersions range, so the client retries at a version we serve.
// v3+ is flexible and carries the client's software name and version.

func init() { register(apiVersionsKey, 0, 4, handleApiVersions) }

func handleApiVersions(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ApiVersionsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
		resp.ApiKeys = advertisedKeys()
		return resp
	}
}

func (l *Listener) unsupportedApiVersions(r *request) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = advertisedKeys()
	return resp
}

func advertisedKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for _, k := range apiKeys() {
		h := handlers[k]
		keys = append(keys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: h.min, MaxVersion: h.max})
	}
	return keys
}
