-- The team farm: projects with their webhook secret and rules, webhook
-- deliveries (unique per host delivery id, so a redelivery queues nothing),
-- releases (a tag's resolve job), the audit log, and token project limits.

CREATE TABLE projects (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    git_url         text NOT NULL,
    webhook_secret  text,                        -- write-only through the API: verifies HMACs
    rules           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rules) = 'array'),
    defaults        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(defaults) = 'object'),
    max_concurrency integer CHECK (max_concurrency BETWEEN 1 AND 1000),  -- NULL = no limit
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- delivery_id NULL (a host that sent none) is never a duplicate.
CREATE TABLE hook_deliveries (
    id          bigserial PRIMARY KEY,
    project     text NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    host        text NOT NULL CHECK (host IN ('github', 'gitlab', 'gitea')),
    delivery_id text CHECK (length(delivery_id) BETWEEN 1 AND 200),
    event       text NOT NULL,
    ref         text,
    commit      text,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project, host, delivery_id)
);

CREATE TABLE hook_delivery_jobs (
    delivery bigint NOT NULL REFERENCES hook_deliveries (id) ON DELETE CASCADE,
    job_id   bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (delivery, job_id)
);

-- One row per tag resolve; a tag pushed again gets a newer row.
CREATE TABLE releases (
    id         bigserial PRIMARY KEY,
    project    text NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    tag        text NOT NULL,
    job_id     bigint NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX releases_tag ON releases (project, tag, id);

CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,           -- token name, "hook:<host>" or "anonymous"
    action text NOT NULL,           -- e.g. job.create, job.cancel, project.update
    target text NOT NULL,           -- e.g. "job:12", "project:shop"
    detail jsonb
);

-- A token limited to one project (NULL = all).
ALTER TABLE api_tokens ADD COLUMN project text;

-- Fair claims count running jobs per project.
CREATE INDEX jobs_running_project ON jobs (project) WHERE state = 'running';

-- Round robin between projects: when each was last claimed from ('' for
-- jobs without a project). Written by the claim statement (lib/dbqueue.c).
CREATE TABLE project_claims (
    project         text PRIMARY KEY,
    last_claimed_at timestamptz NOT NULL
);
