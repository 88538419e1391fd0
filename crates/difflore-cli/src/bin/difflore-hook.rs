//! `difflore-hook`: the agents' hook entry point as a binary of its own. It links only the
//! capture and serving path (no argument parser, server client, importer or MCP server), so an
//! agent pays the least to start it on every tool call. `difflore-hook --agent NAME` behaves
//! exactly as `difflore hook --agent NAME`.
#![forbid(unsafe_code)]

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "difflore-hook {}: the agents' hook, the same as `difflore hook`\n\n\
             Usage: difflore-hook --agent <claude-code|codex|gemini|cursor|qwen-code|cline|copilot|opencode> [--event NAME]\n\n\
             Reads one hook event (JSON) on stdin, records it and prints the agent's answer;\n\
             it never fails the agent. `difflore agents install` wires it; see `difflore hook --help`.",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    difflore_hook::run_process(&args);
}
