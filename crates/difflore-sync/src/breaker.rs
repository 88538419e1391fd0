//! The circuit breaker, kept in `daemon_state` so every drainer (the daemon, `sync now`) shares
//! it: closed → open after [`BreakerCfg::threshold`] consecutive transport failures → half-open
//! after [`BreakerCfg::open_ms`], where exactly one probe may be in flight → closed on any
//! answer from the server, open again on another transport failure.

use crate::state;
use rusqlite::Connection;

#[derive(Debug, Clone, Copy)]
pub struct BreakerCfg {
    pub threshold: i64,
    pub open_ms: i64,
    /// How long a probe slot is reserved (a crashed prober frees it after this).
    pub probe_ms: i64,
}

impl Default for BreakerCfg {
    fn default() -> Self {
        BreakerCfg {
            threshold: 5,
            open_ms: crate::Tuning::default().breaker_open_ms,
            probe_ms: 15_000,
        }
    }
}

/// What a drainer may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Closed,
    /// Send one small probe batch.
    Probe,
    /// Do not send; try again at this time (Unix ms).
    Open {
        until: i64,
    },
}

/// The breaker's state as `daemon_state` keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    fn parse(s: &str) -> Option<BreakerState> {
        Some(match s {
            "closed" => BreakerState::Closed,
            "open" => BreakerState::Open,
            "half_open" => BreakerState::HalfOpen,
            _ => return None,
        })
    }
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The breaker's state; closed when it was never set. A value this version does not know is an
/// error (a database written by another version), never taken for a state.
pub fn current(conn: &Connection) -> rusqlite::Result<BreakerState> {
    match state::get(conn, state::BREAKER)? {
        None => Ok(BreakerState::Closed),
        Some(s) => BreakerState::parse(&s).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("unknown breaker state {s:?} in daemon_state").into(),
            )
        }),
    }
}

fn set(conn: &Connection, st: BreakerState) -> rusqlite::Result<()> {
    state::set(conn, state::BREAKER, st.as_str())
}

pub fn gate(conn: &Connection, cfg: &BreakerCfg, now: i64) -> rusqlite::Result<Gate> {
    if current(conn)? == BreakerState::Closed {
        return Ok(Gate::Closed);
    }
    let opened = state::get_i64(conn, state::BREAKER_OPENED_AT)?.unwrap_or(0);
    if now < opened + cfg.open_ms {
        return Ok(Gate::Open {
            until: opened + cfg.open_ms,
        });
    }
    // Half-open: one probe at a time.
    let probe_until = state::get_i64(conn, state::BREAKER_PROBE_UNTIL)?.unwrap_or(0);
    if probe_until > now {
        return Ok(Gate::Open { until: probe_until });
    }
    let tx = difflore_core::store::write_tx(conn)?;
    set(&tx, BreakerState::HalfOpen)?;
    state::set(
        &tx,
        state::BREAKER_PROBE_UNTIL,
        &(now + cfg.probe_ms).to_string(),
    )?;
    tx.commit()?;
    Ok(Gate::Probe)
}

/// The server answered (whatever it said): close.
pub fn on_answer(conn: &Connection) -> rusqlite::Result<()> {
    if current(conn)? != BreakerState::Closed
        || state::get_i64(conn, state::BREAKER_FAILURES)?.unwrap_or(0) != 0
    {
        let tx = difflore_core::store::write_tx(conn)?;
        set(&tx, BreakerState::Closed)?;
        state::set(&tx, state::BREAKER_FAILURES, "0")?;
        state::delete(&tx, state::BREAKER_PROBE_UNTIL)?;
        tx.commit()?;
    }
    if state::get(conn, state::UNREACHABLE_SINCE)?.is_some() {
        state::delete(conn, state::UNREACHABLE_SINCE)?;
    }
    Ok(())
}

