-- difflore-server on PostgreSQL, schema 5: how often each rule was served, counted when a
-- `rules.served` event is first stored (per rule, day, agent, repo and moment).
CREATE TABLE served_daily (
    team    TEXT   NOT NULL,
    rule_id TEXT   NOT NULL,
    day     TEXT   NOT NULL,
    agent   TEXT   NOT NULL,
    repo    TEXT   NOT NULL,
    moment  TEXT   NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (team, rule_id, day, agent, repo, moment)
);
CREATE INDEX served_daily_day ON served_daily (team, day);
