# raftline images, assembled FROM scratch from binaries built on the host, so
# building needs no base image and no registry:
#
#   make image                      # all three images, from a staged build context
#
# The build context is a staging directory, not the repository. It holds what
# compose/stack.sh image puts there: static binaries (CGO_ENABLED=0) named
# raftline, loadgen, alertsink and otelcol, the host's CA bundle as
# ca-certificates.crt, and passwd/group files naming the non-root user.
#
# Targets:
#   raftline (the default): the broker alone.
#   tools: the load generator and the stack's alert webhook sink, plus the
#     raftline binary, whose `health` subcommand is every healthcheck here
#     (a scratch image has no curl or wget).
#   otelcol: the OpenTelemetry Collector of tools/otelcol (staged as otelcol
#     from tools/otelcol/build.sh), which tail-samples the nodes' traces on
#     their way to Jaeger; it too carries the raftline binary, to probe its
#     health_check endpoint.
#
# Dockerfile.build produces the same three images for machines without Go, by
# compiling in a golang stage; keep the final stages of both files alike
# (test/compose checks that they are).

FROM scratch AS base
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# The data directory exists, owned by the runtime user, so that a named
# volume mounted on it starts out writable by that user.
COPY --chown=65532:65532 empty/ /var/lib/raftline/
COPY raftline /raftline
USER 65532:65532
WORKDIR /var/lib/raftline

FROM base AS tools
COPY loadgen /loadgen
COPY alertsink /alertsink
ENTRYPOINT ["/loadgen"]

FROM base AS raftline
ENV RAFTLINE_DATA_DIR=/var/lib/raftline
# Kafka, HTTP (health, cluster API, /metrics), Raft.
EXPOSE 9092 9644 9192
VOLUME ["/var/lib/raftline"]
ENTRYPOINT ["/raftline"]
CMD ["serve"]

FROM base AS otelcol
COPY otelcol /otelcol
# OTLP gRPC and HTTP, the health_check extension, the collector's own
# Prometheus metrics. The configuration is mounted (compose.yaml).
EXPOSE 4317 4318 13133 8888
ENTRYPOINT ["/otelcol"]
