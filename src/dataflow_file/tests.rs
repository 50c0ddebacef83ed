//! Tests of dataflow files: a full valid file, every kind of error with its exact line, column
//! and suggestion, and a no-panic property test over randomly mutated files.

use std::path::{Path, PathBuf};

use super::{DataflowFileError, DefaultInput, LoadedFile, load_file, load_str, offset_to_line_col};
use crate::change::EventKind;
use crate::plan::{AggFunc, Emission, JoinKind, Node, View, WindowKind};
use crate::workload::{GenConfig, Workload};

const FULL: &str = r#"# A full dataflow file.
[input]
file = "window_counts.input.jsonl"

[sources.events]
view = "events"
kinds = ["insert", "update"]
key_regex = "^order_"
max_out_of_orderness = 200

[sources.users]
view = "table"
key_regex = "^user_"

[[pipelines]]
name = "tumbling"
from = "events"

[[pipelines.steps]]
filter = "value.amount > 10"

[[pipelines.steps]]
map = { v = "CAST(value.amount AS INT)", prefix = "split_part(key, '_', 1)", ts = "ts" }

[[pipelines.steps]]
window = { kind = "tumbling", size = 1000, allowed_lateness = 50 }
group_by = ["prefix"]
aggregates = { total = "sum(v)", count = "count(*)", biggest = "max(v)" }

[[pipelines]]
name = "sessions"
from = "events"
steps = [
  { map = { uid = "value.user_id", ts = "ts" } },
  { window = { kind = "session", gap = 500, emit = "continuous" }, group_by = { who = "uid" }, aggregates = { n = "count(uid)" } },
]

[[pipelines]]
name = "orders_users"
from = "events"

[[pipelines.steps]]
join = "users"
left_on = ["value.user_id"]
right_on = ["key"]
kind = "left"

[[pipelines.steps]]
group_by = ["users.value.region"]
aggregates = { orders = "count(DISTINCT events.key)", items = "collect(events.value.item, 10)", first_seen = "min(events.ts)" }

[[pipelines]]
name = "items"
from = "events"
steps = [{ flat_map = { item = "value.items" } }]

[[pipelines]]
name = "busy_regions"
from = "orders_users"
final_state = true
steps = [{ filter = "orders > 1" }]
"#;

fn load(text: &str) -> Result<LoadedFile, DataflowFileError> {
    load_str(text, "test.toml", Path::new("dataflows"))
}

