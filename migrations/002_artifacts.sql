-- Files a job produces and the API serves (a resolve's release.yaml), stored
-- once per job; the sha256 is the download's strong ETag.
CREATE TABLE job_artifacts (
    job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    media_type text NOT NULL,
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, name)
);
