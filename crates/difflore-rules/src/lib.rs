//! Rules from review history.
//!
//! [`classify`] decides, per review comment, whether it states a reusable team convention —
//! and says why either way — and rewrites a kept comment into an imperative statement;
//! [`globs`] derives the files a rule governs from the commented path; [`cluster`] groups
//! near-duplicate statements across pull requests; [`extract`] runs the pipeline over the
//! imported comments and writes *pending* candidates with all their evidence, skipping
//! everything tombstoned. Nothing here ever activates a rule: only a person does — on this
//! machine, or on the team's server: [`propose`] offers this machine's candidates to it, and
//! [`mirror`] writes its decisions into the local store.
#![forbid(unsafe_code)]

pub mod classify;
pub use difflore_proto::cluster;
pub mod export;
pub mod extract;
pub mod globs;
pub mod kinds;
pub mod llm;
pub mod matching;
pub mod memory;
pub mod merge;
pub mod mirror;
pub mod propose;
pub mod recurrence;
pub mod stale;
