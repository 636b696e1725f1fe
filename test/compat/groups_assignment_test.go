//go:build unix

package compat

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Who owns which partition of a group, seen two ways: from the members'
// reads of probe records, and from the coordinator's DescribeGroups.

// describedAs waits until DescribeGroups, asked by the harness, shows the
// group (named as its topic) in state with members assigned the partitions
// split says (member names aside): the coordinator's view of the group is
// what the members' reads show.
func describedAs(ctx context.Context, c *cluster, group, state string, split map[string][]int32) error {
	var want []string
	for _, parts := range split {
		want = append(want, fmt.Sprint(parts))
	}
	slices.Sort(want)
	adm := kadm.NewClient(c.admin)
	var last string
	for {
		dg, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			err = dg.Error()
		}
		if err != nil {
			last = err.Error()
		} else {
			d := dg[group]
			var got []string
			for _, m := range d.Members {
				var parts []int32
				if a, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range a.Topics {
						parts = append(parts, t.Partitions...)
					}
				}
				slices.Sort(parts)
				got = append(got, fmt.Sprint(parts))
			}
			slices.Sort(got)
			if d.State == state && slices.Equal(got, want) {
				return nil
			}
			last = fmt.Sprintf("%s with assignments %v", d.State, got)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("DescribeGroups: want %s with assignments %v, the last answer: %s: %w", state, want, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// prober writes rounds of probe records, one to each partition, and tells
// from who reads them how the group has split the partitions.
type prober struct {
	topic      string
	partitions int32
	cl         *kgo.Client
	round      int
	sent       []record
}

func newProber(c *cluster, topic string) (*prober, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return nil, err
	}
	return &prober{topic: topic, partitions: rebalancePartitions, cl: cl}, nil
}

func (p *prober) close() { p.cl.Close() }

// awaitSplit writes rounds of probes until two rounds in a row are read
// the same way, every partition by exactly one member and every member of
// want reading some: the group has settled on an assignment of all
// partitions to exactly those members. One such round is not enough: a
// round written during a rebalance can be read partly under the old
// assignment and partly under the new, and still look like a split. It
// returns who read which partitions, and when the first of the two rounds
// had been read.
func (p *prober) awaitSplit(ctx context.Context, sink *groupSink, want []string) (map[string][]int32, time.Time, error) {
	var (
		last   string
		prev   map[string][]int32
		prevAt time.Time
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, time.Time{}, fmt.Errorf("%w; the last round of probes: %s", err, last)
		}
		p.round++
		keys := map[string]int32{}
		var rs []*kgo.Record
		for part := range p.partitions {
			r := record{key: fmt.Sprintf("probe-%03d-%d", p.round, part), value: fmt.Sprintf("%s probe %d", p.topic, p.round)}
			keys[r.key] = part
			p.sent = append(p.sent, r)
			rs = append(rs, &kgo.Record{Topic: p.topic, Partition: part, Key: []byte(r.key), Value: []byte(r.value)})
		}
		if err := p.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			return nil, time.Time{}, fmt.Errorf("probe round %d: %w", p.round, err)
		}
		var readers map[int32][]string
		err := sink.await(ctx, fmt.Sprintf("probe round %d to be read", p.round), func(all []read) error {
			readers = map[int32][]string{}
			for _, r := range all {
				if part, ok := keys[r.key]; ok {
					readers[part] = append(readers[part], r.member)
				}
			}
			if len(readers) < int(p.partitions) {
				return fmt.Errorf("%d of %d probes read (%v)", len(readers), p.partitions, readers)
			}
			return nil
		})
		if err != nil {
			return nil, time.Time{}, err
		}
		readAt := time.Now()
		split := map[string][]int32{}
		ok := true
		for part, who := range readers {
			if len(who) != 1 {
				ok = false
			}
			for _, m := range who {
				split[m] = append(split[m], part)
			}
		}
		for _, parts := range split {
			sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		}
		last = fmt.Sprintf("round %d: %v", p.round, split)
		if !ok || !slices.Equal(slices.Sorted(maps.Keys(split)), slices.Sorted(slices.Values(want))) {
			prev = nil
			continue
		}
		if prev != nil && maps.EqualFunc(prev, split, slices.Equal) {
			return split, prevAt, nil
		}
		prev, prevAt = split, readAt
	}
}
