package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

func TestEndOffsetFor_KafkasAnswers(t *testing.T) {
	// Epochs 2 and 5 wrote from offsets 0 and 10; the high watermark is 15.
	epochs := []cluster.EpochStart{{Epoch: 2, Start: 0}, {Epoch: 5, Start: 10}}
	for _, tc := range []struct {
		requested, current int32
		epoch              int32
		end                int64
	}{
		{5, 5, 5, 15},   // the current epoch ends at the high watermark
		{2, 5, 2, 10},   // an older epoch ends where the next began
		{3, 5, 2, 10},   // one that wrote nothing: the last before it
		{1, 5, 1, 0},    // older than any known: itself, to the first start
		{-1, 5, -1, -1}, // none asked
		{6, 5, -1, -1},  // newer than the leader's
		// A new leader (epoch 7) that has not written: its epoch starts
		// at the high watermark, where 5 ends.
		{5, 7, 5, 15},
		{6, 7, 5, 15},
		{7, 7, 7, 15},
	} {
		epoch, end := endOffsetFor(epochs, tc.requested, tc.current, 15)
		if epoch != tc.epoch || end != tc.end {
			t.Errorf("requested %d, current %d: %d, %d; want %d, %d", tc.requested, tc.current, epoch, end, tc.epoch, tc.end)
		}
	}
	if len(epochs) != 2 {
		t.Fatalf("endOffsetFor changed its argument: %v", epochs)
	}
	if epoch, end := endOffsetFor(nil, 3, 3, 0); epoch != 3 || end != 0 {
		t.Errorf("empty partition: %d, %d", epoch, end)
	}
	if epoch, end := endOffsetFor(nil, 2, 3, 4); epoch != 2 || end != 4 {
		t.Errorf("partition with records from before epochs were kept, older epoch: %d, %d; want 2, 4", epoch, end)
	}
}

func TestCheckLeaderEpoch(t *testing.T) {
	for _, tc := range []struct {
		requested int32
		want      int16
	}{{-1, 0}, {4, 0}, {3, kerr.FencedLeaderEpoch.Code}, {5, kerr.UnknownLeaderEpoch.Code}} {
		if got := checkLeaderEpoch(tc.requested, 4); got != tc.want {
			t.Errorf("requested %d, current 4: %d, want %d", tc.requested, got, tc.want)
		}
	}
}
