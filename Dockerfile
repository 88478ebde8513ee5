# Nexus: one image for every verb (serve, worker, migrate, seed, user create).
#
# The build stage installs its Debian packages and builds exactly as
# scripts/run and scripts/test do, through the functions and package lists
# of scripts/lib/common.sh; the runtime stage installs that file's
# runtime list and nothing else. tests/contract/packaging.test.mjs checks
# that every package named here is one the scripts install too.
#
#   docker build -t nexus .
#   docker run --rm -e DATABASE_URL=... -e JWT_SECRET=... -p 8080:8080 nexus
#
# The base images are build arguments, the official Debian 12 images unless
# told: any Debian bookworm root file system will do, e.g. one made with
# debootstrap where no registry is reachable (tests/scripts/image_run):
#   podman build --build-arg BASE=localhost/bookworm \
#       --build-arg RUNTIME_BASE=localhost/bookworm -t nexus .
ARG BASE=debian:bookworm
ARG RUNTIME_BASE=debian:bookworm-slim

FROM ${BASE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /src
# Only the package lists and install helpers: an edit elsewhere in scripts/
# keeps the (long) package layers cached.
COPY scripts/lib/common.sh scripts/lib/common.sh
# npm only fetches the pinned packages here: Debian's will do (the Node.js
# that the test suites need is left out of the image).
RUN . scripts/lib/common.sh \
    && ensure_packages $NEXUS_BUILD_PACKAGES \
    && ensure_npm \
    && rm -rf /var/lib/apt/lists/*
# The assets of /docs (swagger-ui-dist) and /graphiql (graphiql, react,
# react-dom), as package-lock.json pins them.
COPY package.json package-lock.json ./
# NPM_CAFILE: a CA bundle for npm's TLS where the build's network needs one
# beyond Debian's (a TLS-inspecting proxy): mount the file at build time
# and name its path here (tests/scripts/image_run passes the host's).
ARG NPM_CAFILE=
RUN . scripts/lib/common.sh \
    && if [ -n "$NPM_CAFILE" ]; then export npm_config_cafile="$NPM_CAFILE"; fi \
    && ensure_npm_packages --omit=dev
COPY . .
RUN . scripts/lib/common.sh \
    && cmake_build /src/build/release Release -DNEXUS_TESTS=OFF \
    && stage_docs_assets /src/build/docs

FROM ${RUNTIME_BASE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY scripts/lib/common.sh /tmp/nexus-common.sh
RUN . /tmp/nexus-common.sh \
    && ensure_packages $NEXUS_RUNTIME_PACKAGES \
    && rm -rf /var/lib/apt/lists/* /tmp/nexus-common.sh \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/nexus --shell /usr/sbin/nologin nexus \
    && mkdir -p /var/lib/nexus/mail \
    && chown -R nexus:nexus /var/lib/nexus
COPY --from=build /src/build/release/nexus /usr/local/bin/nexus
COPY --from=build /src/build/docs/ /usr/local/share/nexus/docs/
ENV PORT=8080 \
    DOCS_DIR=/usr/local/share/nexus/docs \
    MAIL_DIR=/var/lib/nexus/mail
WORKDIR /var/lib/nexus
USER nexus
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${PORT}/healthz" || exit 1
ENTRYPOINT ["nexus"]
CMD ["serve"]
