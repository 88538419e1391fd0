//! The closed sets of words a rule carries — its status, severity and origin, and the kinds of
//! tombstone — as enums, each with the one spelling the database, the JSON shapes of DESIGN §9
//! and the CLI use. Parsed once where they come in; an unknown value read from the database is
//! an error, never a silent default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// Defines a string enum: its spellings, `as_str`, `Display`, `FromStr` (naming the choices on
/// a bad value), SQL and serde in those spellings.
macro_rules! spelled {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} {s:?} (one of: {})",
                        stringify!($name).to_lowercase(),
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value
                    .as_str()?
                    .parse()
                    .map_err(|e: String| FromSqlError::Other(e.into()))
            }
        }
    };
}

spelled! {
    /// Where a rule is in review (DESIGN §9): only a person moves it.
    Status {
        Pending = "pending",
        Active = "active",
        Paused = "paused",
        Rejected = "rejected",
    }
}

impl Status {
    /// Whether a person may move a rule from `self` to `to` (staying put is allowed and
    /// changes nothing): approve from anywhere, reject from anywhere, pause only an active rule.
    pub fn can_become(self, to: Status) -> bool {
        match to {
            Status::Active | Status::Rejected => true,
            Status::Paused => matches!(self, Status::Active | Status::Paused),
            Status::Pending => self == Status::Pending,
        }
    }
}

spelled! {
    /// How a rule is served: as context, or (opt-in) holding an edit back.
    Severity {
        Context = "context",
        Enforce = "enforce",
    }
}

spelled! {
    /// Where a rule came from.
    Origin {
        ReviewImport = "review_import",
        Manual = "manual",
        AgentProposal = "agent_proposal",
        Team = "team",
    }
}

spelled! {
    /// Where a rule lives: this machine's own, or the local mirror of the team's rulebook.
    Location {
        Local = "local",
        Team = "team",
    }
}

spelled! {
    /// What a tombstone keeps out: one review comment, or every statement with a signature.
    TombstoneKind {
        Comment = "comment",
        Signature = "signature",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn spellings_round_trip_through_text_sql_and_json() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        let conn = Connection::open_in_memory().unwrap();
        let back: Origin = conn
            .query_row("SELECT ?1", [Origin::AgentProposal], |r| r.get(0))
            .unwrap();
        assert_eq!(back, Origin::AgentProposal);
        // An unknown value from the database is an error naming the choices.
        let err = conn
            .query_row("SELECT 'archived'", [], |r| r.get::<_, Status>(0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("archived") && err.contains("pending, active"),
            "{err}"
        );
        assert!(
            "loud"
                .parse::<Severity>()
                .unwrap_err()
                .contains("context, enforce")
        );
    }

    #[test]
    fn the_review_state_machine() {
        use Status::*;
        assert!(Pending.can_become(Active) && Paused.can_become(Active));
        assert!(Active.can_become(Paused) && !Pending.can_become(Paused));
        assert!(!Rejected.can_become(Paused) && Rejected.can_become(Active));
        assert!(!Active.can_become(Pending));
    }
}
