"""The consumer group scenarios' client side for the Python clients, run by
test/compat (groups_python_test.go) with Debian's /usr/bin/python3.

usage: groups.py LIB create  BOOTSTRAP TOPIC PARTITIONS TIMEOUT_S
       groups.py LIB produce BOOTSTRAP TOPIC FIRST COUNT TIMEOUT_S
       groups.py LIB member  BOOTSTRAP TOPIC GROUP MODE
  LIB   confluent | kafka-python
  MODE  auto | commit-on-leave | no-commit

create and produce print one JSON object, {"ok": true} or {"error": "..."}.
produce writes records FIRST to FIRST+COUNT-1, keyed k000..., valued
"TOPIC v000", with acks=all (and idempotence with confluent-kafka).

member joins GROUP on TOPIC, reading from the beginning when the group has
committed nothing, and prints a JSON line per record it reads,
{"p": partition, "o": offset, "k": key, "v": value}, and {"assigned": [...]}
on each assignment. A line "leave" on stdin (or its end) makes it stop
reading, commit as MODE says (auto: the client's auto-commit on close;
commit-on-leave: an explicit synchronous commit; no-commit: none), close the
consumer (which leaves the group) and print {"left": true}. An error the
client hands the application is printed as {"error": "..."}; the member then
exits.
"""

import json
import sys
import threading
import time


def out(obj):
    print(json.dumps(obj), flush=True)


def records(topic, first, count):
    return [("k%03d" % i, "%s v%03d" % (topic, i)) for i in range(first, first + count)]


class Leave:
    """Set when stdin says leave or ends."""

    def __init__(self):
        self.event = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        for line in sys.stdin:
            if line.strip() == "leave":
                break
        self.event.set()

    def is_set(self):
        return self.event.is_set()


# --- confluent-kafka (librdkafka) ---------------------------------------

def confluent(cmd, bootstrap, args):
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, NewTopic

    if cmd == "create":
        topic, partitions, timeout = args[0], int(args[1]), float(args[2])
        a = AdminClient({"bootstrap.servers": bootstrap})
        for f in a.create_topics([NewTopic(topic, partitions, -1)], request_timeout=timeout).values():
            f.result(timeout)
        out({"ok": True})
    elif cmd == "produce":
        topic, first, count, timeout = args[0], int(args[1]), int(args[2]), float(args[3])
        errors = []
        p = ck.Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "error_cb": errors.append})
        failed = []
        for k, v in records(topic, first, count):
            p.produce(topic, key=k, value=v, on_delivery=lambda err, msg: err and failed.append(err))
        left = p.flush(timeout)
        if failed or left:
            out({"error": str(failed[0]) if failed else "%d undelivered; errors: %s" % (left, errors)})
            return
        out({"ok": True})
    elif cmd == "member":
        topic, group, mode = args
        leave = Leave()
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": mode == "auto"})

        def assigned(consumer, parts):
            out({"assigned": [p.partition for p in parts]})

        c.subscribe([topic], on_assign=assigned)
        try:
            while not leave.is_set():
                m = c.poll(0.1)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        continue
                    out({"error": str(m.error())})
                    return
                out({"p": m.partition(), "o": m.offset(), "k": m.key().decode(), "v": m.value().decode()})
            if mode == "commit-on-leave":
                try:
                    c.commit(asynchronous=False)
                except ck.KafkaException as e:
                    if e.args[0].code() != ck.KafkaError._NO_OFFSET:
                        out({"error": "commit: %s" % e.args[0]})
                        return
        finally:
            c.close()
        out({"left": True})
    else:
        raise SystemExit("unknown command " + cmd)


# --- kafka-python ---------------------------------------------------------

def kafka_python(cmd, bootstrap, args):
    import kafka
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError

    servers = bootstrap.split(",")
    if cmd == "create":
        topic, partitions = args[0], int(args[1])
        a = KafkaAdminClient(bootstrap_servers=servers)
        try:
            a.create_topics([NewTopic(topic, partitions, len(servers))])
        except KafkaError as e:
            out({"error": repr(e)})
            return
        finally:
            a.close()
        out({"ok": True})
    elif cmd == "produce":
        topic, first, count, timeout = args[0], int(args[1]), int(args[2]), float(args[3])
        p = kafka.KafkaProducer(bootstrap_servers=servers, acks="all")
        try:
            futures = [p.send(topic, key=k.encode(), value=v.encode()) for k, v in records(topic, first, count)]
            for f in futures:
                f.get(timeout)
        except KafkaError as e:
            out({"error": repr(e)})
            return
        finally:
            p.close(timeout)
        out({"ok": True})
    elif cmd == "member":
        topic, group, mode = args
        leave = Leave()

        class Listener(kafka.ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                pass

            def on_partitions_assigned(self, parts):
                out({"assigned": sorted(p.partition for p in parts)})

        c = kafka.KafkaConsumer(bootstrap_servers=servers, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=mode == "auto")
        c.subscribe([topic], listener=Listener())
        try:
            while not leave.is_set():
                for recs in c.poll(100).values():
                    for r in recs:
                        out({"p": r.partition, "o": r.offset, "k": r.key.decode(), "v": r.value.decode()})
            if mode == "commit-on-leave":
                c.commit()
        except KafkaError as e:
            out({"error": repr(e)})
            c.close(autocommit=False)
            return
        c.close(autocommit=mode == "auto")
        out({"left": True})
    else:
        raise SystemExit("unknown command " + cmd)


def main():
    lib, cmd, bootstrap = sys.argv[1:4]
    {"confluent": confluent, "kafka-python": kafka_python}[lib](cmd, bootstrap, sys.argv[4:])


if __name__ == "__main__":
    main()
