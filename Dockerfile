# pretix-race on a server: `docker build -t pretix-race .`, then see
# docs/deploy.md for `docker run`. Two stages: the Rust toolchain builds the
# lean binary (no demo marketplace), and only that binary plus the CA roots
# ship in a slim Debian image that runs as an unprivileged user.

# ---- build ----------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# --locked: exactly the dependency versions the repository was tested with.
RUN cargo build --release --locked -p pretix-race --no-default-features \
 && install -m 0755 target/release/pretix-race /usr/local/bin/pretix-race

# ---- run ------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: the shop's TLS certificate is checked against the system
# roots (rustls-native-certs reads /etc/ssl/certs).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data /config \
 && chown 10001:10001 /data \
 && chmod 0700 /data
COPY --from=builder /usr/local/bin/pretix-race /usr/local/bin/pretix-race

# Never root: a numeric uid needs no passwd entry and cannot collide with a
# host user that has privileges. /data is its only writable place.
USER 10001:10001
# /data: the working directory, so live-responses/ (cookie files, debug
# pages) and the heartbeat land on the volume. /config: read-only input you
# mount, e.g. a CA certificate for --ca-cert /config/ca.pem.
WORKDIR /data
VOLUME ["/data", "/config"]

# The process rewrites this file every 30 s while its runtime is alive (see
# docs/deploy.md); the check fails when it is older than two minutes, i.e.
# the process hung. A dead process ends the container by itself.
ENV PRETIX_RACE_HEARTBEAT=/data/.heartbeat
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=2 \
  CMD test -n "$(find /data/.heartbeat -mmin -2 2>/dev/null)"

# `docker stop` sends SIGTERM: pretix-race stops like Ctrl-C, prints its
# summary and exits 130.
STOPSIGNAL SIGTERM
ENTRYPOINT ["pretix-race", "--headless"]
CMD ["--help"]
