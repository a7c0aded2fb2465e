# PostgreSQL 15 from Debian 12's packages (no upstream postgres image).
# scripts/docker/postgres-entrypoint.sh makes the cluster on first start.
FROM debian:12
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 700 /var/lib/postgresql/data
COPY scripts/docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s \
  CMD pg_isready -q -h 127.0.0.1 -U "${POSTGRES_USER:-kofarm}" -d "${POSTGRES_DB:-kofarm}" || exit 1
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
