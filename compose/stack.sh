#!/usr/bin/env bash
# Drives the local stack in compose/compose.yaml; the Makefile's image, up,
# down, down-volumes and load targets call it.
#
#   compose/stack.sh image          build raftline:local, raftline-tools:local and raftline-otelcol:local
#   compose/stack.sh up             start the stack and wait until every service is healthy
#   compose/stack.sh load           run the standard load (5 minutes) in the compose network
#   compose/stack.sh down           stop and remove the containers; data volumes are kept
#   compose/stack.sh down-volumes   the same, and delete the data volumes
#   compose/stack.sh ARGS...        any other compose command (ps, logs -f raftline-1, ...)
#
# Environment: RAFTLINE_IMAGE, RAFTLINE_TOOLS_IMAGE and RAFTLINE_OTELCOL_IMAGE
# name the images;
# COMPOSE_PROJECT_NAME (default raftline) the project; the port variables of
# compose.yaml move published ports. `image` also reads GO (the go
# command), RAFTLINE_VERSION (default: git describe) and RAFTLINE_IMAGE_STAGE
# (the staging directory, default bin/image); tools/otelcol/build.sh reads
# RAFTLINE_OTELCOL_BIN and RAFTLINE_CACHE_DIR.
#
# The images are built FROM scratch out of binaries compiled here, so building
# them pulls nothing. Works with the compose plugin (`docker compose`) or the
# older standalone docker-compose, preferring the plugin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export RAFTLINE_IMAGE="${RAFTLINE_IMAGE:-raftline:local}"
export RAFTLINE_TOOLS_IMAGE="${RAFTLINE_TOOLS_IMAGE:-raftline-tools:local}"
export RAFTLINE_OTELCOL_IMAGE="${RAFTLINE_OTELCOL_IMAGE:-raftline-otelcol:local}"
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-raftline}"

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$here/compose.yaml" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -f "$here/compose.yaml" "$@"
  else
    echo "stack.sh: neither 'docker compose' nor docker-compose is installed" >&2
    exit 1
  fi
}

# image builds the static binaries into a staging directory together with the
# CA bundle and the user database, then the three images from it. The
# collector is a module of its own, built once and cached by
# tools/otelcol/build.sh (minutes the first time).
image() {
  local go="${GO:-go}"
  local stage="${RAFTLINE_IMAGE_STAGE:-$root/bin/image}"
  local version="${RAFTLINE_VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
  local ca=/etc/ssl/certs/ca-certificates.crt
  if [ ! -s "$ca" ]; then
    echo "stack.sh: $ca is missing (install the ca-certificates package)" >&2
    exit 1
  fi
  # Every file is rewritten in place; nothing is deleted, whatever the
  # directory is.
  mkdir -p "$stage/empty"
  (
    cd "$root"
    export CGO_ENABLED=0
    "$go" build -trimpath -ldflags "-X github.com/raftline/raftline/broker/server.Version=$version" -o "$stage/raftline" ./cmd/raftline
    "$go" build -trimpath -o "$stage/loadgen" ./cmd/loadgen
    "$go" build -trimpath -o "$stage/alertsink" ./compose/alertsink
  )
  local otelcol
  otelcol="$("$root/tools/otelcol/build.sh" | tail -n 1)"
  cp "$otelcol" "$stage/otelcol"
  cp "$ca" "$stage/ca-certificates.crt"
  echo 'nonroot:x:65532:65532:nonroot:/var/lib/raftline:/sbin/nologin' >"$stage/passwd"
  echo 'nonroot:x:65532:' >"$stage/group"
  docker build -q -f "$root/Dockerfile" --target raftline -t "$RAFTLINE_IMAGE" "$stage" >/dev/null
  docker build -q -f "$root/Dockerfile" --target tools -t "$RAFTLINE_TOOLS_IMAGE" "$stage" >/dev/null
  docker build -q -f "$root/Dockerfile" --target otelcol -t "$RAFTLINE_OTELCOL_IMAGE" "$stage" >/dev/null
  echo "built $RAFTLINE_IMAGE, $RAFTLINE_TOOLS_IMAGE and $RAFTLINE_OTELCOL_IMAGE ($version)"
}

# wait_healthy polls every container of the project until each one's
# healthcheck passes: what `up --wait` does with the compose plugin, for the
# standalone docker-compose, which lacks it.
wait_healthy() {
  local deadline=$((SECONDS + ${RAFTLINE_UP_TIMEOUT:-300}))
  local ids pending id state
  ids="$(compose ps -q)"
  while :; do
    pending=()
    for id in $ids; do
      state="$(docker inspect -f '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
      case "$state" in
        *" running healthy") ;;
        *" exited"* | *" dead"* | *" unhealthy")
          echo "stack.sh: ${state#/}" >&2
          exit 1
          ;;
        *) pending+=("${state#/}") ;;
      esac
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      printf 'stack.sh: not healthy in time: %s\n' "${pending[@]}" >&2
      exit 1
    fi
    sleep 1
  done
}

up() {
  if docker compose version >/dev/null 2>&1; then
    compose up -d --wait
  else
    compose up -d
    wait_healthy
  fi
  cat <<EOF
raftline is up:
  Grafana       http://127.0.0.1:${GRAFANA_PORT:-3000}/  (opens on the cluster overview)
  Prometheus    http://127.0.0.1:${PROMETHEUS_PORT:-9090}/
  Alertmanager  http://127.0.0.1:${ALERTMANAGER_PORT:-9095}/
  Jaeger        http://127.0.0.1:${JAEGER_PORT:-16686}/  (traces tail-sampled by otelcol)
  OTLP          127.0.0.1:${OTLP_GRPC_PORT:-4317} (gRPC), http://127.0.0.1:${OTLP_HTTP_PORT:-4318} (HTTP), to the collector
  Kafka         127.0.0.1:${RAFTLINE_KAFKA_PORT_1:-9092},127.0.0.1:${RAFTLINE_KAFKA_PORT_2:-9093},127.0.0.1:${RAFTLINE_KAFKA_PORT_3:-9094}
  cluster API   http://127.0.0.1:${RAFTLINE_HTTP_PORT_1:-9644}/v1/cluster  (nodes 2 and 3: ports ${RAFTLINE_HTTP_PORT_2:-9645}, ${RAFTLINE_HTTP_PORT_3:-9646})
EOF
}

case "${1:-}" in
  image) image ;;
  up) up ;;
  load) compose --profile load run --rm --use-aliases loadgen ;;
  down) compose down --remove-orphans ;;
  down-volumes) compose --profile load down --volumes --remove-orphans ;;
  "")
    sed -n '2,/^set /{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
  *) compose "$@" ;;
esac
