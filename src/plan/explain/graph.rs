//! The plan as a graph of nodes and edges: sources, each pipeline's operators and output, the
//! store's changes, sync targets, alerts, routes and their handlers. `explain --mermaid` writes
//! it as a Mermaid flowchart and the dashboard draws it from `/plan.json`, so both show the same
//! graph.
//!
//! Node ids are the Mermaid ones: `src_<source>`, `<pipeline>_<n>` for operators, `out_<pipeline>`,
//! `store_changes`, `sync_<name>`, `alert_<name>`, `route_<name>`, `handler_<name>`.
//! [`PlanGraph::id_of`] gives a plan node's id, so the timely operators rendered for a node can
//! be labelled with it (`render::spans`) and the dashboard can put their state on the graph.

use std::collections::HashMap;

use std::fmt::Write as _;

use serde::Serialize;

use super::describe;
use crate::plan::sinks::{SinkDefs, SyncSource};
use crate::plan::{Node, Plan};

/// What a node of the graph stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Source,
    Operator,
    /// A pipeline's output (what later pipelines and the sinks read).
    Output,
    /// The store's change events (what routes and table syncs read).
    Store,
    Sync,
    Alert,
    Route,
    Handler,
}

/// One node: its id, kind, a one-line label, and the names that tie it to the metrics.
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    pub id: String,
    pub kind: NodeKind,
    pub label: String,
    /// The source, pipeline (of an output), sync target, alert, route or handler it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The pipeline an operator belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// An operator's name (`Filter`, `Aggregate`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<&'static str>,
}

/// Data flows `from` one node `to` another.
#[derive(Clone, Debug, Serialize)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
}

/// A node or an edge, in the order they were added (the order Mermaid writes them in).
#[derive(Clone, Copy, Debug)]
enum Step {
    Node(usize),
    Edge(usize),
}

/// The plan's graph; a node shared by several edges (a handler of several routes) is in
/// `nodes` once.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PlanGraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    #[serde(skip)]
    steps: Vec<Step>,
    /// The id of each plan node of the graph, by the node's address in the plan it was made
    /// from.
    #[serde(skip)]
    by_node: HashMap<usize, String>,
}

impl PlanGraph {
    /// The graph of `plan`.
    pub fn of(plan: &Plan) -> PlanGraph {
        let mut graph = PlanGraph::default();
        for source in &plan.sources {
            let label = format!("{} ({})", source.name, source.view.name());
            graph
                .node(NodeKind::Source, format!("src_{}", source.name), label)
                .name = Some(source.name.clone());
        }
        for pipeline in &plan.pipelines {
            let mut counter = 0;
            let root = graph.operator(&pipeline.name, &pipeline.node, &mut counter);
            let out = format!("out_{}", pipeline.name);
            graph
                .node(NodeKind::Output, out.clone(), pipeline.name.clone())
                .name = Some(pipeline.name.clone());
            graph.edge(root, out);
        }
        graph.sinks(&plan.sinks);
        graph
    }

