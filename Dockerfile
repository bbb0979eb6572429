# syntax=docker/dockerfile:1.7
#
# Strongroom's container image: the server binary, the C library it loads
# and the built site (wasm, js, css) on an empty base, running as a non-root user, fit for a
# read-only root filesystem. scripts/test builds and runs this file's runtime
# stage (scripts/lib.sh build_image).
#
#   docker build -t registry.example.com/strongroom/strongroom:0.1.0 .
#   docker push registry.example.com/strongroom/strongroom:0.1.0
#
# The build steps are those of scripts/lib.sh (ensure_rust_tools, build_site),
# with the same pinned tool versions; keep the two in step.

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20

# wasm-opt for the release build of the wasm bundle. Debian's binaryen is too
# old (hydration fails in the browser); npm's binaryen ships a working one.
# It is a Node.js program, so the builder gets this stage's node binary too.
FROM node:${NODE_VERSION}-bookworm-slim AS wasm-opt
ARG BINARYEN_VERSION=132.0.0
WORKDIR /opt/binaryen
RUN npm install --no-audit --no-fund --silent "binaryen@${BINARYEN_VERSION}"

# The Rust tools, in their own stage so they are rebuilt only when a pinned
# version changes.
FROM rust:${RUST_VERSION}-bookworm AS tools
ARG CARGO_LEPTOS_VERSION=0.3.9
RUN rustup target add wasm32-unknown-unknown
# no_downloads: cargo-leptos uses the tools on PATH instead of fetching them.
RUN cargo install cargo-leptos --version "${CARGO_LEPTOS_VERSION}" --locked --features no_downloads
# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate,
# which Cargo.toml pins with "=".
COPY Cargo.toml /tmp/Cargo.toml
RUN version=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' /tmp/Cargo.toml) \
 && test -n "$version" \
 && cargo install wasm-bindgen-cli --version "$version" --locked

# Everything the runtime stage takes lies under /out (deploy/image/collect.sh):
# the server binary, cargo-leptos' hash file and the precompressed site in
# /out/app, the shared libraries the binary loads in /out/root, and an empty
# /out/data for the data directory. scripts/lib.sh's build_image makes the
# same tree on the host and passes it as the build context named "build",
# which replaces this stage (no base image needs pulling there).
FROM tools AS build
COPY --from=wasm-opt /usr/local/bin/node /usr/local/bin/node
COPY --from=wasm-opt /opt/binaryen/node_modules /opt/binaryen/node_modules
ENV PATH=/opt/binaryen/node_modules/.bin:$PATH
RUN wasm-opt --version && wasm-bindgen --version && cargo leptos --version
WORKDIR /src
COPY . .
# The same commands as scripts/lib.sh's build_site and build_image. target/
# is a cache mount, so the results are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    rm -rf target/site \
 && cargo leptos build --release --split \
 && target/release/strongroom-server precompress target/site \
 && deploy/image/collect.sh target/release/strongroom-server target/site /out

# Nothing but the program, the C library it loads and its files: no shell,
# no package manager, no CA bundle (TLS roots are compiled in). Runs as
# uid/gid 65532 (distroless' "nonroot"), fit for a read-only root filesystem.
FROM scratch AS runtime
LABEL org.opencontainers.image.title="strongroom" \
      org.opencontainers.image.description="Kubernetes Secrets in the browser, as the signed-in user" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build --chown=0:0 /out/root/ /
COPY --from=build --chown=0:0 --chmod=0555 /out/app/strongroom-server /app/strongroom-server
# cargo-leptos' hashes of the site's file names; must sit next to the binary.
COPY --from=build --chown=0:0 --chmod=0444 /out/app/hash.txt /app/hash.txt
COPY --from=build --chown=0:0 /out/app/site /app/site
# Where the default SQLite database lives; mount a volume here (the Helm
# chart mounts a PersistentVolumeClaim). Owned by the runtime user so a plain
# `podman run` / `docker run` works too; /var and /var/lib stay root's.
COPY --from=build --chown=0:0 /out/var /var
COPY --from=build --chown=65532:65532 /out/data /var/lib/strongroom
WORKDIR /app
ENV STRONGROOM_SITE_ROOT=/app/site \
    STRONGROOM_LISTEN=0.0.0.0:3000 \
    STRONGROOM_DATA_DIR=/var/lib/strongroom \
    STRONGROOM_METRICS_LISTEN=0.0.0.0:9090 \
    STRONGROOM_LOG_FORMAT=json
USER 65532:65532
# The app, and /metrics on a port of its own (3000 answers it with 404).
EXPOSE 3000 9090
ENTRYPOINT ["/app/strongroom-server"]
