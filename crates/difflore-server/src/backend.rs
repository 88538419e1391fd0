//! Chooses and opens the storage backend from `--database`: `sqlite:PATH` (or a plain path) for
//! the embedded default, `postgres://…` / `postgresql://…` for PostgreSQL. [`AnyStorage`] is the
//! one type the HTTP layer holds; it forwards to the chosen backend.

use difflore_server_db::*;
use difflore_server_postgres::PgStorage;
use difflore_server_sqlite::SqliteStorage;
use std::path::PathBuf;

/// Where the data lives, parsed from the settings.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why a `--database` value is not one this server can use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("empty database path")]
    Empty,
    #[error("unsupported database {0:?}: use sqlite:PATH or postgres://USER@HOST/DB")]
    Unsupported(String),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
            .unwrap_or(s);
        if path.is_empty() {
            return Err(DatabaseUrlError::Empty);
        }
        if path.contains("://") {
            return Err(DatabaseUrlError::Unsupported(s.to_string()));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// A description safe for logs (no password).
    pub fn describe(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DatabaseUrl::Postgres(u) => difflore_server_postgres::redact_url(u),
        }
    }
}

/// The backend the server runs on.
#[derive(Clone, Debug)]
pub enum AnyStorage {
    Sqlite(SqliteStorage),
    Postgres(PgStorage),
}

impl AnyStorage {
    pub async fn open(
        url: &DatabaseUrl,
        pg_max_connections: usize,
    ) -> Result<AnyStorage, StorageError> {
        Ok(match url {
            DatabaseUrl::Sqlite(p) => AnyStorage::Sqlite(SqliteStorage::open(p)?),
            DatabaseUrl::Postgres(u) => {
                AnyStorage::Postgres(PgStorage::connect(u, pg_max_connections).await?)
            }
        })
    }
}

macro_rules! forward {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStorage::Sqlite($s) => $e.await,
            AnyStorage::Postgres($s) => $e.await,
        }
    };
}

impl Storage for AnyStorage {
    fn backend(&self) -> &'static str {
        match self {
            AnyStorage::Sqlite(s) => s.backend(),
            AnyStorage::Postgres(s) => s.backend(),
        }
    }
    async fn ping(&self) -> Result<(), StorageError> {
        forward!(self, s => s.ping())
    }
    async fn insert_events(
        &self,
        team: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Stored>, StorageError> {
        forward!(self, s => s.insert_events(team, events))
    }
    async fn list_events(
        &self,
        team: &str,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Page, StorageError> {
        forward!(self, s => s.list_events(team, after, limit))
    }
    async fn stats(&self, team: &str) -> Result<Stats, StorageError> {
        forward!(self, s => s.stats(team))
    }
    async fn get_rule(
        &self,
        team: &str,
        id: &str,
    ) -> Result<Option<difflore_proto::rules::TeamRule>, StorageError> {
        forward!(self, s => s.get_rule(team, id))
    }
    async fn list_rules(
        &self,
        team: &str,
        q: RulesQuery,
    ) -> Result<difflore_proto::rules::RulesPage, StorageError> {
        forward!(self, s => s.list_rules(team, q))
    }
    async fn decide(
        &self,
        team: &str,
        id: &str,
        d: difflore_proto::rules::Decision,
        actor: String,
    ) -> Result<difflore_proto::rules::TeamRule, DecisionError> {
        forward!(self, s => s.decide(team, id, d, actor))
    }
    async fn create_token(&self, record: TokenRecord) -> Result<TokenRecord, StorageError> {
        forward!(self, s => s.create_token(record))
    }
    async fn active_token(&self, id: &str) -> Result<Option<TokenRecord>, StorageError> {
        forward!(self, s => s.active_token(id))
    }
    async fn list_tokens(&self, team: Option<String>) -> Result<Vec<TokenRecord>, StorageError> {
        forward!(self, s => s.list_tokens(team))
    }
    async fn revoke_token(
        &self,
        id_or_name: &str,
        team: Option<String>,
    ) -> Result<usize, StorageError> {
        forward!(self, s => s.revoke_token(id_or_name, team))
    }
    async fn create_session(&self, r: SessionRecord) -> Result<(), StorageError> {
        forward!(self, s => s.create_session(r))
    }
    async fn session(&self, id: &str, now: i64) -> Result<Option<SessionRecord>, StorageError> {
        forward!(self, s => s.session(id, now))
    }
    async fn delete_session(&self, id: &str, now: i64) -> Result<(), StorageError> {
        forward!(self, s => s.delete_session(id, now))
    }
    async fn rule_audit(&self, team: &str, id: &str) -> Result<Vec<AuditEntry>, StorageError> {
        forward!(self, s => s.rule_audit(team, id))
    }
    async fn activity(&self, team: &str, since: &str) -> Result<Vec<ActivityRow>, StorageError> {
        forward!(self, s => s.activity(team, since))
    }
    async fn served(
        &self,
        team: &str,
        since: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<(ServedKey, i64)>, StorageError> {
        forward!(self, s => s.served(team, since, rule_id))
    }
    async fn recurrence_dates(
        &self,
        team: &str,
        rule_id: Option<String>,
    ) -> Result<Vec<RuleDates>, StorageError> {
        forward!(self, s => s.recurrence_dates(team, rule_id))
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    #[test]
    fn database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:/srv/x.db").unwrap(),
            DatabaseUrl::Sqlite("/srv/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///srv/x.db").unwrap(),
            DatabaseUrl::Sqlite("/srv/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("rel/x.db").unwrap(),
            DatabaseUrl::Sqlite("rel/x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u:p@h/d").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("mysql://h/d").is_err());
        assert!(DatabaseUrl::parse("").is_err());
        assert_eq!(
            DatabaseUrl::parse("postgres://u:pw@h/d")
                .unwrap()
                .describe(),
            "postgres://u:***@h/d"
        );
    }
}
