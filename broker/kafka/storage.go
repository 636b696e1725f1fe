package kafka

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/raftline/raftline/broker/cluster"
)

// storageLogInterval bounds how often a partition's read failures are
// logged: a consumer retrying a damaged partition would otherwise log one
// line per fetch.
const storageLogInterval = time.Minute

// storageLog remembers when each partition's read failure was last logged.
type storageLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	// skipped counts failures not logged since the last line, per
	// partition.
	skipped map[string]int
}

// storageReadFailed logs a partition read that failed on this node's disk
// (cluster.ErrStorage: an I/O error, or bytes that fail their checksums),
// which the client was answered KAFKA_STORAGE_ERROR for: at once for the
// first, then at most once per storageLogInterval per partition, with the
// number of failures in between. Other read errors (out of range after
// retention, a deleted topic) are a client's ordinary business.
func (l *Listener) storageReadFailed(ctx context.Context, topic string, partition int32, err error) {
	if !errors.Is(err, cluster.ErrStorage) {
		return
	}
	key := topic + "/" + strconv.Itoa(int(partition))
	now := time.Now()
	s := &l.storageLog
	s.mu.Lock()
	if s.last == nil {
		s.last, s.skipped = map[string]time.Time{}, map[string]int{}
	}
	if t, ok := s.last[key]; ok && now.Sub(t) < storageLogInterval {
		s.skipped[key]++
		s.mu.Unlock()
		return
	}
	skipped := s.skipped[key]
	s.last[key], s.skipped[key] = now, 0
	s.mu.Unlock()
	l.log.ErrorContext(ctx, "cannot read a partition from disk; answering KAFKA_STORAGE_ERROR", "topic", topic, "partition", partition, "err", err, "failures_not_logged", skipped)
}
