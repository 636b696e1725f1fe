package seglog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
)

// checkpointName is the file Sync writes last: what was made durable. Open
// trusts the segments it describes (their lengths and checksums still match)
// without reading their log files, and recovers the rest batch by batch.
const checkpointName = "checkpoint"

// checkpoint is the log as of the last sync. Layout: one line of JSON, then a
// line with the CRC-32C of that JSON in hex.
type checkpoint struct {
	Version  int                 `json:"version"`
	Start    int64               `json:"start"`
	Next     int64               `json:"next"`
	Segments []checkpointSegment `json:"segments"`
}

type checkpointSegment struct {
	Base               int64      `json:"base"`
	Next               int64      `json:"next"`
	MaxTimestamp       int64      `json:"max_timestamp"`
	MaxTimestampOffset int64      `json:"max_timestamp_offset"`
	LastTimeIndexTs    int64      `json:"last_time_index_ts"`
	LastIndexRel       uint32     `json:"last_index_rel"`
	LastIndexPos       int64      `json:"last_index_pos"`
	FirstAppendTimeMs  int64      `json:"first_append_time_ms"`
	MaxAppendTimeMs    int64      `json:"max_append_time_ms"`
	Files              [4]fileSum `json:"files"` // log, index, time index, append-time index
}

type fileSum struct {
	Length int64  `json:"length"`
	CRC32C uint32 `json:"crc32c"`
}

const checkpointVersion = 1

// checkpointOf describes segs as they are now. Called by the writer.
func checkpointOf(start, next int64, segs []*segment) checkpoint {
	ck := checkpoint{Version: checkpointVersion, Start: start, Next: next}
	for _, s := range segs {
		cs := checkpointSegment{
			Base: s.base, Next: s.next, MaxTimestamp: s.maxTs, MaxTimestampOffset: s.maxTsOffset,
			LastTimeIndexTs: s.lastTimeT, LastIndexRel: s.lastIndexRel, LastIndexPos: s.lastIndexPos,
			FirstAppendTimeMs: s.firstAppend, MaxAppendTimeMs: s.maxAppend,
		}
		for i, f := range s.files() {
			cs.Files[i] = fileSum{Length: f.size, CRC32C: f.crc}
		}
		ck.Segments = append(ck.Segments, cs)
	}
	return ck
}

func writeCheckpoint(dir string, ck checkpoint) error {
	js, err := json.Marshal(ck)
	if err != nil {
		return err
	}
	data := append(js, '\n')
	data = fmt.Appendf(data, "%08x\n", crc32.Checksum(js, castagnoli))
	return writeFileAtomic(filepath.Join(dir, checkpointName), data)
}

// readCheckpoint reads dir's checkpoint; nil without error when there is
// none (a log never synced).
func readCheckpoint(dir string) (*checkpoint, error) {
	path := filepath.Join(dir, checkpointName)
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, ioError("read", path, err)
	}
	bad := func(why string) error { return fmt.Errorf("seglog: %s: %w: %s", path, ErrCorrupt, why) }
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		return nil, bad("not a checkpoint")
	}
	sum, err := strconv.ParseUint(string(lines[1]), 16, 32)
	if err != nil || uint32(sum) != crc32.Checksum(lines[0], castagnoli) {
		return nil, bad("checksum mismatch")
	}
	var ck checkpoint
	if err := json.Unmarshal(lines[0], &ck); err != nil {
		return nil, bad(err.Error())
	}
	if ck.Version != checkpointVersion {
		return nil, bad(fmt.Sprintf("version %d, want %d", ck.Version, checkpointVersion))
	}
	return &ck, nil
}
