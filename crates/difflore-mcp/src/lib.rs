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

/// Runs the server until the client closes stdin. Errors are for stderr.
pub fn run() -> Result<(), String> {
    let home = Home::from_env().map_err(|e| format!("cannot find DIFFLORE_HOME: {e}"))?;
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
    let tools = tools::Tools::open(home, cwd).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(server::serve_stdio(tools))
}