fn err(text: &str) -> DataflowFileError {
    match load(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Line and column (1-based, chars) of the first occurrence of `needle` in `text`.
fn loc(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    offset_to_line_col(text, offset)
}

/// Asserts the error's position is `needle`'s, its message contains `fragment`, and its
/// suggestion is `suggestion`.
#[track_caller]
fn check(text: &str, needle: &str, fragment: &str, suggestion: Option<&str>) {
    let e = err(text);
    assert_eq!((e.line, e.column), loc(text, needle), "position of {e}");
    assert!(
        e.message.contains(fragment),
        "`{}` lacks `{fragment}`",
        e.message
    );
    assert_eq!(e.suggestion.as_deref(), suggestion, "suggestion of {e}");
}

fn names(loaded: &LoadedFile, pipeline: &str) -> Vec<String> {
    loaded
        .plan
        .pipeline(pipeline)
        .expect("pipeline")
        .schema()
        .names()
}

#[test]
fn full_file_lowers_with_file_order_schemas() {
    let loaded = load(FULL).unwrap_or_else(|e| panic!("{e}"));
    let pipelines: Vec<&str> = loaded
        .plan
        .pipelines
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        pipelines,
        [
            "tumbling",
            "sessions",
            "orders_users",
            "items",
            "busy_regions"
        ]
    );
    assert_eq!(
        loaded.input,
        Some(DefaultInput::File(PathBuf::from(
            "dataflows/window_counts.input.jsonl"
        )))
    );
    let events = loaded.plan.source("events").expect("source");
    assert_eq!(
        (events.view, events.max_out_of_orderness),
        (View::Events, 200)
    );
    assert_eq!(events.kinds, [EventKind::Insert, EventKind::Update]);
    assert!(events.admits(EventKind::Insert, "order_1") && !events.admits(EventKind::Insert, "x"));
    assert_eq!(
        loaded.plan.source("users").expect("source").view,
        View::Table
    );

    let tumbling = [
        "window_start",
        "window_end",
        "prefix",
        "total",
        "count",
        "biggest",
    ];
    assert_eq!(names(&loaded, "tumbling"), tumbling);
    let Node::Aggregate {
        window: Some(w),
        input,
        ..
    } = &loaded.plan.pipeline("tumbling").expect("p").node
    else {
        panic!("not a window aggregate");
    };
    assert_eq!(
        (w.kind, w.emission, w.allowed_lateness),
        (WindowKind::Tumbling { size: 1000 }, Emission::Final, 50)
    );
    assert_eq!(input.schema().names(), ["v", "prefix", "ts"]);

    assert_eq!(
        names(&loaded, "sessions"),
        ["window_start", "window_end", "who", "n"]
    );
    let Node::Aggregate {
        window: Some(w), ..
    } = &loaded.plan.pipeline("sessions").expect("p").node
    else {
        panic!("not a window aggregate");
    };
    assert_eq!(
        (w.kind, w.emission),
        (WindowKind::Session { gap: 500 }, Emission::Continuous)
    );

    assert_eq!(
        names(&loaded, "orders_users"),
        ["region", "orders", "items", "first_seen"]
    );
    let Node::Aggregate { aggs, input, .. } =
        &loaded.plan.pipeline("orders_users").expect("p").node
    else {
        panic!("not an aggregate");
    };
    let funcs: Vec<AggFunc> = aggs.iter().map(|a| a.func).collect();
    assert_eq!(
        funcs,
        [
            AggFunc::CountDistinct,
            AggFunc::Collect { limit: 10 },
            AggFunc::Min
        ]
    );
    assert!(matches!(
        **input,
        Node::Join {
            kind: JoinKind::LeftOuter,
            ..
        }
    ));

    let mut items = crate::schema::Schema::events().names();
    items.push("item".into());
    assert_eq!(names(&loaded, "items"), items);
    let busy = loaded.plan.pipeline("busy_regions").expect("p");
    assert!(busy.final_state && !loaded.plan.pipeline("tumbling").expect("p").final_state);
    assert_eq!(
        busy.schema().names(),
        ["region", "orders", "items", "first_seen"]
    );
}

#[test]
fn module_doc_example_loads() {
    let doc: String = include_str!("mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .skip_while(|l| l.trim() != "```toml")
        .skip(1)
        .take_while(|l| l.trim() != "```")
        .map(|l| format!("{}\n", l.strip_prefix(' ').unwrap_or(l)))
        .collect();
    let loaded = load(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    assert_eq!(
        names(&loaded, "tumbling"),
        ["window_start", "window_end", "prefix", "count", "sum"]
    );
    assert!(names(&loaded, "enriched").contains(&"users.value".to_string()));
}

#[test]
fn shipped_dataflows_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dataflows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_some_and(|e| e == "toml") {
            let loaded = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
            if let Some(DefaultInput::File(input)) = loaded.input {
                assert_eq!(input.parent(), Some(dir.as_path()), "{}", path.display());
            }
        }
    }
}

#[test]
fn generated_input_and_defaults() {
    let text = "[input]\ngenerate = \"zipf\"\nevents = 2000\nseed = 7\nkeys = 50\nskew = 2\n\n\
                [sources.s]\nview = \"events\"\n[[pipelines]]\nname = \"p\"\nfrom = \"s\"\n";
    let loaded = load(text).unwrap_or_else(|e| panic!("{e}"));
    let config = GenConfig {
        events: 2000,
        seed: 7,
        ..GenConfig::default()
    };
    let workload = Workload::Zipf {
        keys: 50,
        skew: 2.0,
    };
    assert_eq!(
        loaded.input,
        Some(DefaultInput::Generate { workload, config })
    );
    assert_eq!(names(&loaded, "p"), crate::schema::Schema::events().names());
}

const HEAD: &str = "[sources.events]\nview = \"events\"\n\n[sources.users]\nview = \"table\"\n\n";

fn with_head(rest: &str) -> String {
    format!("{HEAD}{rest}")
}

#[test]
fn unknown_field_in_a_filter_points_into_the_expression() {
    let text = with_head(
        "[[pipelines]]\nname = \"p\"\nfrom = \"events\"\nsteps = [{ filter = \"vlaue.amount > 10\" }]\n",
    );
    let e = err(&text);
    assert_eq!((e.line, e.column), (10, 22));
    assert_eq!(e.message, "unknown field `vlaue`");
    assert_eq!(e.suggestion.as_deref(), Some("value"));
    assert_eq!(
        e.to_string(),
        "test.toml:10:22: unknown field `vlaue` (did you mean `value`?)\n\
         steps = [{ filter = \"vlaue.amount > 10\" }]\n                     ^"
    );
    // The same on line 7, in a [[pipelines.steps]] table.
    let text = "[sources.events]\nview = \"events\"\n[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n[[pipelines.steps]]\nfilter = \"vlaue.amount > 10\"\n";
    let e = err(text);
    assert_eq!(
        (e.line, e.column, e.suggestion.as_deref()),
        (7, 11, Some("value"))
    );
}

#[test]
fn expression_positions_after_escapes_and_multibyte_chars() {
    let pipeline = "[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n";
    let text = with_head(&format!(
        "{pipeline}steps = [{{ filter = \"key = 'caf\\u00e9' AND vlaue.a > 1\" }}]\n"
    ));
    check(&text, "vlaue", "unknown field `vlaue`", Some("value"));
    let text = with_head(&format!(
        "{pipeline}steps = [{{ filter = \"key = 'ça→' AND vlaue.a > 1\" }}]\n"
    ));
    check(&text, "vlaue", "unknown field `vlaue`", Some("value"));
    let text = with_head(&format!(
        "{pipeline}steps = [{{ filter = \"\"\"\nkey = 'x'\n  AND vlaue.a > 1\"\"\" }}]\n"
    ));
    check(&text, "vlaue", "unknown field `vlaue`", Some("value"));
    let text = with_head(&format!(
        "{pipeline}steps = [{{ filter = 'ts > 1 AND vlaue.a > 1' }}]\n"
    ));
    check(&text, "vlaue", "unknown field `vlaue`", Some("value"));
}

fn pipe(steps: &str) -> String {
    with_head(&format!(
        "[[pipelines]]\nname = \"p\"\nfrom = \"events\"\n{steps}"
    ))
}

#[test]
fn unknown_keys_with_suggestions() {
    check(
        &format!("pipeline = 1\n{}", pipe("")),
        "pipeline =",
        "unknown key `pipeline` in the file",
        Some("pipelines"),
    );
    check(
        "[sources.e]\nveiw = \"events\"\n",
        "veiw",
        "unknown key `veiw` in source `e`",
        Some("view"),
    );
    let text = with_head("[[pipelines]]\nname = \"p\"\nform = \"events\"\n");
    check(
        &text,
        "form",
        "unknown key `form` in a pipeline",
        Some("from"),
    );
    check(
        &pipe("[[pipelines.steps]]\nfiltr = \"true\"\n"),
        "filtr",
        "unknown key `filtr` in a step",
        Some("filter"),
    );
    let window = "[[pipelines.steps]]\nwindow = { kind = \"tumbling\", sise = 10 }\naggregates = { n = \"count(*)\" }\n";
    check(
        &pipe(window),
        "sise",
        "unknown key `sise` in a window",
        Some("size"),
    );
    let text = format!("[input]\ngenerate = \"uniform\"\nseeed = 1\n{}", pipe(""));
    check(
        &text,
        "seeed",
        "unknown key `seeed` in [input]",
        Some("seed"),
    );
}

#[test]
fn wrong_value_types() {
    let agg = "aggregates = { n = \"count(*)\" }\n";
    for size in ["\"1000\"", "0", "-5", "1.5"] {
        let text = pipe(&format!(
            "[[pipelines.steps]]\nwindow = {{ kind = \"tumbling\", size = {size} }}\n{agg}"
        ));
        check(
            &text,
            &format!("{size} }}"),
            "`size` must be a positive integer (milliseconds)",
            None,
        );
    }
    check(
        &pipe("final_state = \"yes\"\n"),
        "\"yes\"",
        "`final_state` must be true or false",
        None,
    );
    check(
        &pipe("[[pipelines.steps]]\nfilter = 3\n"),
        "3",
        "`filter` must be a string",
        None,
    );
    check(
        &pipe("[[pipelines.steps]]\nmap = { a = 1 }\n"),
        "1 }",
        "`map` entry `a` must be a string",
        None,
    );
    check(
        &pipe("[[pipelines.steps]]\nmap = \"key\"\n"),
        "\"key\"",
        "`map` must be a table",
        None,
    );
    check(
        "[sources.s]\nview = \"events\"\nkinds = [1]\n",
        "1]",
        "`kinds` must be an array of strings",
        None,
    );
    check(
        "[sources.s]\nview = \"events\"\nmax_out_of_orderness = -1\n",
        "-1",
        "non-negative integer",
        None,
    );
    let text = "sources = 1\n[[pipelines]]\nname = \"p\"\nfrom = \"s\"\n";
    check(text, "sources", "`sources` must be a table", None);
    let store = |table: &str| format!("{table}\n{}", pipe(""));
    check(&store("store = 1"), "1", "`store` must be a table", None);
    check(
        &store("[store]\nappend_only = \"^bid_\""),
        "append_only",
        "unknown key `append_only`",
        None,
    );
    check(
        &store("[store]\nappend_only_keys = \"(\""),
        "(\"",
        "bad key regex",
        None,
    );
    check(
        &store("[store]\nappend_only_keys = \"\""),
        "\"\n",
        "must not be empty",
        None,
    );
    check(
        &pipe("steps = { filter = \"true\" }\n"),
        "steps",
        "`steps` must be an array of tables",
        None,
    );
    check(
        &pipe("steps = [\"x\"]\n"),
        "\"x\"",
        "`steps` must be an array of tables",
        None,
    );
}

#[test]
fn unknown_names_with_suggestions() {
    check(
        "[sources.s]\nview = \"evnts\"\n",
        "evnts",
        "unknown view `evnts`",
        Some("events"),
    );
    check(
        "[sources.s]\nview = \"events\"\nkinds = [\"insert\", \"updte\"]\n",
        "updte",
        "unknown event kind",
        Some("update"),
    );
    let agg = "aggregates = { n = \"count(*)\" }\n";
    let win = |w: &str| pipe(&format!("[[pipelines.steps]]\nwindow = {w}\n{agg}"));
    check(
        &win("{ kind = \"tumbing\", size = 5 }"),
        "tumbing",
        "unknown window kind `tumbing`",
        Some("tumbling"),
    );
    check(
        &win("{ kind = \"tumbling\", size = 5, emit = \"finl\" }"),
        "finl",
        "unknown emit `finl`",
        Some("final"),
    );
    let join = "[[pipelines.steps]]\njoin = \"users\"\nleft_on = [\"key\"]\nright_on = [\"key\"]\nkind = \"lft\"\n";
    check(&pipe(join), "lft", "unknown join kind `lft`", Some("left"));
    check(
        &pipe("[[pipelines.steps]]\naggregates = { n = \"summ(ts)\" }\n"),
        "summ",
        "unknown aggregate function `summ`",
        Some("sum"),
    );
    let text = format!("[input]\ngenerate = \"users-order\"\n{}", pipe(""));
    check(
        &text,
        "users-order\"",
        "unknown workload `users-order`",
        Some("users-orders"),
    );
    let text = format!("[input]\ngenerate = \"nexmark\"\nkeys = 5\n{}", pipe(""));
    check(
        &text,
        "keys",
        "`keys` applies only to uniform, zipf and keyed-stream",
        None,
    );
    let join = "[[pipelines.steps]]\njoin = \"usrs\"\nleft_on = \"key\"\nright_on = \"key\"\n";
    check(
        &pipe(join),
        "usrs",
        "no source or earlier pipeline is called `usrs`",
        Some("users"),
    );
}

#[test]
fn windows_and_aggregates() {
    let agg = "aggregates = { n = \"count(*)\" }\n";
    let win = |w: &str| pipe(&format!("[[pipelines.steps]]\nwindow = {w}\n{agg}"));
    check(
        &win("{ kind = \"tumbling\" }"),
        "{ kind",
        "a tumbling window needs `size`",
        None,
    );
    check(
        &win("{ kind = \"sliding\", size = 10 }"),
        "{ kind",
        "a sliding window needs `slide`",
        None,
    );
    check(
        &win("{ kind = \"session\", size = 10 }"),
        "size",
        "a session window has no `size`",
        None,
    );
    check(
        &win("{ size = 10 }"),
        "{ size",
        "a window needs a `kind`",
        None,
    );
    let step = |aggs: &str| {
        pipe(&format!(
            "[[pipelines.steps]]\naggregates = {{ n = \"{aggs}\" }}\n"
        ))
    };
    check(&step("sum("), "sum(", "malformed aggregate `sum(`", None);
    check(
        &step("count(key, seq)"),
        "seq",
        "count takes one argument",
        None,
    );
    check(&step("avg()"), ")\"", "avg needs an argument", None);
    check(&step("count()"), ")\"", "count needs an argument", None);
    check(&step("sum(*)"), "*", "only count takes `*`", None);
    check(
        &step("collect(key, 0)"),
        "0)",
        "the limit of collect must be a positive integer",
        None,
    );
    check(
        &step("sum(key)"),
        "key)",
        "sum needs a number, got string",
        None,
    );
    check(
        &step("max(vlue)"),
        "vlue",
        "unknown field `vlue`",
        Some("value"),
    );
    let text = pipe(
        "[[pipelines.steps]]\ngroup_by = [\"key\"]\naggregates = { n = \"count(*)\", key = \"max(ts)\" }\n",
    );
    check(&text, "key = ", "output field `key` appears twice", None);
    let text = pipe(
        "[[pipelines.steps]]\ngroup_by = [\"lower(key)\"]\naggregates = { n = \"count(*)\" }\n",
    );
    check(&text, "lower(", "is not a field name or path", None);
    let text = pipe(
        "[[pipelines.steps]]\nmap = { k = \"key\" }\n[[pipelines.steps]]\nwindow = { kind = \"tumbling\", size = 5 }\naggregates = { n = \"count(*)\" }\n",
    );
    check(
        &text,
        "window",
        "a window needs the event time field `ts`",
        None,
    );
}

#[test]
fn step_structure() {
    let text = pipe(
        "[[pipelines.steps]]\nfilter = \"true\"\nwindow = { kind = \"tumbling\", size = 5 }\n",
    );
    check(
        &text,
        "window",
        "`window` goes with `aggregates` or alone",
        None,
    );
    check(
        &pipe("[[pipelines.steps]]\ngroup_by = [\"key\"]\n"),
        "group_by",
        "`group_by` needs `aggregates`",
        None,
    );
    check(
        &pipe("steps = [{ filter = \"true\", map = { k = \"key\" } }]\n"),
        "map",
        "`filter` and `map` in one step",
        None,
    );
    check(&pipe("steps = [{}]\n"), "{}", "a step needs one of", None);
    check(
        &pipe("steps = [{ filter = \"true\", left_on = \"key\" }]\n"),
        "left_on",
        "`left_on` applies only to a join step",
        None,
    );
    check(
        &pipe("steps = [{ join = \"users\", left_on = \"key\" }]\n"),
        "join",
        "a join needs `right_on`",
        None,
    );
    check(
        &pipe("steps = [{ flat_map = { a = \"value\", b = \"old\" } }]\n"),
        "{ a",
        "`flat_map` needs exactly one entry",
        None,
    );
    check(
        &pipe("steps = [{ filter = \"key\" }]\n"),
        "key\"",
        "a filter needs a boolean, got string",
        None,
    );
    let join = "steps = [{ join = \"events\", left_on = \"key\", right_on = \"key\" }]\n";
    check(&pipe(join), "events\", left", "append-only", None);
    let join = "steps = [{ join = \"users\", left_on = [\"key\", \"ts\"], right_on = \"key\" }]\n";
    check(
        &pipe(join),
        "right_on",
        "`right_on` needs 2 key expression(s)",
        None,
    );
    let join = "steps = [{ join = \"users\", left_on = [], right_on = [] }]\n";
    check(
        &pipe(join),
        "left_on",
        "`left_on` needs 1 key expression(s)",
        None,
    );
}

#[test]
fn interval_and_window_join_steps() {
    let interval = |rest: &str| {
        pipe(&format!(
            "steps = [{{ interval_join = \"other\", left_on = \"key\", right_on = \"key\"{rest} }}]\n[sources.other]\nview = \"events\"\n"
        ))
    };
    check(
        &interval(""),
        "interval_join",
        "needs `between = [lower, upper]`",
        None,
    );
    check(
        &interval(", between = [10, 5]"),
        "[10, 5]",
        "lower <= upper",
        None,
    );
    check(
        &interval(", between = \"x\""),
        "\"x\"",
        "`between` must be [lower, upper]",
        None,
    );
    let text = pipe(
        "steps = [{ interval_join = \"users\", left_on = \"key\", right_on = \"key\", between = [0, 1] }]\n",
    );
    check(
        &text,
        "users\", left",
        "`users` is not an event stream",
        None,
    );
    let text = pipe("steps = [{ filter = \"true\", between = [0, 1] }]\n");
    check(
        &text,
        "between",
        "`between` applies only to an `interval_join`",
        None,
    );
    let text = pipe("steps = [{ window_join = \"users\", left_on = \"key\" }]\n");
    check(
        &text,
        "left_on",
        "`right_on` needs 1 key expression(s)",
        None,
    );
    let text = pipe(
        "steps = [{ window = { kind = \"tumbling\", size = 5 } }, { window_join = \"users\" }]\n",
    );
    check(
        &text,
        "users\" }",
        "`users` has no field `window_start`",
        None,
    );
    let text = pipe("steps = [{ window = { kind = \"session\", gap = 5 } }]\n");
    check(&text, "window", "session windows need an aggregate", None);
    let text = pipe("steps = [{ window = { kind = \"tumbling\", size = 5, emit = \"final\" } }]\n");
    check(
        &text,
        "final\"",
        "`emit` applies to a windowed aggregate",
        None,
    );
}

#[test]
fn pipelines_sources_and_files() {
    check(
        &with_head("[[pipelines]]\nfrom = \"events\"\n"),
        "[[pipelines]]",
        "a pipeline needs a `name`",
        None,
    );
    check(
        &with_head("[[pipelines]]\nname = \"p\"\n"),
        "[[pipelines]]",
        "pipeline `p` needs `from`",
        None,
    );
    for empty in ["", "# nothing\n", HEAD] {
        let e = err(empty);
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.starts_with("no pipelines"), "{e}");
    }
    check(
        &format!("pipelines = []\n{HEAD}"),
        "pipelines",
        "no pipelines",
        None,
    );
    check(
        "[sources.s]\nkinds = []\n",
        "[sources.s]",
        "source `s` needs a `view`",
        None,
    );
    check(
        "[sources.s]\nview = \"table\"\nkinds = [\"insert\"]\n",
        "kinds",
        "a table view has no event kinds",
        None,
    );
    check(
        &format!(
            "[sources.s]\nview = \"events\"\nkey_regex = \"(a\"\n{}",
            pipe("")
        ),
        "(a",
        "bad key regex",
        None,
    );
    let text = format!(
        "{}[[pipelines]]\nname = \"events\"\nfrom = \"users\"\n",
        pipe("")
    );
    check(
        &text,
        "events\"\nfrom = \"users",
        "`events` is defined twice",
        None,
    );
    let text = format!("[input]\nfile = \"a\"\nevents = 5\n{}", pipe(""));
    check(
        &text,
        "events = 5",
        "`events` applies only with `generate`",
        None,
    );
    check(
        &format!("[input]\nseed = 5\n{}", pipe("")),
        "[input]",
        "[input] needs `file` or `generate`",
        None,
    );
}

