"""The admin APIs through confluent-kafka's AdminClient (librdkafka), run by
broker/kafka's TestConfluentAdminClient with Debian's /usr/bin/python3
(python3-confluent-kafka 1.7.0, librdkafka 2.0.2: no incremental alter).

usage: admin_confluent.py BOOTSTRAP TOPIC TIMEOUT_S

Describes a topic's and a broker's configs, alters the topic's, grows it,
checks a shrink is refused, then produces to and consumes from a new
partition (Fetch with leader epochs). Prints one JSON object: {"ok": true,
"steps": [...]} or {"ok": false, "error": "...", "steps": [...]}.
"""

import collections
import json
import logging
import sys
import time

import confluent_kafka as ck
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource,
                                   NewPartitions, NewTopic)

bootstrap, topic, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
steps = []

# The consumer's librdkafka debug log, kept in memory and reported when a
# check fails, so a failed run says what the client saw.
client_log = collections.deque(maxlen=400)


class _Keep(logging.Handler):
    def emit(self, record):
        client_log.append(record.getMessage())


log = logging.getLogger("rdkafka")
log.setLevel(logging.DEBUG)
log.addHandler(_Keep())


class CaseError(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CaseError(what)
    steps.append(what)


def topic_configs(a):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    for f in a.describe_configs([res], request_timeout=timeout).values():
        return f.result(timeout)


def eventually(f, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if f():
                steps.append(what)
                return
        except ck.KafkaException:
            pass
        if time.monotonic() > deadline:
            raise CaseError("not within %ss: %s" % (timeout, what))
        time.sleep(0.1)


def run():
    a = AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([NewTopic(topic, 2, 3, config={"retention.ms": "3600000"})],
                             request_timeout=timeout).values():
        f.result(timeout)
    steps.append("created")

    def described():
        c = topic_configs(a)
        return (c["retention.ms"].value == "3600000"
                and c["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
                and c["segment.bytes"].value == "134217728"
                and c["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value)
    eventually(described, "topic configs described with their sources")

    broker = ConfigResource(ConfigResource.Type.BROKER, "1")
    for f in a.describe_configs([broker], request_timeout=timeout).values():
        c = f.result(timeout)
    check(c["broker.id"].value == "1" and c["broker.id"].is_read_only, "broker configs described read-only")

    # AlterConfigs replaces the set: retention.ms goes back to its default.
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"max.message.bytes": "500000"})
    for f in a.alter_configs([res], request_timeout=timeout).values():
        f.result(timeout)

    def altered():
        c = topic_configs(a)
        return (c["max.message.bytes"].value == "500000"
                and c["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value)
    eventually(altered, "configs altered")

    bad = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"segment.bytes": "10"})
    try:
        for f in a.alter_configs([bad], request_timeout=timeout).values():
            f.result(timeout)
        raise CaseError("segment.bytes=10 accepted")
    except ck.KafkaException as e:
        check(e.args[0].code() == ck.KafkaError.INVALID_CONFIG, "bad config refused: %s" % e.args[0].name())

    for f in a.create_partitions([NewPartitions(topic, 4)], request_timeout=timeout).values():
        f.result(timeout)
    eventually(lambda: len(a.list_topics(topic, timeout=timeout).topics[topic].partitions) == 4,
               "grown to 4 partitions")
    try:
        for f in a.create_partitions([NewPartitions(topic, 3)], request_timeout=timeout).values():
            f.result(timeout)
        raise CaseError("shrink to 3 accepted")
    except ck.KafkaException as e:
        check(e.args[0].code() == ck.KafkaError.INVALID_PARTITIONS, "shrink refused: %s" % e.args[0].name())

    # A follower learns of the growth from the leader's next append, which
    # CreatePartitions sends before it answers; a follower may still apply
    # it a moment later, and librdkafka fails a record for a partition its
    # metadata does not have at once. So the producer starts from metadata
    # that has the new partition, and delivery reports (not flush's count)
    # say what was written.
    p, deadline = None, time.monotonic() + timeout
    while p is None:
        p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        if len(p.list_topics(topic, timeout=timeout).topics[topic].partitions) != 4:
            p = None
            if time.monotonic() > deadline:
                raise CaseError("no producer's metadata has the new partition")
    report = []
    for i in range(5):
        p.produce(topic, value="r%d" % i, partition=3, on_delivery=lambda err, msg: report.append(err))
    p.flush(timeout)
    check(report == [None] * 5, "produced to the new partition")
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "enable.auto.commit": False,
                     "debug": "consumer,fetch,topic,metadata,msg,broker"}, logger=log)
    try:
        c.assign([ck.TopicPartition(topic, 3, ck.OFFSET_BEGINNING)])
        got, errs, deadline = [], [], time.monotonic() + timeout
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                errs.append(str(m.error()))  # the group coordinator's refusal, partition EOF
                continue
            got.append(m.value().decode())
        check(got == ["r%d" % i for i in range(5)],
              "consumed the new partition: %s (errors: %s)" % (got, errs[-5:]))
    finally:
        c.close()


try:
    run()
    print(json.dumps({"ok": True, "steps": steps}))
except (CaseError, ck.KafkaException) as e:
    print(json.dumps({"ok": False, "error": str(e), "steps": steps, "client_log": list(client_log)}))
