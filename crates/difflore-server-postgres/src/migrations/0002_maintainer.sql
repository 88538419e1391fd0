-- difflore-server on PostgreSQL, schema 2: the `maintainer` role (decides the team's rules).
ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check
    CHECK (role IN ('ingest', 'read', 'maintainer', 'admin'));
