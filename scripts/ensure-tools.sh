#!/usr/bin/env bash
# Installs the external programs raftline's tests run against, when missing:
# kcat (a Kafka client no one here wrote), promtool and amtool (rule and
# config checks, the real Prometheus and Alertmanager of the end-to-end alert
# test), iproute2 and iptables (network faults), util-linux and e2fsprogs
# (disk faults: a node's data directory on a tmpfs or an ext4 image in its own
# mount namespace, test/internal/diskfault), and the Python Kafka clients
# of the compatibility suite (test/compat): confluent-kafka (librdkafka) and
# kafka-python, for Debian's /usr/bin/python3, which test/compat runs rather
# than whatever python3 comes first on PATH, and Debian's chromium (the
# loadgen HTML report is opened headless in a test, loadgen/report). Debian
# packages only.
set -euo pipefail

need=()
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v tc >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || need+=(python3-confluent-kafka)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || need+=(python3-kafka)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian packages start their daemons; the tests start their own on free
# ports, so stop the system ones (harmless when systemd is absent).
for svc in prometheus prometheus-alertmanager; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
