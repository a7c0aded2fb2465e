-- kofarm's first schema: the job queue (jobs, uploaded sources, log lines)
-- and API tokens. schema_migrations belongs to the runner (lib/dbmigrate.c).
-- A job's result stays in jobs.result (jsonb, written once by the worker):
-- see lib/dbjobs.h for why there is no per-platform results table.

CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('build', 'resolve')),
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    spec             jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    result           jsonb,
    error_code       text,
    error_message    text,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    priority         integer NOT NULL DEFAULT 0,          -- lower runs first
    run_after        timestamptz NOT NULL DEFAULT now(),  -- not claimable before (retry backoff)
    lease_owner      text,                                -- the worker slot holding it (kept after it ends)
    lease_expires_at timestamptz,                         -- set while running only
    cancel_requested boolean NOT NULL DEFAULT false,
    idempotency_key  text,
    requested_by     text,                                -- token name
    cache_key        text,                                -- equal keys give equal results
    commit           text,                                -- the resolved source commit
    project          text,                                -- reserved for fair scheduling
    retry_of         bigint REFERENCES jobs (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,                         -- start of the latest attempt
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- Claim order: the partial index holds only the claimable candidates.
CREATE INDEX jobs_claim ON jobs (priority, run_after, id) WHERE state = 'queued';
-- The reaper's scan for expired leases.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- One job per (requester, key) forever; anonymous requests share the '' requester.
CREATE UNIQUE INDEX jobs_idempotency ON jobs ((coalesce(requested_by, '')), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Result reuse: the newest succeeded job with a cache key.
CREATE INDEX jobs_cache ON jobs (cache_key, id) WHERE state = 'succeeded' AND cache_key IS NOT NULL;
-- Listing newest first, filtered by state or project.
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_project ON jobs (project, id) WHERE project IS NOT NULL;
-- ON DELETE SET NULL of retry_of scans by it.
CREATE INDEX jobs_retry_of ON jobs (retry_of) WHERE retry_of IS NOT NULL;

-- Uploaded source tarballs, committed with their job.
CREATE TABLE job_sources (
    job_id  bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    digest  text NOT NULL,  -- "sha256:<hex>" of content, compared for idempotency
    content bytea NOT NULL
);

CREATE TABLE job_logs (
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq    bigserial NOT NULL,  -- global, so increasing within each job
    at     timestamptz NOT NULL DEFAULT now(),
    stream text NOT NULL CHECK (length(stream) BETWEEN 1 AND 16),
    line   text NOT NULL,
    PRIMARY KEY (job_id, seq)
);

-- Only the sha256 of a token is stored; the token is shown once at creation.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    token_hash   text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    scopes       text[] NOT NULL DEFAULT '{read,build}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Wake-ups, sent at commit in the same transaction as the change:
--   kofarm_jobs       payload kind   a job became claimable (insert, retry, requeue)
--   kofarm_job_state  "id state"     any state change (log followers stop on the final one)
--   kofarm_cancel     id             a running job was asked to stop
-- kofarm_log (payload id) is sent by the log append statement itself.
CREATE FUNCTION kofarm_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        IF NEW.state = 'queued' THEN
            PERFORM pg_notify('kofarm_jobs', NEW.kind);
        END IF;
        PERFORM pg_notify('kofarm_job_state', NEW.id || ' ' || NEW.state);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.state = 'running' AND NEW.cancel_requested
       AND NOT OLD.cancel_requested THEN
        PERFORM pg_notify('kofarm_cancel', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION kofarm_jobs_notify();
CREATE TRIGGER jobs_notify_update AFTER UPDATE OF state, cancel_requested ON jobs
    FOR EACH ROW EXECUTE FUNCTION kofarm_jobs_notify();