/// No answer: count it; open at the threshold, or at once when the probe failed.
pub fn on_transport_failure(
    conn: &Connection,
    cfg: &BreakerCfg,
    now: i64,
) -> rusqlite::Result<bool> {
    let tx = difflore_core::store::write_tx(conn)?;
    if state::get(&tx, state::UNREACHABLE_SINCE)?.is_none() {
        state::set(&tx, state::UNREACHABLE_SINCE, &now.to_string())?;
    }
    state::add(&tx, state::BREAKER_FAILURES, 1)?;
    let failures = state::get_i64(&tx, state::BREAKER_FAILURES)?.unwrap_or(1);
    let open = current(&tx)? == BreakerState::HalfOpen || failures >= cfg.threshold;
    if open {
        set(&tx, BreakerState::Open)?;
        state::set(&tx, state::BREAKER_OPENED_AT, &now.to_string())?;
        state::delete(&tx, state::BREAKER_PROBE_UNTIL)?;
    }
    tx.commit()?;
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use difflore_core::home::Home;

    #[test]
    fn opens_after_five_probes_once_and_closes_on_an_answer() {
        let d = tempfile::tempdir().unwrap();
        let c = difflore_core::store::open_for_write(&Home::at(d.path())).unwrap();
        let cfg = BreakerCfg {
            threshold: 5,
            open_ms: 1_000,
            probe_ms: 500,
        };
        for i in 0..4 {
            assert!(!on_transport_failure(&c, &cfg, 100 + i).unwrap());
            assert_eq!(gate(&c, &cfg, 100).unwrap(), Gate::Closed);
        }
        assert!(on_transport_failure(&c, &cfg, 200).unwrap());
        assert_eq!(gate(&c, &cfg, 500).unwrap(), Gate::Open { until: 1_200 });
        assert_eq!(gate(&c, &cfg, 1_200).unwrap(), Gate::Probe);
        assert_eq!(current(&c).unwrap(), BreakerState::HalfOpen);
        // Only one probe in flight.
        assert_eq!(gate(&c, &cfg, 1_201).unwrap(), Gate::Open { until: 1_700 });
        // The probe failed: open again at once.
        assert!(on_transport_failure(&c, &cfg, 1_300).unwrap());
        assert_eq!(gate(&c, &cfg, 1_400).unwrap(), Gate::Open { until: 2_300 });
        assert_eq!(gate(&c, &cfg, 2_300).unwrap(), Gate::Probe);
        on_answer(&c).unwrap();
        assert_eq!(current(&c).unwrap(), BreakerState::Closed);
        assert_eq!(gate(&c, &cfg, 2_301).unwrap(), Gate::Closed);
    }

    #[test]
    fn a_state_this_version_does_not_know_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let c = difflore_core::store::open_for_write(&Home::at(d.path())).unwrap();
        assert_eq!(
            current(&c).unwrap(),
            BreakerState::Closed,
            "never set: closed"
        );
        state::set(&c, state::BREAKER, "ajar").unwrap();
        let e = current(&c).unwrap_err().to_string();
        assert!(e.contains("unknown breaker state \"ajar\""), "{e}");
        assert!(
            gate(&c, &BreakerCfg::default(), 0).is_err(),
            "no gate on a guess"
        );
    }

    #[test]
    fn activities_read_back_as_written() {
        let d = tempfile::tempdir().unwrap();
        let c = difflore_core::store::open_for_write(&Home::at(d.path())).unwrap();
        for a in [
            state::Activity::Running,
            state::Activity::Stopped,
            state::Activity::WaitingForLogin,
            state::Activity::CredentialsUnreadable("permission denied".into()),
            state::Activity::CredentialsRejected("bad CA file".into()),
            state::Activity::Parked("the server refused the token (401)".into()),
        ] {
            state::set_activity(&c, &a).unwrap();
            assert_eq!(state::activity(&c).unwrap(), Some(a));
        }
        state::set(&c, state::STATUS, "dancing").unwrap();
        assert!(state::activity(&c).is_err());
    }
}
