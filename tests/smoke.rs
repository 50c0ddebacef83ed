use std::sync::Arc;

use kvflow::builder::{Agg, Pipeline, PlanBuilder, Window};
use kvflow::change::Mutation;
use kvflow::runtime::{InputSource, RunOptions, run};
use kvflow::sinks::capture::Capture;
use kvflow::value::Value;

#[test]
fn smoke() {
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
        println!("{summary}");
        println!("{:#?}", capture.rows("w"));
        println!("{:#?}", capture.rows("t"));
        println!(
            "{:#?}",
            capture.sorted("t", kvflow::sinks::OutputKind::Final)
        );
    }
}
