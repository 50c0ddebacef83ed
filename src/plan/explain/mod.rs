//! `kvflow explain`: a plan as indented text or as a Mermaid graph, its sinks included; the
//! same graph as data for the dashboard ([`graph`]).

pub mod graph;
mod sinks;

use crate::plan::JoinKind;
use std::fmt::Write as _;

use super::{Node, Plan, Ranking, WindowKind};

/// The plan as indented text, one operator a line, inputs below their consumer.
pub fn explain_text(plan: &Plan) -> String {
    let mut out = String::new();
    if let Some(keys) = &plan.append_only_keys {
        let _ = writeln!(out, "store append_only_keys={}", keys.0.as_str());
    }
    for source in &plan.sources {
        let _ = writeln!(
            out,
            "source {} view={} kinds={} keys={} max_out_of_orderness={}ms",
            source.name,
            source.view.name(),
            if source.kinds.is_empty() {
                "all".to_string()
            } else {
                source
                    .kinds
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(",")
            },
            source.key_regex.as_ref().map_or("*", |r| r.as_str()),
            source.max_out_of_orderness,
        );
    }
    for pipeline in &plan.pipelines {
        let _ = writeln!(
            out,
            "\npipeline {}{} -> [{}]",
            pipeline.name,
            if pipeline.internal { " (internal)" } else { "" },
            pipeline.schema().names().join(", ")
        );
        write_node(&pipeline.node, 1, &mut out);
    }
    sinks::sinks_text(&plan.sinks, &mut out);
    out
}

fn write_node(node: &Node, depth: usize, out: &mut String) {
    let _ = writeln!(out, "{}{}", "  ".repeat(depth), describe(node));
    for input in node.inputs() {
        write_node(input, depth + 1, out);
    }
}

/// One line describing a node: its operator name and arguments.
pub fn describe(node: &Node) -> String {
    match node {
        Node::Source {
            source,
            view,
            lateness,
            ..
        } => match lateness {
            Some(bound) => format!(
                "Source {source} ({}) late if ts + {bound}ms < max ts seen",
                view.name()
            ),
            None => format!("Source {source} ({})", view.name()),
        },
        Node::Pipeline { name, .. } => format!("PipelineRef {name}"),
        Node::Filter { predicate, .. } => format!("Filter {}", predicate.text()),
        Node::Map { fields, .. } => format!(
            "Map {}",
            fields
                .iter()
                .map(|(n, e)| format!("{n} = {}", e.text()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Node::FlatMap { name, expr, .. } => format!("FlatMap {name} in {}", expr.text()),
        Node::Aggregate {
            window,
            group_by,
            aggs,
            ..
        } => {
            let groups: Vec<String> = group_by
                .iter()
                .map(|(n, e)| format!("{n} = {}", e.text()))
                .collect();
            let aggs: Vec<String> = aggs
                .iter()
                .map(|a| format!("{} = {}", a.name, a.describe()))
                .collect();
            let window = window.map_or(String::new(), |w| {
                let kind = window_kind(w.kind);
                format!(
                    " window={kind} emit={:?} allowed_lateness={}ms",
                    w.emission, w.allowed_lateness
                )
            });
            if aggs.is_empty() && window.is_empty() {
                return format!("Aggregate (distinct) by [{}]", groups.join(", "));
            }
            format!(
                "{} by [{}] aggs [{}]{window}",
                node.op_name(),
                groups.join(", "),
                aggs.join(", ")
            )
        }
        Node::Join {
            left_name,
            right_name,
            left_keys,
            right_keys,
            kind,
            ..
        } => {
            let on: Vec<String> = left_keys
                .iter()
                .zip(right_keys)
                .map(|(l, r)| format!("{left_name}.{} = {right_name}.{}", l.text(), r.text()))
                .collect();
            format!("Join {kind:?} on {}", on.join(" AND "))
        }
        Node::TopN {
            partition_by,
            order_by,
            limit,
            ranking,
            rank_field,
            window_end,
            ..
        } => {
            let partition: Vec<&str> = partition_by.iter().map(|e| e.text()).collect();
            let order: Vec<String> = order_by
                .iter()
                .map(|o| {
                    let dir = if o.descending { "DESC" } else { "ASC" };
                    format!("{} {dir}", o.expr.text())
                })
                .collect();
            let rank = rank_field
                .as_ref()
                .map_or(String::new(), |r| format!(" rank as {r}"));
            let by = match ranking {
                Ranking::RowNumber => String::new(),
                other => format!(" {}", other.name()),
            };
            let per_window = if window_end.is_some() {
                " per window"
            } else {
                ""
            };
            format!(
                "TopN {limit}{by}{per_window} by [{}] order by [{}]{rank}",
                partition.join(", "),
                order.join(", ")
            )
        }
        Node::Union { inputs, .. } => format!("Union of {} inputs", inputs.len()),
        Node::Window { kind, .. } => format!("Window {}", window_kind(*kind)),
        Node::IntervalJoin {
            join,
            lower,
            upper,
            kind,
            ..
        } => format!(
            "IntervalJoin{} on {} AND {l}.ts - {r}.ts in [{lower}, {upper}]ms",
            outer_mark(*kind),
            join_on(join),
            l = join.left_name,
            r = join.right_name
        ),
        Node::WindowJoin { join, kind, .. } => format!(
            "WindowJoin{} on equal windows{}{}",
            outer_mark(*kind),
            if join.left_keys.is_empty() {
                ""
            } else {
                " AND "
            },
            join_on(join)
        ),
    }
}

fn window_kind(kind: WindowKind) -> String {
    match kind {
        WindowKind::Tumbling { size } => format!("tumbling {size}ms"),
        WindowKind::Sliding { size, slide } => format!("sliding {size}ms every {slide}ms"),
        WindowKind::Session { gap } => format!("session gap {gap}ms"),
    }
}

/// `left.k = right.k AND …` of an interval or window join.
fn join_on(join: &crate::plan::JoinSides) -> String {
    let on: Vec<String> = join
        .left_keys
        .iter()
        .zip(&join.right_keys)
        .map(|(l, r)| {
            format!(
                "{}.{} = {}.{}",
                join.left_name,
                l.text(),
                join.right_name,
                r.text()
            )
        })
        .collect();
    on.join(" AND ")
}

/// The plan as a Mermaid flowchart (see [`graph::PlanGraph`]).
pub fn explain_mermaid(plan: &Plan) -> String {
    graph::PlanGraph::of(plan).to_mermaid()
}

/// ` (left)` for a left outer join, nothing for an inner one.
fn outer_mark(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "",
        JoinKind::LeftOuter => " (left)",
    }
}
