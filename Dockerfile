# The image-assurance webhook image: `docker build -t image-assurance:0.1.0 .` (the tag that
# `image-assurance manifests` uses by default is image-assurance:<crate version>).
#
# No container engine runs on this project's own machines, so this file is not built in CI
# there: it is kept deliberately conventional (an official Rust builder, a distroless runtime)
# so that it builds unchanged wherever Docker, Podman or BuildKit is available.

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# --locked: build exactly the dependency versions in Cargo.lock.
RUN cargo build -p image-assurance --release --locked \
    && install -D -m 0755 target/release/image-assurance /out/image-assurance

# distroless/cc: glibc and libgcc for the Rust binary, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/image-assurance /usr/local/bin/image-assurance
# The manifests' runAsUser; numeric so that runAsNonRoot can be checked by the kubelet.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/image-assurance"]
CMD ["serve"]
