//! `kvflow check` errors in `[[sync]]` and `[[alerts]]` sections point at line and column;
//! valid sections become typed configs.

use std::path::Path;

use super::{DataflowFileError, load_str};

const HEAD: &str = "[sources.t]\nview = \"table\"\n\n[[pipelines]]\nname = \"totals\"\nfrom = \"t\"\nsteps = [{ aggregates = { n = \"count(*)\" }, group_by = [\"value.user\"] }]\n";

fn err(sync: &str) -> DataflowFileError {
    let text = format!("{HEAD}{sync}");
    match load_str(&text, "f.toml", Path::new(".")) {
        Ok(_) => panic!("expected an error for:\n{sync}"),
        Err(e) => e,
    }
}

/// The error is at the first occurrence of `at` (line, column), with `message` in it.
fn check(sync: &str, at: &str, message: &str, suggestion: Option<&str>) {
    let text = format!("{HEAD}{sync}");
    let e = err(sync);
    let offset = text.find(at).expect("marker");
    let (line, column) = super::offset_to_line_col(&text, offset);
    assert!(e.message.contains(message), "{e}");
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert_eq!(e.suggestion.as_deref(), suggestion, "{e}");
}

const TARGET: &str = "target = { kind = \"redis\", url = \"redis://127.0.0.1/\" }\n";

