//! `difflore mcp`: the Model Context Protocol server on stdio. Agents ask for the team's rules
//! themselves (`search_rules`, `rules_for_files`, `get_rule`, the `difflore://rules/active`
//! resource) and may propose one (`propose_rule`: always *pending*). Same engine, scoping
//! (the repository of the working directory) and kill switch as the hooks.
//!
//! stdout is the protocol: everything else goes to stderr. A closed stdin ends the process.
//!
//! Modules: [`tools`] (what each tool does, no MCP library in it), [`server`] (the `rmcp` glue,
//! the only place that library is used).
#![forbid(unsafe_code)]

pub mod server;
pub mod tools;

use difflore_core::home::Home;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot find DIFFLORE_HOME: {0}")]
    Home(String),
    #[error("cannot read the working directory: {0}")]
    Cwd(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] difflore_core::store::StoreError),
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("MCP session could not start: {0}")]
    Start(String),
    #[error("MCP session ended with an error: {0}")]
    Session(String),
}

/// Runs the server until the client closes stdin. Errors are for stderr.
pub fn run() -> Result<(), McpError> {
    let home = Home::from_env().map_err(|e| McpError::Home(e.to_string()))?;
    let cwd = std::env::current_dir().map_err(McpError::Cwd)?;
    let tools = tools::Tools::open(home, cwd)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(McpError::Runtime)?;
    rt.block_on(server::serve_stdio(tools))
}
