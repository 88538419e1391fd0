//! The server's tests use the workspace's shared harness (`difflore-test-support`): a real
//! `difflore-server` on 127.0.0.1 over SQLite or PostgreSQL, and a small HTTP client.
#![allow(dead_code, unused_imports)]

pub use difflore_test_support::http::*;
pub use difflore_test_support::on_both_backends;
pub use difflore_test_support::server::{Backend, TestServer as Server, unique};

pub const BIN: &str = env!("CARGO_BIN_EXE_difflore-server");