#[test]
fn a_valid_sync_becomes_a_typed_config() {
    let text = format!(
        "{HEAD}[[sync]]\nname = \"s\"\nfrom = \"totals\"\n{TARGET}conflict = \"last-writer-wins\"\n"
    );
    let loaded = load_str(&text, "f.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let sync = &loaded.plan.sinks.sync[0];
    assert_eq!(sync.name, "s");
    match &sync.source {
        crate::plan::sinks::SyncSource::Pipeline { key_fields, .. } => {
            assert_eq!(key_fields, &vec![0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sync_errors_point_at_the_mistake() {
    check(
        &format!("[[sync]]\nname = \"s\"\nfrom = \"totls\"\n{TARGET}"),
        "totls",
        "no pipeline `totls`",
        Some("totals"),
    );
    check(
        &format!("[[sync]]\nname = \"s\"\nfrom = \"totals\"\n{TARGET}batch_sise = 3\n"),
        "batch_sise",
        "unknown field `batch_sise`",
        None,
    );
    check(
        &format!(
            "[[sync]]\nname = \"s\"\nfrom = \"totals\"\n{TARGET}conflict = \"last-writer-win\"\n"
        ),
        "last-writer-win\"",
        "unknown conflict policy",
        Some("last-writer-wins"),
    );
    check(
        "[[sync]]\nname = \"s\"\nfrom = \"totals\"\ntarget = { kind = \"redis\", url = \"redis://x/\", versions = false }\nconflict = \"target-wins\"\n",
        "redis\", url = \"redis://x/\", v",
        "keeps no versions",
        None,
    );
    check(
        "[[sync]]\nname = \"s\"\nfrom = \"totals\"\ntarget = { kind = \"postgres\", url = \"host=x\", table = \"a b\" }\n",
        "a b",
        "plain SQL name",
        None,
    );
    check(
        &format!("[[sync]]\nname = \"s\"\nfrom = \"totals\"\nkeys = [\"^u\"]\n{TARGET}"),
        "[\"^u\"]",
        "exclusive",
        None,
    );
    check(
        &format!("[[sync]]\nname = \"s\"\nfrom = \"totals\"\nkey = [\"usr\"]\n{TARGET}"),
        "usr",
        "no field `usr`",
        Some("user"),
    );
}

#[test]
fn alert_errors_point_at_the_mistake() {
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1 AND usr = 'x'\"\n",
        "usr = ",
        "usr",
        Some("user"),
    );
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\nmessage = \"{usr} has {n}\"\n",
        "usr}",
        "no field `usr`",
        Some("user"),
    );
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\nseverity = \"critcal\"\n",
        "critcal",
        "unknown severity",
        Some("critical"),
    );
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\ndeliver = [{ kind = \"webhook\", url = \"ftp://x/\" }]\n",
        "ftp",
        "http:// or https://",
        None,
    );
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\ndeliver = [{ kind = \"webhook\", url = \"http://x/\", ca_file = \"ca.pem\" }]\n",
        "ca.pem",
        "needs an https://",
        None,
    );
    check(
        "[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\ndeliver = [{ kind = \"webhook\", url = \"http://x/\", queue = 0 }]\n",
        "0 }",
        "`queue` must be positive",
        None,
    );
}

/// The webhooks of `deliver` (a TOML array's items) on an alert over `totals`.
fn webhooks(deliver: &str) -> Vec<crate::plan::sinks::WebhookConfig> {
    let text = format!(
        "{HEAD}[[alerts]]\nname = \"a\"\nfrom = \"totals\"\ncondition = \"n > 1\"\ndeliver = [{deliver}]\n"
    );
    let loaded = load_str(&text, "f.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    loaded.plan.sinks.alerts[0].webhooks().cloned().collect()
}

#[test]
fn webhook_options_become_a_typed_config_with_defaults() {
    use crate::plan::sinks::WebhookConfig;
    use std::time::Duration;
    let hooks = webhooks(
        "{ kind = \"webhook\", url = \"http://a/\" }, { kind = \"log\" }, \
         { kind = \"webhook\", url = \"http://b/\", timeout_ms = 250, max_retries = 7, \
         retry_delay_ms = 10, retry_cap_ms = 80, queue = 16 }",
    );
    let defaults = &hooks[0];
    assert_eq!(defaults.timeout, WebhookConfig::DEFAULT_TIMEOUT);
    assert_eq!(defaults.retry, WebhookConfig::DEFAULT_RETRY);
    assert_eq!(defaults.queue, WebhookConfig::DEFAULT_QUEUE);
    assert_eq!(defaults.batch().size, WebhookConfig::BATCH);
    let set = &hooks[1];
    assert_eq!(set.url, "http://b/");
    assert_eq!(set.timeout, Duration::from_millis(250));
    assert_eq!(set.retry.max_retries, 7);
    assert_eq!(set.retry.delay, Duration::from_millis(10));
    assert_eq!(set.retry.cap, Duration::from_millis(80));
    assert_eq!((set.queue, set.batch().size), (16, 16));
    // `retries`, the older name of `max_retries`, is still read.
    let old = webhooks("{ kind = \"webhook\", url = \"http://a/\", retries = 2 }");
    assert_eq!(old[0].retry.max_retries, 2);
}

#[test]
fn names_that_become_file_names_are_checked_where_they_are_written() {
    for name in ["../../x", "/tmp/x", "a.b", "a b", ".."] {
        check(
            &format!("[[alerts]]\nname = \"{name}\"\nfrom = \"totals\"\ncondition = \"n > 1\"\n"),
            &format!("{name}\"\nfrom"),
            &format!("`{name}` is not a valid name (letters, digits, `_`, `-`)"),
            None,
        );
        check(
            &format!("[[sync]]\nname = \"{name}\"\nfrom = \"totals\"\n{TARGET}"),
            &format!("{name}\"\nfrom"),
            "is not a valid name",
            None,
        );
    }
    let handler = "kind = \"each\"\n\n[[routes]]\nname = \"r\"\nhandlers = [\"h\"]\n";
    check(
        &format!("[routing.handlers.\"../x\"]\n{handler}"),
        "../x\"]",
        "`../x` is not a valid name",
        None,
    );
    check(
        &format!("[routing.handlers.'/tmp/x']\n{handler}"),
        "/tmp/x']",
        "`/tmp/x` is not a valid name",
        None,
    );
    check(
        "[routing]\nhandlers = { \"a/b\" = { kind = \"each\" } }\n",
        "a/b",
        "`a/b` is not a valid name",
        None,
    );
}

/// A file with its own source, pipeline and alert over that pipeline.
fn alert_file(tag: &str) -> String {
    format!(
        "[sources.s_{tag}]\nview = \"table\"\n\n[[pipelines]]\nname = \"p_{tag}\"\nfrom = \
         \"s_{tag}\"\nsteps = [{{ aggregates = {{ n = \"count(*)\" }}, group_by = \
         [\"value.user\"] }}]\n\n[[alerts]]\nname = \"a_{tag}\"\nfrom = \"p_{tag}\"\ncondition \
         = \"n > 1\"\nmessage = \"{{n}}\"\n"
    )
}

#[test]
fn merged_plans_keep_each_sink_on_its_own_files_pipeline() {
    let load = |tag: &str| {
        load_str(&alert_file(tag), "f.toml", Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"))
            .plan
    };
    let mut plan = load("a");
    plan.merge(load("b")).expect("no clash");
    let names: Vec<&str> = plan.pipelines.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["p_a", "p_b"]);
    let reads: Vec<(&str, &str)> = plan
        .sinks
        .alerts
        .iter()
        .map(|a| (a.name.as_str(), a.pipeline.as_str()))
        .collect();
    assert_eq!(reads, [("a_a", "p_a"), ("a_b", "p_b")]);
    let clash = plan.merge(load("a")).expect_err("a clash");
    assert_eq!(clash, "source `s_a` is defined twice");
    assert_eq!(plan.sources.len(), 2, "a refused merge changes nothing");
}

#[test]
fn explain_shows_the_sinks_and_what_they_read() {
    let text = format!("{HEAD}[[sync]]\nname = \"s\"\nfrom = \"totals\"\n{TARGET}");
    let plan = load_str(&text, "f.toml", Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"))
        .plan;
    let text = crate::plan::explain::explain_text(&plan);
    assert!(
        text.contains("\nsync s <- pipeline totals key [user]\n  to redis redis://127.0.0.1/"),
        "{text}"
    );
    let mermaid = crate::plan::explain::explain_mermaid(&plan);
    assert!(mermaid.contains("  out_totals --> sync_s[["), "{mermaid}");
}
