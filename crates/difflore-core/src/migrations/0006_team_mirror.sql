-- Schema 6: the local mirror of the team's rulebook (DESIGN §10). A rule pulled from the
-- team's server is `location = 'team'`, with the team's version and revision; every other rule
-- is this machine's own (`local`). The hooks, MCP and `recall` serve both alike.
ALTER TABLE rules ADD COLUMN location TEXT NOT NULL DEFAULT 'local'
    CHECK (location IN ('local', 'team'));
ALTER TABLE rules ADD COLUMN team_version INTEGER;
ALTER TABLE rules ADD COLUMN team_revision INTEGER;
