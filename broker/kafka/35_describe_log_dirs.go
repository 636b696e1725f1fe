package kafka

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeLogDirs v0-4.
//
// A node has one log directory (Config.LogDir: <data-dir>/partitions with
// --storage disk) holding every partition, each replica's own: any node
// answers for itself, with each partition's size as its store holds it and
// an offset lag of 0 (a replica applies the same log; the lag of one
// catching up is Raft's, not a partition's). v4 adds the filesystem's size
// and usable bytes (df's Avail), -1 when unknown. No topics asked: every
// partition; topics or partitions that do not exist are left out, as Kafka
// leaves them out.

func init() { register(35, 0, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DescribeLogDirsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
		dir := kmsg.NewDescribeLogDirsResponseDir()
		dir.Dir = l.cfg.LogDir
		dir.TotalBytes, dir.UsableBytes = -1, -1
		if l.cfg.DiskUsage != nil {
			if total, usable, err := l.cfg.DiskUsage(); err == nil {
				dir.TotalBytes, dir.UsableBytes = total, usable
			}
		}
		describe := func(topic string, partitions []int32) {
			t, ok := l.cluster.Topic(topic)
			if !ok {
				return
			}
			dt := kmsg.NewDescribeLogDirsResponseDirTopic()
			dt.Topic = topic
			for p := range t.Partitions {
				if partitions != nil && !slices.Contains(partitions, p) {
					continue
				}
				part, err := l.cluster.Partition(topic, p)
				if err != nil {
					continue // deleted or shrunk since
				}
				dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
				dp.Partition, dp.Size = p, part.Size()
				dt.Partitions = append(dt.Partitions, dp)
			}
			if len(dt.Partitions) > 0 {
				dir.Topics = append(dir.Topics, dt)
			}
		}
		if req.Topics == nil {
			for _, t := range l.cluster.Topics() {
				describe(t.Name, nil)
			}
		} else {
			for _, rt := range req.Topics {
				describe(rt.Topic, rt.Partitions)
			}
		}
		resp.Dirs = append(resp.Dirs, dir)
		return resp
	}
}
