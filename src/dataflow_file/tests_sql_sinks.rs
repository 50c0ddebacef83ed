//! `CREATE SINK` in SQL files: each becomes the config its TOML section becomes, and every
//! mistake is reported at the line and column of the SQL statement (see `sql_sinks.rs`).

use std::path::Path;

use super::{DataflowFileError, load_sql_str, load_str};

const HEAD: &str = "CREATE SOURCE t FROM table WITH (key_regex = '^u_');
CREATE SOURCE e FROM events;
INSERT INTO totals SELECT value.user AS user, count(*) AS n FROM t GROUP BY value.user;
";

fn err(sinks: &str) -> DataflowFileError {
    let text = format!("{HEAD}{sinks}");
    match load_sql_str(&text, "f.sql", Path::new(".")) {
        Ok(_) => panic!("expected an error for:\n{sinks}"),
        Err(e) => e,
    }
}

/// The error is at the first occurrence of `at` after the head (line, column), with
/// `message` in it.
fn check(sinks: &str, at: &str, message: &str, suggestion: Option<&str>) {
    let text = format!("{HEAD}{sinks}");
    let e = err(sinks);
    let offset = HEAD.len() + sinks.find(at).expect("marker");
    let (line, column) = super::offset_to_line_col(&text, offset);
    assert!(e.message.contains(message), "{e}");
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert_eq!(e.suggestion.as_deref(), suggestion, "{e}");
}

const REDIS: &str = "connector = 'redis', url = 'redis://127.0.0.1/'";

#[test]
fn sql_sinks_become_the_configs_of_their_toml_sections() {
    let sql = format!(
        "{HEAD}CREATE SINK s FROM totals WITH ({REDIS}, prefix = 'p:', batch_size = 7,
           standby.connector = 'redis', standby.url = 'redis://127.0.0.1:6380/', key = 'user');
         CREATE SINK live FROM t WITH (connector = 'postgres', url = 'host=h', table = 'live',
           conflict = 'last-writer-wins', retry_delay_ms = INTERVAL '2' SECOND);
         CREATE SINK big FROM totals WITH (connector = 'alert', condition = 'n > 2',
           message = '{{user}}: {{n}}', group_by = 'user', cooldown_ms = 500,
           deliver = 'log, webhook', webhook.url = 'http://127.0.0.1:9/', webhook.queue = 3);"
    );
    let toml = r#"
