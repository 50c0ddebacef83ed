use std::sync::Arc;

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Window};
use kvflow::change::Mutation;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::capture::Capture;
use kvflow::value::Value;

#[test]
fn builder_pipelines_window_and_retract_on_any_worker_count() {
    let plan = PlanBuilder::new()
        .pipeline(
            Pipeline::from_events("w")
                .map([
                    ("prefix", "split_part(key, '_', 1)"),
                    ("ts", "ts"),
                    ("v", "CAST(value AS INT)"),
                ])
                .window(Window::tumbling(1000))
                .group_by(["prefix"])
                .aggregate([Agg::count("count"), Agg::sum("sum", "v")]),
        )
        .pipeline(
            Pipeline::from_table("t")
                .map([("prefix", "split_part(key, '_', 1)"), ("v", "value")])
                .group_by(["prefix"])
                .aggregate([Agg::count("n"), Agg::sum("total", "v")])
                .with_final_state(),
        )
        .build()
        .unwrap();
    let input = vec![
        Mutation::put("a_1", Value::Int(1), 100),
        Mutation::put("a_2", Value::Int(2), 500),
        Mutation::put("b_1", Value::Int(5), 999),
        Mutation::put("a_1", Value::Int(10), 1000),
        Mutation::delete("a_2", 1500),
    ];
    for workers in [1, 3] {
        let capture = Capture::new();
        let summary = run(
            Arc::new(plan.clone()),
            InputSource::Memory(Arc::new(input.clone())),
            RunOptions::default().workers(workers),
            Arc::new(capture.clone()),
        )
        .unwrap();
        assert_eq!(summary.events_in, 5);
        assert_eq!(
            capture.rows("w"),
            [
                r#"{"window_start":0,"window_end":1000,"prefix":"a","count":2,"sum":3}"#,
                r#"{"window_start":0,"window_end":1000,"prefix":"b","count":1,"sum":5}"#,
                r#"{"window_start":1000,"window_end":2000,"prefix":"a","count":2,"sum":10}"#,
            ],
            "{workers} workers"
        );
        assert_eq!(
            capture.sorted("t", kvflow::sinks::OutputKind::Final),
            [
                r#"{"prefix":"a","n":1,"total":10}"#,
                r#"{"prefix":"b","n":1,"total":5}"#,
            ],
            "{workers} workers"
        );
    }
}
