-- Tenancy: organizations and users come from Clerk claims, created on first sight.
CREATE TABLE organizations (
    id            uuid PRIMARY KEY,
    clerk_org_id  text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    clerk_user_id  text NOT NULL UNIQUE,
    email          text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Which users belong to which organization, with the role Clerk last reported.
CREATE TABLE memberships (
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    created_by  uuid NOT NULL REFERENCES users(id),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_org_keyset ON projects (org_id, created_at, id);

CREATE TABLE documents (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    owner_id    uuid NOT NULL REFERENCES users(id),
    project_id  uuid REFERENCES projects(id) ON DELETE SET NULL,
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination walks (created_at, id) within one organization.
CREATE INDEX documents_org_keyset ON documents (org_id, created_at, id);

-- Objects uploaded straight to S3 with a pre-signed PUT.
CREATE TABLE uploads (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users(id),
    document_id    uuid REFERENCES documents(id) ON DELETE SET NULL,
    object_key     text NOT NULL UNIQUE,
    filename       text NOT NULL,
    content_type   text NOT NULL,
    declared_size  bigint NOT NULL,
    size_bytes     bigint,
    status         text NOT NULL DEFAULT 'PENDING',
    created_at     timestamptz NOT NULL DEFAULT now(),
    finalized_at   timestamptz
);
CREATE INDEX uploads_org_keyset ON uploads (org_id, created_at, id);

-- One row per AI call, with what it cost.
CREATE TABLE jobs (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users(id),
    kind           text NOT NULL,
    status         text NOT NULL,
    model          text,
    provider       text,
    input_tokens   integer,
    output_tokens  integer,
    latency_ms     integer,
    request_id     text,
    error          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX jobs_org_keyset ON jobs (org_id, created_at, id);

-- Append-only trail of every mutation.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor_id    uuid NOT NULL REFERENCES users(id),
    action      text NOT NULL,
    subject_id  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org_keyset ON audit_events (org_id, created_at, id);