[sources.t]
view = "table"
key_regex = "^u_"
[sources.e]
view = "events"
[[pipelines]]
name = "totals"
from = "t"
steps = [{ aggregates = { n = "count(*)" }, group_by = { user = "value.user" } }]
[[sync]]
name = "s"
from = "totals"
target = { kind = "redis", url = "redis://127.0.0.1/", prefix = "p:" }
batch_size = 7
standby = { kind = "redis", url = "redis://127.0.0.1:6380/" }
key = ["user"]
[[sync]]
name = "live"
keys = ["^u_"]
target = { kind = "postgres", url = "host=h", table = "live" }
conflict = "last-writer-wins"
retry_delay_ms = 2000
[[alerts]]
name = "big"
from = "totals"
condition = "n > 2"
message = "{user}: {n}"
group_by = ["user"]
cooldown_ms = 500
deliver = [{ kind = "log" }, { kind = "webhook", url = "http://127.0.0.1:9/", queue = 3 }]
"#;
    let sql = load_sql_str(&sql, "f.sql", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let toml = load_str(toml, "f.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let (sql, toml) = (&sql.plan.sinks, &toml.plan.sinks);
    assert_eq!(sql.sync.len(), 2);
    assert_eq!(format!("{:?}", sql.sync), format!("{:?}", toml.sync));
    assert_eq!(sql.alerts.len(), 1);
    assert_eq!(format!("{:?}", sql.alerts), format!("{:?}", toml.alerts));
}

#[test]
fn handlers_and_routes_become_a_route_table() {
    let sql = format!(
        "{HEAD}SET routing.counts_window_ms = 2000;
         CREATE SINK h WITH (connector = 'handler', kind = 'batch', size = 3);
         CREATE SINK r WITH (connector = 'route', kinds = 'insert, delete', key_regex = '^u_',
           priority = 4, handlers = 'h');"
    );
    let toml = r#"
[sources.t]
view = "table"
[[pipelines]]
name = "totals"
from = "t"
steps = [{ aggregates = { n = "count(*)" }, group_by = ["value.user"] }]
[routing]
counts_window_ms = 2000
[routing.handlers.h]
kind = "batch"
size = 3
[[routes]]
name = "r"
kinds = ["insert", "delete"]
key_regex = "^u_"
priority = 4
handlers = ["h"]
"#;
    let sql = load_sql_str(&sql, "f.sql", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let toml = load_str(toml, "f.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let (sql, toml) = (sql.plan.sinks.routes, toml.plan.sinks.routes);
    assert!(sql.is_some());
    assert_eq!(format!("{sql:?}"), format!("{toml:?}"));
}

#[test]
fn a_file_of_sinks_alone_loads() {
    let text = "CREATE SINK h WITH (connector = 'handler', kind = 'each');
                CREATE SINK all_changes WITH (connector = 'route', handlers = 'h');";
    let loaded = load_sql_str(text, "f.sql", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.plan.pipelines.is_empty());
    assert!(loaded.plan.sinks.routes.is_some());
}

#[test]
fn sink_statement_errors_point_at_the_mistake() {
    check(
        "CREATE SINK s FROM totals WITH (connector = 'reddis', url = 'x');",
        "reddis",
        "unknown connector `reddis`",
        Some("redis"),
    );
    check(
        &format!("CREATE SINK s FROM totals WITH ({REDIS}, batch_sise = 3);"),
        "batch_sise",
        "unknown option `batch_sise`",
        Some("batch_size"),
    );
    check(
        "CREATE SINK s FROM totals WITH (url = 'x');",
        "CREATE SINK",
        "needs `connector",
        None,
    );
    check(
        &format!("CREATE SINK s WITH ({REDIS});"),
        "s WITH",
        "needs FROM",
        None,
    );
    check(
        &format!("CREATE SINK s FROM totls WITH ({REDIS});"),
        "totls",
        "no pipeline `totls`",
        Some("totals"),
    );
    check(
        &format!("CREATE SINK s FROM e WITH ({REDIS});"),
        "e WITH",
        "is an events source",
        None,
    );
    check(
        "CREATE SINK s FROM WITH (connector = 'route');",
        "WITH (connector = 'route')",
        "expected the pipeline, view or source the sink reads, after FROM",
        None,
    );
    check(
        "CREATE SINK h FROM e WITH (connector = 'handler', kind = 'each');",
        "e WITH",
        "takes no FROM",
        None,
    );
    check(
        &format!("CREATE SINK s FROM totals WITH ({REDIS}, batch_size = 'many');"),
        "'many'",
        "invalid type",
        None,
    );
    check(
        &format!("CREATE SINK s FROM totals WITH ({REDIS}, key = 'usr');"),
        "usr",
        "no field `usr`",
        Some("user"),
    );
    check(
        &format!("CREATE SINK s FROM totals WITH ({REDIS}, key = 3);"),
        "3)",
        "takes a string",
        None,
    );
}

#[test]
fn alert_and_route_errors_point_inside_their_strings() {
    check(
        "CREATE SINK a FROM totals WITH (connector = 'alert', condition = 'usr = ''x''');",
        "usr",
        "unknown field `usr`",
        Some("user"),
    );
    check(
        "CREATE SINK a FROM totals WITH (connector = 'alert', condition = 'n > 2',
           deliver = 'log, pigeon');",
        "pigeon",
        "pigeon",
        None,
    );
    check(
        "CREATE SINK h WITH (connector = 'handler', kind = 'each');
         CREATE SINK r WITH (connector = 'route', handlers = 'h, g');",
        "g')",
        "`g`",
        None,
    );
    check(
        "CREATE SINK h WITH (connector = 'handler', kind = 'conditional', condition = 'valu.x > 1');",
        "valu",
        "`valu`",
        Some("value"),
    );
    check(
        "SET routing.count_window_ms = 3;",
        "count_window_ms",
        "unknown routing setting",
        Some("counts_window_ms"),
    );
    check(
        "CREATE SINK a FROM totals WITH (connector = 'alert', condition = 'n > 2');
         CREATE SINK a FROM totals WITH (connector = 'alert', condition = 'n > 3');",
        "a FROM totals WITH (connector = 'alert', condition = 'n > 3'",
        "two alerts named `a`",
        None,
    );
}