    /// The graph as JSON: `{"nodes": [...], "edges": [...]}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"nodes":[],"edges":[]}"#.into())
    }

    /// The graph as a Mermaid flowchart.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart LR\n");
        for step in &self.steps {
            match *step {
                Step::Node(index) => {
                    let node = &self.nodes[index];
                    if !declared_by_edge(node.kind) {
                        let _ = writeln!(out, "  {}", mermaid_declaration(node));
                    }
                }
                Step::Edge(index) => {
                    let edge = &self.edges[index];
                    let to = self
                        .find(&edge.to)
                        .filter(|n| declared_by_edge(n.kind))
                        .map_or_else(|| edge.to.clone(), mermaid_declaration);
                    let _ = writeln!(out, "  {} --> {to}", edge.from);
                }
            }
        }
        out
    }

    /// The id of `node`, a node of the plan this graph was made from (`None` for a node of
    /// another plan, or one that reads another pipeline's output).
    pub fn id_of(&self, node: &Node) -> Option<&str> {
        self.by_node.get(&address(node)).map(String::as_str)
    }

    fn find(&self, id: &str) -> Option<&GraphNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// Adds a node (or finds the one of that id and kind) and returns it for its names.
    fn node(&mut self, kind: NodeKind, id: String, label: String) -> &mut GraphNode {
        let same = |n: &GraphNode| n.id == id && n.kind == kind;
        let index = match self.nodes.iter().position(same) {
            Some(index) => index,
            None => {
                self.nodes.push(GraphNode {
                    id,
                    kind,
                    label,
                    name: None,
                    pipeline: None,
                    operator: None,
                });
                self.steps.push(Step::Node(self.nodes.len() - 1));
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[index]
    }

    fn edge(&mut self, from: String, to: String) {
        self.edges.push(GraphEdge { from, to });
        self.steps.push(Step::Edge(self.edges.len() - 1));
    }

    /// Adds `node` and its inputs (operators of `pipeline`) and returns its id; a source or
    /// another pipeline's output is already in the graph.
    fn operator(&mut self, pipeline: &str, node: &Node, counter: &mut usize) -> String {
        match node {
            Node::Source { source, .. } => {
                let id = format!("src_{source}");
                self.by_node.insert(address(node), id.clone());
                return id;
            }
            Node::Pipeline { name, .. } => return format!("out_{name}"),
            _ => {}
        }
        *counter += 1;
        let id = format!("{pipeline}_{counter}");
        self.by_node.insert(address(node), id.clone());
        let added = self.node(NodeKind::Operator, id.clone(), describe(node));
        added.pipeline = Some(pipeline.to_string());
        added.operator = Some(node.op_name());
        for input in node.inputs() {
            let input_id = self.operator(pipeline, input, counter);
            self.edge(input_id, id.clone());
        }
        id
    }

    /// The sinks, each with an edge from the pipeline output or the store changes it reads.
    fn sinks(&mut self, sinks: &SinkDefs) {
        let reads_store = sinks.routes.is_some()
            || sinks
                .sync
                .iter()
                .any(|s| matches!(s.source, SyncSource::Table { .. }));
        if reads_store {
            let label = "store changes".to_string();
            self.node(NodeKind::Store, "store_changes".into(), label);
        }
        for sync in &sinks.sync {
            let from = match &sync.source {
                SyncSource::Pipeline { pipeline, .. } => format!("out_{pipeline}"),
                SyncSource::Table { .. } => "store_changes".to_string(),
            };
            let id = format!("sync_{}", sync.name);
            let label = format!("sync {}: {}", sync.name, sync.target.describe());
            self.node(NodeKind::Sync, id.clone(), label).name = Some(sync.name.clone());
            self.edge(from, id);
        }
        for alert in &sinks.alerts {
            let id = format!("alert_{}", alert.name);
            let label = format!("alert {}: {}", alert.name, alert.condition.text());
            self.node(NodeKind::Alert, id.clone(), label).name = Some(alert.name.clone());
            self.edge(format!("out_{}", alert.pipeline), id);
        }
        let Some(table) = &sinks.routes else {
            return;
        };
        for route in table.routes() {
            let id = format!("route_{}", route.name);
            let label = format!("route {}", route.name);
            self.node(NodeKind::Route, id.clone(), label).name = Some(route.name.clone());
            self.edge("store_changes".into(), id.clone());
            for handler in &route.handlers {
                let to = format!("handler_{handler}");
                self.node(NodeKind::Handler, to.clone(), handler.clone())
                    .name = Some(handler.clone());
                self.edge(id.clone(), to);
            }
        }
    }
}

/// Where `node` lives: the key of [`PlanGraph::id_of`].
fn address(node: &Node) -> usize {
    std::ptr::from_ref(node) as usize
}

/// Whether Mermaid declares the node on the edge that leads to it (on every such edge)
/// rather than on a line of its own.
fn declared_by_edge(kind: NodeKind) -> bool {
    !matches!(
        kind,
        NodeKind::Source | NodeKind::Operator | NodeKind::Store
    )
}

/// `id` with its shape and label, e.g. `src_events[("events (events)")]`.
fn mermaid_declaration(node: &GraphNode) -> String {
    let (id, label) = (&node.id, &node.label);
    let quoted = || label.replace('"', "'");
    match node.kind {
        NodeKind::Source | NodeKind::Store => format!("{id}[(\"{label}\")]"),
        NodeKind::Operator => format!("{id}[\"{}\"]", quoted()),
        NodeKind::Output | NodeKind::Handler => format!("{id}[/\"{label}\"/]"),
        NodeKind::Sync => format!("{id}[[\"{}\"]]", quoted()),
        NodeKind::Alert => format!("{id}{{{{\"{}\"}}}}", quoted()),
        NodeKind::Route => format!("{id}[\"{label}\"]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_graph_has_a_node_per_operator_and_an_edge_per_input() {
        let plan = crate::dataflow_file::load_str(
            r#"
[sources.events]
view = "events"

[[pipelines]]
name = "big"
from = "events"

[[pipelines.steps]]
filter = "value.v >= 50"

[[pipelines]]
name = "again"
from = "big"
"#,
            "f.toml",
            std::path::Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
        let graph = PlanGraph::of(&plan);
        let ids: Vec<(&str, NodeKind)> = graph
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.kind))
            .collect();
        assert_eq!(
            ids,
            [
                ("src_events", NodeKind::Source),
                ("big_1", NodeKind::Operator),
                ("out_big", NodeKind::Output),
                ("out_again", NodeKind::Output),
            ]
        );
        let edges: Vec<(&str, &str)> = graph
            .edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            edges,
            [
                ("src_events", "big_1"),
                ("big_1", "out_big"),
                ("out_big", "out_again")
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&graph.to_json()).unwrap();
        assert_eq!(json["nodes"][1]["pipeline"], "big");
        assert_eq!(json["nodes"][1]["operator"], "Filter");
        assert_eq!(json["nodes"][2]["kind"], "output");
    }

    /// `explain --mermaid` of the example files with sinks, byte for byte (nodes declared
    /// where Mermaid users have always found them).
    const SINKS_MERMAID: &str = r#"flowchart LR
  src_orders[("orders (table)")]
  open_orders_1["Aggregate by [status = value.status] aggs [orders = count(*)]"]
  src_orders --> open_orders_1
  open_orders_1 --> out_open_orders[/"open_orders"/]
  store_changes[("store changes")]
  store_changes --> route_deletes["route deletes"]
  route_deletes --> handler_removed[/"removed"/]
  store_changes --> route_orders["route orders"]
  route_orders --> handler_big_orders[/"big_orders"/]
  route_orders --> handler_order_batches[/"order_batches"/]
  store_changes --> route_users["route users"]
  route_users --> handler_users[/"users"/]
flowchart LR
  src_new_orders[("new_orders (events)")]
  order_totals_1["WindowAggregate by [user = value.user_id] aggs [orders = count(*), total = sum(value.amount)] window=tumbling 10000ms emit=Final allowed_lateness=0ms"]
  src_new_orders --> order_totals_1
  order_totals_1 --> out_order_totals[/"order_totals"/]
  out_order_totals --> alert_big_spender{{"alert big_spender: total > 2000"}}
flowchart LR
  src_orders[("orders (table)")]
  user_totals_1["Aggregate by [user = value.user_id] aggs [orders = count(*), total = sum(value.amount)]"]
  src_orders --> user_totals_1
  user_totals_1 --> out_user_totals[/"user_totals"/]
  store_changes[("store changes")]
  store_changes --> sync_users_to_redis[["sync users_to_redis: redis redis://127.0.0.1:6379/ prefix 'kvflow-dataflow:users:'"]]
  out_user_totals --> sync_totals_to_redis[["sync totals_to_redis: redis redis://127.0.0.1:6379/ prefix 'kvflow-dataflow:totals:'"]]
"#;

    #[test]
    fn explain_mermaid_of_the_sinks_examples_is_unchanged() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dataflows");
        let mermaid: String = ["routes", "alerts", "sync_redis"]
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}.toml"));
                let loaded = crate::dataflow_file::load_file(&path);
                PlanGraph::of(&loaded.unwrap_or_else(|e| panic!("{e}")).plan).to_mermaid()
            })
            .collect();
        assert_eq!(mermaid, SINKS_MERMAID);
    }
}
