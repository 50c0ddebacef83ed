//! Which rows come in whole windows: the rows of a window all reach the next operator by the
//! window's close, so an operator partitioned by the window can finish a window once, at its
//! close, and forget it (Flink's window top-N, which needs the same of its input).
//!
//! Decision: this is a property of where the window columns come from, not of their names.
//! Rows have it when their `window_start` and `window_end` are those of a window assignment
//! (each row in its windows, on time), or of a windowed aggregate that emits final rows with
//! no allowed lateness (each window's rows once, at its close), passed on unchanged by
//! filters, maps that copy both fields (under any name), and pipelines that read such rows. A continuous or
//! late-correcting aggregate changes a window's rows after its close, so a top-N over it
//! stays the retracting one.

use super::{Emission, Node, Plan};

/// The positions of `window_start` and `window_end` in `node`'s rows when its rows come in
/// whole windows (see the module doc).
pub fn window_fields(plan: &Plan, node: &Node) -> Option<(usize, usize)> {
    match node {
        Node::Window { schema, .. } => Some((
            schema.index_of("window_start")?,
            schema.index_of("window_end")?,
        )),
        Node::Aggregate {
            window: Some(window),
            ..
        } if window.emission == Emission::Final && window.allowed_lateness == 0 => Some((0, 1)),
        Node::Filter { input, .. } => window_fields(plan, input),
        Node::Pipeline { name, .. } => window_fields(plan, &plan.pipeline(name)?.node),
        Node::Map { input, fields, .. } => {
            let (start, end) = window_fields(plan, input)?;
            let copied = |from: usize| fields.iter().position(|(_, e)| e.as_field() == Some(from));
            Some((copied(start)?, copied(end)?))
        }
        _ => None,
    }
}

/// The position of `window_end` in `input`'s rows when a top-N partitioned by `partition_by`
/// is a window top-N: its input comes in whole windows and it partitions by both window
/// fields.
pub fn top_n_window_end(
    plan: &Plan,
    input: &Node,
    partition_by: &[crate::expr::Expr],
) -> Option<usize> {
    let (start, end) = window_fields(plan, input)?;
    let partitions = |field: usize| partition_by.iter().any(|e| e.as_field() == Some(field));
    (partitions(start) && partitions(end)).then_some(end)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::plan::Node;

    /// Whether the top-N of `sql` (after a windowed view `w`) is a window top-N.
    fn per_window(sql: &str) -> bool {
        let text = format!(
            "CREATE SOURCE e FROM events;
             CREATE VIEW w WITH {sql}"
        );
        let plan = crate::dataflow_file::load_sql_str(&text, "t.sql", Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"))
            .plan;
        let top_n = plan.pipelines.iter().find_map(|p| match &p.node {
            Node::TopN { window_end, .. } => Some(window_end.is_some()),
            _ => None,
        });
        top_n.expect("a top-N")
    }

    const COUNTS: &str = "SELECT window_start, window_end, key, count(*) AS n
        FROM TUMBLE(TABLE e, DESCRIPTOR(ts), INTERVAL '1' SECOND)
        GROUP BY window_start, window_end, key;";

    fn top(partition: &str, from: &str) -> String {
        format!(
            "INSERT INTO t SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition}
             ORDER BY n DESC) AS r FROM {from}) WHERE r <= 1;"
        )
    }

    #[test]
    fn only_whole_windows_partitioned_by_both_bounds_are_ranked_per_window() {
        let final_counts = format!("(emit = 'final') AS {COUNTS}");
        let both = top("window_start, window_end", "w");
        assert!(per_window(&format!("{final_counts}\n{both}")));
        assert!(!per_window(&format!(
            "{final_counts}\n{}",
            top("window_start", "w")
        )));
        let continuous = format!("(emit = 'continuous') AS {COUNTS}\n{both}");
        assert!(
            !per_window(&continuous),
            "a continuous aggregate changes windows"
        );
        let late = format!("(emit = 'final', allowed_lateness = 100) AS {COUNTS}\n{both}");
        assert!(!per_window(&late), "late corrections change closed windows");
        let copied = "CREATE VIEW c AS SELECT window_end AS e, window_start AS s, n FROM w;";
        let renamed = format!("{final_counts}\n{copied}\n{}", top("s, e", "c"));
        assert!(per_window(&renamed), "a map that copies both bounds");
        let moved = "CREATE VIEW c AS SELECT window_end + 0 AS e, window_start AS s, n FROM w;";
        let computed = format!("{final_counts}\n{moved}\n{}", top("s, e", "c"));
        assert!(
            !per_window(&computed),
            "a computed bound is not the window's"
        );
    }
}
