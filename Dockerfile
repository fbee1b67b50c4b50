# The image-assurance webhook image: `docker build -t image-assurance:0.1.0 .` (the tag that
# `image-assurance manifests` uses by default is image-assurance:<crate version>).
#
# No container engine runs on this project's own machines, so this file is not built in CI
# there: it is kept deliberately conventional (an official Rust builder, a distroless runtime)
# so that it builds unchanged wherever Docker, Podman or BuildKit is available.

# Base images are pinned by digest (the multi-platform image index), so a build uses exactly
# the reviewed images whatever the tag points at later; the tag stays beside it for people and
# for update bots. No registry is reachable from this project's machines, so the digests were
# not resolved here: each is the one public Dockerfiles pinning the same tag agree on. Refresh
# with `docker buildx imagetools inspect IMAGE:TAG` (or `crane digest IMAGE:TAG`), then build.
#
# rust:1-bookworm as of Rust 1.99.0: the index that public Dockerfiles pin both as
# rust:1-bookworm and as rust:1.99.0-bookworm (the workspace needs Rust >= 1.89).
FROM rust:1-bookworm@sha256:59037199c44290f2befcdd58dcc540164763fc296950255aaefeef096a1866b0 AS builder
WORKDIR /src
COPY . .
# --locked: build exactly the dependency versions in Cargo.lock.
RUN cargo build -p image-assurance --release --locked \
    && install -D -m 0755 target/release/image-assurance /out/image-assurance

# distroless/cc: glibc and libgcc for the Rust binary, no shell, no package manager. The digest:
# cc-debian12:nonroot's index as pinned, identically, by several public Dockerfiles (one notes
# it covers amd64, arm, arm64, ppc64le and s390x).
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=builder /out/image-assurance /usr/local/bin/image-assurance
# The manifests' runAsUser; numeric so that runAsNonRoot can be checked by the kubelet.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/image-assurance"]
CMD ["serve"]