#[test]
fn toml_syntax_errors_keep_their_position() {
    let text = with_head("[[pipelines]]\nname = orders\n");
    check(
        &text,
        "orders",
        "invalid TOML: string values must be quoted",
        None,
    );
    let text = "[sources.s]\nview = \"events\"\nview = \"table\"\n";
    let e = err(text);
    assert_eq!((e.line, e.column), (3, 1), "{e}");
    assert!(e.message.contains("duplicate key"), "{e}");
    let e = err("a = \"é\n");
    assert_eq!(e.line, 1, "{e}");
}

#[test]
fn unreadable_file_is_an_error_at_1_1() {
    let e = match load_file(Path::new("/nonexistent/dir/flow.toml")) {
        Ok(_) => panic!("loaded a missing file"),
        Err(e) => e,
    };
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("/nonexistent/dir/flow.toml", 1, 1)
    );
    assert!(e.message.starts_with("cannot read the file"), "{e}");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn line_col_mapping_never_panics() {
    let text = "ab\nçé→x\n";
    assert_eq!(offset_to_line_col(text, 0), (1, 1));
    assert_eq!(offset_to_line_col(text, 2), (1, 3));
    assert_eq!(offset_to_line_col(text, 3), (2, 1));
    assert_eq!(offset_to_line_col(text, 4), (2, 1)); // inside `ç`
    assert_eq!(offset_to_line_col(text, 5), (2, 2));
    assert_eq!(offset_to_line_col(text, 7), (2, 3));
    assert_eq!(offset_to_line_col(text, 8), (2, 3)); // inside `→`
    assert_eq!(offset_to_line_col(text, text.len()), (3, 1));
    assert_eq!(offset_to_line_col(text, usize::MAX), (3, 1));
    assert_eq!(offset_to_line_col("", 5), (1, 1));
}

