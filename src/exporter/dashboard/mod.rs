//! The live dashboard at `/`: one page, its script and style, all compiled into the binary (no
//! network, no build step), and the plan's graph at `/plan.json`. The page draws the graph and
//! reads `/metrics` every second for its figures and plots.

use crate::plan::Plan;
use crate::plan::explain::graph::PlanGraph;

const PAGE: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("dashboard.js");
const STYLE: &str = include_str!("dashboard.css");

/// What the dashboard serves besides `/metrics`: its files and the plan of the run.
#[derive(Debug)]
pub(super) struct Dashboard {
    plan_json: String,
}

impl Dashboard {
    pub(super) fn new(plan: &Plan) -> Dashboard {
        Dashboard {
            plan_json: PlanGraph::of(plan).to_json(),
        }
    }

    /// The body and content type of `path`, if it is one of the dashboard's.
    pub(super) fn file(&self, path: &str) -> Option<(&str, &'static str)> {
        match path {
            "/" | "/index.html" => Some((PAGE, "text/html; charset=utf-8")),
            "/dashboard.js" => Some((SCRIPT, "text/javascript; charset=utf-8")),
            "/dashboard.css" => Some((STYLE, "text/css; charset=utf-8")),
            "/plan.json" => Some((&self.plan_json, "application/json")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_files_it_serves_itself() {
        let dashboard = Dashboard::new(&Plan::default());
        for (attribute, path) in [("src=\"", "/dashboard.js"), ("href=\"", "/dashboard.css")] {
            assert!(PAGE.contains(&format!("{attribute}{path}\"")), "{path}");
            assert!(dashboard.file(path).is_some(), "{path}");
        }
        for text in [PAGE, SCRIPT, STYLE] {
            let text = text.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http") && !text.contains("//cdn"),
                "a remote resource"
            );
        }
        assert_eq!(
            dashboard.file("/plan.json").map(|f| f.0),
            Some(r#"{"nodes":[],"edges":[]}"#)
        );
        assert!(dashboard.file("/nothing").is_none());
    }
}
