//! What every command needs from where it runs: the difflore home, the delivery timings, and
//! the refusal to let an agent run a command that changes what agents are told.

use anyhow::{Context, bail};
use difflore_core::home::Home;
use difflore_rules::memory;

/// The difflore home (`DIFFLORE_HOME`, or the default under the user's home).
pub fn home() -> anyhow::Result<Home> {
    Home::from_env().context("cannot find DIFFLORE_HOME")
}

/// Refuses `difflore memory CMD` under an agent's environment markers: only a person decides.
pub fn refuse_agents(cmd: &str) -> anyhow::Result<()> {
    if let Some(m) = memory::agent_marker() {
        bail!(
            "`difflore memory {cmd}` changes what agents are told, so an agent may not run it ({m} is set). Run it yourself in your own terminal."
        );
    }
    Ok(())
}

/// The delivery timings, as the test suite may shorten them (read here, at the edge).
pub fn tuning() -> difflore_sync::Tuning {
    difflore_sync::Tuning::from_test_env()
}
