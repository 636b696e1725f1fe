package fsm

// LogStats is what one partition's log holds in its store, for metrics.
type LogStats struct {
	// Bytes is the record batch bytes held (Size: what retention.bytes is
	// measured against), in memory or in segment files.
	Bytes int64
	// OnDisk is whether the log keeps its records in files (Disk); the
	// fields below are 0 in memory.
	OnDisk bool
	// Segments is the number of segment files; IndexBytes the bytes of
	// their offset, time and append-time indexes.
	Segments   int
	IndexBytes int64
}

// statser is a partition log that can say more about what it holds than
// its size: the logs kept on disk.
type statser interface {
	stats() LogStats
}

// Stats reports what log holds, from what its store keeps in memory: no
// file is read.
func Stats(log PartitionLog) LogStats {
	if s, ok := log.(statser); ok {
		return s.stats()
	}
	return LogStats{Bytes: log.Size()}
}

func (d diskLog) stats() LogStats {
	st := d.l.Stats()
	return LogStats{Bytes: st.LogBytes, OnDisk: true, Segments: st.Segments, IndexBytes: st.IndexBytes}
}
