//! The only module that touches `rmcp` (pinned; its API has broken three times this year): the
//! tool and resource declarations and the stdio transport. Everything they do is in [`tools`].
//!
//! [`tools`]: crate::tools

use crate::tools::{
    FilesParams, FilesResult, GetParams, ProposalResult, ProposeParams, RuleDetail, SearchParams,
    SearchResult, ToolError, Tools,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use std::sync::Arc;

/// The resource with the repository's active rules.
pub const RULES_URI: &str = "difflore://rules/active";

#[derive(Clone)]
pub struct Server {
    tools: Arc<Tools>,
    tool_router: ToolRouter<Self>,
}

/// A tool's answer: failures the agent can act on come back as tool errors with the message.
fn answer<T>(r: Result<T, ToolError>) -> Result<Json<T>, String> {
    r.map(Json).map_err(|e| {
        if let ToolError::Internal(m) = &e {
            eprintln!("difflore mcp: {m}");
        }
        e.to_string()
    })
}

#[tool_router(router = tool_router)]
impl Server {
    pub fn new(tools: Tools) -> Server {
        Server {
            tools: Arc::new(tools),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Search the team's active rules (learned from past code review) by words, optionally for one file (`path`, alias `file`). Rules governing the file come first, those the query is about before the others.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_rules(
        &self,
        Parameters(p): Parameters<SearchParams>,
    ) -> Result<Json<SearchResult>, String> {
        answer(self.tools.search_rules(p))
    }

    #[tool(
        description = "The team's active rules that govern each of these files (repo-relative or absolute paths), most specific first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn rules_for_files(
        &self,
        Parameters(p): Parameters<FilesParams>,
    ) -> Result<Json<FilesResult>, String> {
        answer(self.tools.rules_for_files(p))
    }

    #[tool(
        description = "One rule by id (or unique prefix) with the review comments it came from.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_rule(
        &self,
        Parameters(p): Parameters<GetParams>,
    ) -> Result<Json<RuleDetail>, String> {
        answer(self.tools.get_rule(p))
    }

    #[tool(
        description = "Propose a new team rule. It becomes a *pending* candidate that a person reviews; it is not served until a person approves it. Limited per session and per day.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn propose_rule(
        &self,
        Parameters(p): Parameters<ProposeParams>,
    ) -> Result<Json<ProposalResult>, String> {
        answer(self.tools.propose_rule(p))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("difflore", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Team rules learned from past code review. Call rules_for_files before editing files, or search_rules with what you are about to change; follow the rules returned. propose_rule only suggests a rule for a person to review.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let r = Resource::new(RULES_URI, "active-rules")
            .with_title("Active team rules")
            .with_description("This repository's active rules (and global ones) as Markdown")
            .with_mime_type("text/markdown");
        Ok(ListResourcesResult::with_all_items(vec![r]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != RULES_URI {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {}; the one resource is {RULES_URI}",
                    request.uri
                ),
                None,
            ));
        }
        let md = self
            .tools
            .active_rules_markdown()
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let contents = ResourceContents::text(md, RULES_URI).with_mime_type("text/markdown");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// Serves on stdin/stdout until the client closes stdin.
pub async fn serve_stdio(tools: Tools) -> Result<(), crate::McpError> {
    let running = Server::new(tools)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| crate::McpError::Start(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| crate::McpError::Session(e.to_string()))?;
    Ok(())
}
