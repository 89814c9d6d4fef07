# Dockerfile -- CFO's container image: cfo, cfo-coordinator, cfo-worker,
# cfo-fuzz, cfo-keygen and cfo-dataset on Debian bookworm, run as a non-root user.
#
#   docker build -t cfo .                                   # no terraform in the image
#   docker build -t cfo --build-arg TERRAFORM_VERSION=1.11.4 .   # INFRA_DRIFT can run
#
# Terraform is not packaged by Debian and its licence is the user's to accept,
# so it is only added when TERRAFORM_VERSION names a HashiCorp release; without
# it INFRA_DRIFT tasks end as `error` and everything else works.

# --- build: the same dependency script as the README, then the programs only.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
# The build needs no terraform: the dependency script's terraform check is
# skipped here; the runtime stage gets terraform from TERRAFORM_VERSION.
RUN CFO_DEPS_SKIP_TERRAFORM=1 ./scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY common common
COPY proto proto
COPY coordinator coordinator
COPY worker worker
COPY fuzz_tests fuzz_tests
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
 && cmake --build /build -j "$(nproc)" --target programs \
 && cmake --install /build --prefix /opt/cfo --strip

# --- terraform: HashiCorp's release, checked against its SHA256SUMS, when asked for.
FROM debian:bookworm-slim AS terraform
ARG TERRAFORM_VERSION=
RUN mkdir -p /out \
 && if [ -n "$TERRAFORM_VERSION" ]; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl unzip >/dev/null \
      && arch=$(dpkg --print-architecture) \
      && zip="terraform_${TERRAFORM_VERSION}_linux_${arch}.zip" \
      && sums="terraform_${TERRAFORM_VERSION}_SHA256SUMS" \
      && base="https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}" \
      && curl -fsSLO "$base/$zip" && curl -fsSLO "$base/$sums" \
      && grep " $zip\$" "$sums" | sha256sum -c - \
      && unzip -q -d /out "$zip" terraform \
      && rm -f "$zip" "$sums"; \
    fi

# --- runtime: the binaries, the libraries they link, git, and terraform if supplied.
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libzmq5 libmsgpackc2 libcurl4 libyajl2 libinih1 libssl3 libmicrohttpd12 \
      git ca-certificates openssh-client tini >/dev/null \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/cfo/bin/ /usr/local/bin/
COPY --from=terraform /out/ /usr/local/bin/
COPY examples /opt/cfo/examples
# One unprivileged user for every service. The directories named volumes are
# mounted on exist in the image, owned by that user, so a fresh volume
# inherits the owner and mode (keys stay 0700).
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/cfo --shell /usr/sbin/nologin cfo \
 && mkdir -p /repo /work /reports /keys/coordinator /keys/worker /allowed \
 && chown cfo:cfo /repo /work /reports /keys /keys/coordinator /keys/worker /allowed \
 && chmod 0700 /keys /keys/coordinator /keys/worker \
 && git config --system --add safe.directory /src \
 && git config --system --add safe.directory /src/.git
USER cfo
WORKDIR /home/cfo
# tini as PID 1 forwards SIGTERM to the program, which stops its tasks and hands them back.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["cfo", "--help"]
