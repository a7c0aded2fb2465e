# An OCI registry from Debian 12's docker-registry package (no upstream
# registry image), storing its blobs in a volume.
FROM debian:12
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker-registry \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/docker-registry \
 && chown docker-registry: /var/lib/docker-registry
COPY scripts/docker/registry.yml /etc/kofarm/registry.yml
USER docker-registry
VOLUME /var/lib/docker-registry
EXPOSE 5000
CMD ["docker-registry", "serve", "/etc/kofarm/registry.yml"]
