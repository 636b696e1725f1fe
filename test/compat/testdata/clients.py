"""One compatibility case against raftline, run by test/compat with Debian's
/usr/bin/python3 (python3-confluent-kafka, python3-kafka).

usage: clients.py LIB FEATURE BOOTSTRAP TOPIC TIMEOUT_S
  LIB      confluent | kafka-python
  FEATURE  roundtrip | compression | autocreate | idempotent | admin
           | transactions

Prints one JSON object on stdout: {"ok": true}, or {"ok": false, "error":
"..."} with the error the application was handed. A case that hits a bug in
this script rather than an error of the client exits non-zero with a
traceback on stderr. The consumer group cases are groups.py's.
"""

import json
import sys
import time

PARTITIONS = 3
RECORDS = 20


def records(topic):
    return [("k%02d" % i, "%s v%02d" % (topic, i)) for i in range(RECORDS)]


def same(want, got):
    w, g = dict(want), {}
    for k, v in got:
        if k in g:
            raise CaseError("key %s read twice" % k)
        g[k] = v
    if w != g:
        raise CaseError("read %d records %s, want %d" % (len(got), sorted(g.items())[:5], len(want)))


class CaseError(Exception):
    """What the application was told, or what it saw go wrong."""


# --- confluent-kafka (librdkafka) ---------------------------------------

def confluent(feature, bootstrap, topic, timeout):
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, NewTopic

    errors = []

    def on_error(err):
        errors.append(err)

    def produce(topic, extra):
        conf = {"bootstrap.servers": bootstrap, "acks": "all", "error_cb": on_error}
        conf.update(extra)
        p = ck.Producer(conf)
        failed = []

        def delivered(err, msg):
            if err is not None:
                failed.append(err)

        for k, v in records(topic):
            p.produce(topic, key=k, value=v, on_delivery=delivered)
        left = p.flush(timeout)
        if failed:
            raise CaseError(str(failed[0]))
        if left:
            raise CaseError("%d records undelivered after %ss; errors: %s" % (left, timeout, errors))

    def consume(topic):
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": topic,
                         "enable.auto.commit": False, "error_cb": on_error})
        try:
            c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(PARTITIONS)])
            got, deadline = [], time.monotonic() + timeout
            while len(got) < RECORDS and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        continue
                    raise CaseError(str(m.error()))
                got.append((m.key().decode(), m.value().decode()))
            return got
        finally:
            c.close()

    def roundtrip(topic, extra):
        produce(topic, extra)
        same(records(topic), consume(topic))

    if feature == "roundtrip":
        roundtrip(topic, {})
    elif feature == "compression":
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            try:
                roundtrip(topic + "-" + codec, {"compression.type": codec})
            except CaseError as e:
                raise CaseError("%s: %s" % (codec, e))
    elif feature == "autocreate":
        p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "error_cb": on_error})
        failed = []
        p.produce(topic, value="first", on_delivery=lambda err, msg: err and failed.append(err))
        if p.flush(timeout) or failed:
            raise CaseError(str(failed[0]) if failed else "undelivered; errors: %s" % errors)
    elif feature == "idempotent":
        roundtrip(topic, {"enable.idempotence": True})
    elif feature == "admin":
        a = AdminClient({"bootstrap.servers": bootstrap})
        for f in a.create_topics([NewTopic(topic, PARTITIONS, -1)], request_timeout=timeout).values():
            f.result(timeout)
        print(json.dumps({"created": topic}), flush=True)
        sys.stdin.readline()  # the test checks the topic, then says go on
        for f in a.delete_topics([topic], request_timeout=timeout).values():
            f.result(timeout)
    elif feature == "transactions":
        p = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": topic, "error_cb": on_error})
        try:
            p.init_transactions(timeout)
        except ck.KafkaException as e:
            raise CaseError(str(e.args[0]))
        p.begin_transaction()
        p.produce(topic, value="txn")
        p.commit_transaction(timeout)
    else:
        raise SystemExit("unknown feature " + feature)


# --- kafka-python ---------------------------------------------------------

def kafka_python(feature, bootstrap, topic, timeout):
    import kafka
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError

    servers = bootstrap.split(",")

    def produce(topic, extra):
        p = kafka.KafkaProducer(bootstrap_servers=servers, acks="all", **extra)
        try:
            futures = [p.send(topic, key=k.encode(), value=v.encode()) for k, v in records(topic)]
            for f in futures:
                f.get(timeout)
        except KafkaError as e:
            raise CaseError(repr(e))
        finally:
            p.close(timeout)

    def consume(topic):
        c = kafka.KafkaConsumer(bootstrap_servers=servers, group_id=None, enable_auto_commit=False)
        try:
            tps = [kafka.TopicPartition(topic, p) for p in range(PARTITIONS)]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            got, deadline = [], time.monotonic() + timeout
            while len(got) < RECORDS and time.monotonic() < deadline:
                for recs in c.poll(200).values():
                    got.extend((r.key.decode(), r.value.decode()) for r in recs)
            return got
        finally:
            c.close()

    if feature == "roundtrip":
        produce(topic, {})
        same(records(topic), consume(topic))
    elif feature == "compression":
        tp = topic + "-gzip"
        produce(tp, {"compression_type": "gzip"})
        same(records(tp), consume(tp))
    elif feature == "autocreate":
        p = kafka.KafkaProducer(bootstrap_servers=servers, acks="all")
        try:
            p.send(topic, value=b"first").get(timeout)
        except KafkaError as e:
            raise CaseError(repr(e))
        finally:
            p.close(timeout)
    elif feature == "admin":
        a = KafkaAdminClient(bootstrap_servers=servers)
        try:
            a.create_topics([NewTopic(topic, PARTITIONS, 3)])
            print(json.dumps({"created": topic}), flush=True)
            sys.stdin.readline()
            a.delete_topics([topic])
        except KafkaError as e:
            raise CaseError(repr(e))
        finally:
            a.close()
    else:
        raise SystemExit("unknown feature " + feature)


def main():
    lib, feature, bootstrap, topic, timeout = sys.argv[1:6]
    run = {"confluent": confluent, "kafka-python": kafka_python}[lib]
    try:
        run(feature, bootstrap, topic, float(timeout))
    except CaseError as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        return
    print(json.dumps({"ok": True}), flush=True)


if __name__ == "__main__":
    main()
