# bpfleet: one image for both daemons (`bpfleet reconciler`, `bpfleet agent`)
# and the CLI (`bpfleet validate|plan|verify|status`).
#
#   docker build -t bpfleet .
#   docker run --rm bpfleet --help
#
# Both base images are build arguments so the image can be built from a local
# or mirrored base where Docker Hub is unreachable (scripts/test-docker.sh
# builds one from Debian packages). Both must be Debian bookworm with Node 20
# and npm: the stages install their tools with apt-get.
ARG BUILD_IMAGE=node:20-bookworm
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: eBPF objects (clang) and TypeScript (tsc) ----------------------
FROM ${BUILD_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates clang llvm libbpf-dev libc6-dev linux-libc-dev make \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
# Never --omit=optional: koffi's prebuilt binary is how the agent reaches libbpf.
RUN npm ci --no-audit --no-fund --loglevel=error
COPY bpf/ bpf/
RUN make -s -C bpf clean all
COPY tsconfig.json ./
COPY schemas/ schemas/
COPY reconciler/ reconciler/
COPY agent/ agent/
COPY cli/ cli/
# Not bench/ or scripts/: they are development tools (and import test/).
COPY bin/ bin/
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error

# ---- runtime -----------------------------------------------------------------
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# libbpf1: the agent's datapath (dlopen'd by koffi). git: the reconciler reads
# and fetches the fleet repository. iproute2: operators inspect hooks with
# `ip link`/`tc` from inside the container. No compilers at runtime.
# apt-get clean: official node images drop downloaded .debs themselves, a
# plain Debian base keeps them (~100 MB measured).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates git iproute2 libbpf1 openssh-client \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && useradd --system --uid 10001 --home-dir /var/lib/bpfleet --create-home --shell /usr/sbin/nologin bpfleet
WORKDIR /opt/bpfleet
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY --from=build /src/bin/ bin/
COPY --from=build /src/bpf/build/ bpf/build/
COPY --from=build /src/schemas/*.json schemas/
COPY --from=build /src/schemas/protocol/ schemas/protocol/
# The fleet repository is mounted, not owned by this user: let git read it.
RUN ln -s /opt/bpfleet/bin/bpfleet /usr/local/bin/bpfleet \
 && git config --system --add safe.directory '*' \
 && bpfleet --version
ENV NODE_ENV=production BPFLEET_LOG_FORMAT=json
# Root by default only because the agent needs CAP_BPF, CAP_NET_ADMIN and
# CAP_SYS_ADMIN (see deploy/README.md). Run the reconciler as the unprivileged
# user: `docker run --user 10001 ... reconciler --config ...`. The agent
# resolves its root programs from bpf/build relative to this WORKDIR.
USER root
ENTRYPOINT ["bpfleet"]
CMD ["--help"]