/// xorshift64*: a tiny deterministic PRNG for the mutation test.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_files_never_panic() {
    let alphabet: Vec<char> = "\"'[]{}=,.\n#\\ é→0(*)_azk".chars().collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..3000 {
        let mut chars: Vec<char> = FULL.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(chars.len() + 1);
            match rng.below(5) {
                0 if i < chars.len() => {
                    chars.remove(i);
                }
                1 => chars.insert(i, alphabet[rng.below(alphabet.len())]),
                2 if i < chars.len() => {
                    let end = (i + 1 + rng.below(12)).min(chars.len());
                    let copy: Vec<char> = chars[i..end].to_vec();
                    chars.splice(i..i, copy);
                }
                3 => chars.truncate(i),
                _ => {
                    let j = rng.below(chars.len());
                    if let Some(c) = chars.get(j).copied() {
                        chars.insert(i.min(chars.len()), c);
                    }
                }
            }
        }
        let text: String = chars.into_iter().collect();
        match load(&text) {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                assert!(e.line >= 1 && e.column >= 1 && !e.to_string().is_empty());
            }
        }
    }
    assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
    // Raw byte mutations (made valid UTF-8 lossily), and offsets inside multibyte chars.
    for _ in 0..1000 {
        let mut bytes = FULL.as_bytes().to_vec();
        let i = rng.below(bytes.len());
        bytes[i] = (rng.next() & 0xFF) as u8;
        bytes.truncate(rng.below(bytes.len() + 1).max(i));
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = load(&text) {
            assert!(e.line >= 1 && e.column >= 1 && !e.to_string().is_empty());
        }
        let _ = offset_to_line_col(&text, rng.below(text.len() + 8));
    }
}

