package raftcluster

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/recordbatch"
)

// Batches are served with the leader epoch that wrote them (fsm/epochs.go)
// in their partition leader epoch field, which the CRC does not cover, as
// Kafka's leader writes its epoch into each batch it appends. The stores
// keep the producer's bytes (the Raft entry's, which are never written to),
// so the epoch is written into each batch as it is read out: into what
// AppendBatches returns, which Fetch serves and the replica digest hashes.

// epochOf is the epoch that wrote offset: the last epoch starting at or
// before it, or -1 for offsets written before epochs were kept.
func epochOf(epochs []fsm.EpochStart, offset int64) int32 {
	i := sort.Search(len(epochs), func(i int) bool { return epochs[i].Start > offset })
	if i == 0 {
		return -1
	}
	return epochs[i-1].Epoch
}

// stampEpochs writes into each batch of batches (whole batches, one after
// another, base offsets written in) the epoch that wrote it.
func stampEpochs(batches []byte, epochs []fsm.EpochStart) {
	for len(batches) >= recordbatch.HeaderSize {
		size := 12 + int(binary.BigEndian.Uint32(batches[8:]))
		if size < recordbatch.HeaderSize || size > len(batches) {
			return
		}
		recordbatch.SetPartitionLeaderEpoch(batches, epochOf(epochs, int64(binary.BigEndian.Uint64(batches))))
		batches = batches[size:]
	}
}

// digestReadBytes is how much of a partition one read of its digest brings in.
const digestReadBytes = 1 << 20

// servedDigest summarises a partition as it is served: a SHA-256 over its
// batches from the one holding the log start offset to the high watermark
// as of the call, epochs written in, and their size. Equal on two nodes,
// their replicas serve byte-identical records with the same epochs. A
// retention pass or DeleteRecords that moves the start while it reads
// makes it start again (at most a few times: they are rare).
func servedDigest(p partition) (Digest, error) {
	for attempt := 0; ; attempt++ {
		d, err := servedDigestOnce(p)
		if err == nil || attempt == 3 || !errors.Is(err, kerr.OffsetOutOfRange) {
			return d, err
		}
	}
}

func servedDigestOnce(p partition) (Digest, error) {
	start, next := p.log.Offsets()
	d := Digest{Start: start, Next: next}
	h := sha256.New()
	var buf []byte
	var err error
	for from := start; from < next; {
		if buf, err = p.AppendBatches(buf[:0], from, digestReadBytes); err != nil {
			return Digest{}, err
		}
		if len(buf) == 0 {
			break
		}
		for rest := buf; len(rest) > 0 && from < next; {
			hd, err := recordbatch.ParseHeader(rest)
			if err != nil {
				return Digest{}, err
			}
			h.Write(rest[:hd.Length])
			d.Bytes += int64(hd.Length)
			from = int64(binary.BigEndian.Uint64(rest)) + int64(hd.LastOffsetDelta) + 1
			rest = rest[hd.Length:]
		}
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d, nil
}