#[test]
fn top_n_distinct_union_and_filtered_aggregates() {
    let top = "steps = [{ top_n = 2, partition_by = \"key\", order_by = [\"ts DESC\", \"seq\"], rank = \"r\" }]\n";
    let loaded = load(&pipe(top)).unwrap_or_else(|e| panic!("{e}"));
    let p = loaded.plan.pipeline("p").expect("p");
    let Node::TopN {
        order_by, limit, ..
    } = &p.node
    else {
        panic!("a top-N: {:?}", p.node);
    };
    let order: Vec<(&str, bool)> = order_by
        .iter()
        .map(|o| (o.expr.text(), o.descending))
        .collect();
    assert_eq!((order, *limit), (vec![("ts", true), ("seq", false)], 2));
    assert_eq!(
        names(&loaded, "p"),
        ["key", "ts", "kind", "seq", "value", "old", "r"]
    );
    let dense = "steps = [{ top_n = 2, order_by = \"seq\", ranking = \"dense_rank\" }]\n";
    let loaded = load(&pipe(dense)).unwrap_or_else(|e| panic!("{e}"));
    let node = &loaded.plan.pipeline("p").expect("p").node;
    assert!(
        matches!(
            node,
            Node::TopN {
                ranking: crate::plan::Ranking::DenseRank,
                ..
            }
        ),
        "{node:?}"
    );
    check(
        &pipe("steps = [{ top_n = 2, order_by = \"seq\", ranking = \"dense_rnk\" }]\n"),
        "dense_rnk\"",
        "unknown ranking `dense_rnk`, expected one of: row_number, rank, dense_rank",
        Some("dense_rank"),
    );
    check(
        &pipe("steps = [{ filter = \"true\", ranking = \"rank\" }]\n"),
        "ranking",
        "`ranking` applies only to a `top_n` step",
        None,
    );
    check(
        &pipe("steps = [{ top_n = 2, partition_by = \"key\" }]\n"),
        "top_n",
        "a `top_n` step needs `order_by`",
        None,
    );
    check(
        &pipe("steps = [{ top_n = 0, order_by = \"ts\" }]\n"),
        "0,",
        "`top_n` must be a positive integer",
        None,
    );
    check(
        &pipe("steps = [{ filter = \"true\", partition_by = \"key\" }]\n"),
        "partition_by",
        "`partition_by` applies only to a `top_n` step",
        None,
    );
    check(
        &pipe("steps = [{ top_n = 1, order_by = \"tss\" }]\n"),
        "tss",
        "unknown field `tss`",
        Some("ts"),
    );
    check(
        &pipe("steps = [{ top_n = 1, order_by = \"ts\", rank = \"key\" }]\n"),
        "key\" }",
        "field `key` already exists",
        None,
    );
    check(
        &pipe("steps = [{ distinct = false }]\n"),
        "false",
        "`distinct` must be true",
        None,
    );
    check(
        &pipe("steps = [{ union = [] }]\n"),
        "[]",
        "`union` needs at least one",
        None,
    );
    check(
        &pipe("steps = [{ union = \"users\" }]\n"),
        "users\" }",
        "UNION ALL inputs need the same columns",
        None,
    );
    check(
        &pipe("steps = [{ aggregates = {} }]\n"),
        "{}",
        "needs at least one",
        None,
    );
    check(
        &pipe(
            "steps = [{ aggregates = { n = { aggregate = \"count(*)\", filter = \"key\" } } }]\n",
        ),
        "key\" }",
        "FILTER needs a boolean",
        None,
    );
    check(
        &pipe(
            "steps = [{ aggregates = { n = { aggregate = \"count(*)\", fliter = \"true\" } } }]\n",
        ),
        "fliter",
        "unknown key `fliter`",
        Some("filter"),
    );
    check(
        &pipe("steps = [{ aggregates = { n = { filter = \"true\" } } }]\n"),
        "{ filter",
        "needs `aggregate = ",
        None,
    );
    let grouped = "steps = [{ group_by = [\"key\"], aggregates = {} }]\n";
    let loaded = load(&pipe(grouped)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&loaded, "p"), ["key"]);
}
