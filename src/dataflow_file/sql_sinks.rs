//! An SQL file's `CREATE SINK` statements and `SET routing.*` (see `crate::sql::sinks`),
//! written as the TOML sections they stand for and read by the same code as a TOML file's
//! (`outputs::read`).
//!
//! Every value written into that text keeps the offset of its origin in the SQL file, so an
//! error the TOML reader reports (a wrong type, an unknown pipeline, a bad expression inside a
//! condition) is moved back to the SQL statement: to the same character inside a string, to
//! the value or the key otherwise.

use std::path::Path;

use super::error::Fail;
use crate::plan::View;
use crate::plan::lower::SourceSpec;
use crate::plan::sinks::SinkDefs;
use crate::plan::{Plan, lower::Text};
use crate::sql::sinks::{Connector, SinkOption, SinkStatement, SinkValue, TARGET_KEYS};
use crate::sql::{SettingScope, SettingValue, SqlFile};

/// The sinks of `file`, checked against `plan` as a TOML file's sections are.
pub(super) fn read(file: &SqlFile, plan: &Plan, base_dir: &Path) -> Result<SinkDefs, Fail> {
    let mut toml = Toml::default();
    for sink in file
        .sinks
        .iter()
        .filter(|s| matches!(s.connector, Connector::Sync(_)))
    {
        sync(&mut toml, sink, plan, &file.sources)?;
    }
    for sink in file
        .sinks
        .iter()
        .filter(|s| s.connector == Connector::Alert)
    {
        alert(&mut toml, sink);
    }
    routing(&mut toml, file)?;
    for sink in file
        .sinks
        .iter()
        .filter(|s| s.connector == Connector::Route)
    {
        toml.header("[[routes]]", sink.at);
        toml.text_pair("name", &sink.name, sink.at);
        plain_options(&mut toml, &sink.options);
    }
    super::outputs::read(&toml.text, plan, base_dir).map_err(|fail| Fail {
        offset: toml.file_offset(fail.offset),
        ..fail
    })
}

/// `[[sync]]`: the name, what it reads, the target, then the other options as they are.
fn sync(
    toml: &mut Toml,
    sink: &SinkStatement,
    plan: &Plan,
    sources: &[SourceSpec],
) -> Result<(), Fail> {
    toml.header("[[sync]]", sink.at);
    toml.text_pair("name", &sink.name, sink.at);
    if let Some(from) = &sink.from {
        sync_from(toml, from, plan, sources, sink.at)?;
    }
    let Connector::Sync(kind) = sink.connector else {
        return Ok(());
    };
    toml.pair("target.kind", sink.connector_at, &quoted(kind), None);
    for option in &sink.options {
        match option.key.strip_prefix("standby.") {
            Some("connector") => toml.option("standby.kind", option),
            Some(key) => toml.option(&format!("standby.{key}"), option),
            None if TARGET_KEYS.contains(&option.key.as_str()) => {
                toml.option(&format!("target.{}", option.key), option)
            }
            None => toml.option(&option.key, option),
        }
    }
    Ok(())
}

/// A sync reads a pipeline (`from`) or the live keys of a table source (`keys`).
fn sync_from(
    toml: &mut Toml,
    from: &Text,
    plan: &Plan,
    sources: &[SourceSpec],
    at: usize,
) -> Result<(), Fail> {
    let from_at = from.origin.offset.unwrap_or(at);
    if plan.pipelines.iter().any(|p| p.name == from.text) {
        toml.text_pair("from", from, at);
        return Ok(());
    }
    match sources.iter().find(|s| s.name.text == from.text) {
        Some(source) if source.view == View::Table => {
            let regex = source.key_regex.as_ref().map_or("", |r| r.text.as_str());
            toml.pair("keys", from_at, &format!("[{}]", quoted(regex)), None);
            Ok(())
        }
        Some(_) => Err(Fail::at(
            from_at,
            format!(
                "`{}` is an events source: a sync reads a pipeline, a view or a table source \
                 (FROM table)",
                from.text
            ),
        )),
        // The reader names the pipelines there are.
        None => {
            toml.text_pair("from", from, at);
            Ok(())
        }
    }
}

/// `[[alerts]]`, with one `[[alerts.deliver]]` per delivery (`webhook.*` fill the webhook's).
fn alert(toml: &mut Toml, sink: &SinkStatement) {
    toml.header("[[alerts]]", sink.at);
    toml.text_pair("name", &sink.name, sink.at);
    if let Some(from) = &sink.from {
        toml.text_pair("from", from, sink.at);
    }
    let (webhook, own): (Vec<&SinkOption>, Vec<&SinkOption>) = sink
        .options
        .iter()
        .partition(|o| o.key.starts_with("webhook."));
    let deliver = own.iter().find(|o| o.key == "deliver");
    for option in own.iter().filter(|o| o.key != "deliver") {
        toml.option(&option.key, option);
    }
    let Some(deliver) = deliver else {
        return;
    };
    let SinkValue::List(kinds) = &deliver.value else {
        return;
    };
    for (kind, kind_at) in kinds {
        toml.header("[[alerts.deliver]]", deliver.key_at);
        toml.pair("kind", *kind_at - 1, &quoted(kind), Some(kind.len()));
        if kind == "webhook" {
            for option in &webhook {
                toml.option(&option.key["webhook.".len()..], option);
            }
        }
    }
}

/// `[routing]` from `SET routing.*`, then a `[routing.handlers.<name>]` per handler sink.
fn routing(toml: &mut Toml, file: &SqlFile) -> Result<(), Fail> {
    let settings: Vec<_> = file
        .settings
        .iter()
        .filter(|s| s.scope == SettingScope::Routing)
        .collect();
    if !settings.is_empty() {
        toml.header("[routing]", settings[0].key_at);
    }
    for setting in settings {
        if setting.key != "counts_window_ms" {
            return Err(Fail::at(
                setting.key_at,
                format!(
                    "unknown routing setting `{}`, expected: counts_window_ms",
                    setting.key
                ),
            )
            .suggest(crate::expr::suggest(&setting.key, &["counts_window_ms"])));
        }
        let value = match &setting.value {
            SettingValue::Str(s) => quoted(s),
            SettingValue::Int(n) => n.to_string(),
            SettingValue::Float(f) => format!("{f:?}"),
        };
        toml.pair(&setting.key, setting.value_at, &value, None);
    }
    for sink in file
        .sinks
        .iter()
        .filter(|s| s.connector == Connector::Handler)
    {
        let header = format!("[routing.handlers.{}]", quoted(&sink.name.text));
        toml.header(&header, sink.name.origin.offset.unwrap_or(sink.at));
        plain_options(toml, &sink.options);
    }
    Ok(())
}

fn plain_options(toml: &mut Toml, options: &[SinkOption]) {
    for option in options {
        toml.option(&option.key, option);
    }
}

/// TOML text being written, and where each of its pieces came from in the SQL file.
#[derive(Default)]
struct Toml {
    text: String,
    origins: Vec<Origin>,
}

/// A piece of the TOML text that starts at `start` and came from the SQL file's `at`; when
/// `chars` is set, the piece is a string's content of that many characters, copied as it
/// is, so an offset inside it moves to the same character.
struct Origin {
    start: usize,
    at: usize,
    chars: Option<usize>,
}

impl Toml {
    fn header(&mut self, header: &str, at: usize) {
        self.mark(at, None);
        self.text.push_str(header);
        self.text.push('\n');
    }

    /// `key = "text"` for a name of the statement: the string's characters are the name's.
    fn text_pair(&mut self, key: &str, text: &Text, at: usize) {
        let offset = text.origin.offset.unwrap_or(at);
        let chars = Some(text.text.len());
        self.entry(
            key,
            offset,
            offset.saturating_sub(1),
            &quoted(&text.text),
            chars,
        );
    }

    /// `key = value` for an option of a sink.
    fn option(&mut self, key: &str, option: &SinkOption) {
        let (value, chars) = match &option.value {
            SinkValue::Str(s) => (quoted(s), Some(s.len())),
            SinkValue::Int(n) => (n.to_string(), None),
            SinkValue::Float(f) => (format!("{f:?}"), None),
            SinkValue::Bool(b) => (b.to_string(), None),
            SinkValue::List(items) => return self.list(key, option, items),
        };
        self.entry(key, option.key_at, option.value_at, &value, chars);
    }

    /// `key = ["a", "b"]`, each item at its own offset.
    fn list(&mut self, key: &str, option: &SinkOption, items: &[(String, usize)]) {
        self.mark(option.key_at, None);
        self.text.push_str(&bare_key(key));
        self.text.push_str(" = [");
        self.mark(option.value_at, None);
        for (index, (item, at)) in items.iter().enumerate() {
            if index > 0 {
                self.text.push_str(", ");
            }
            self.value(*at - 1, &quoted(item), Some(item.len()));
        }
        self.text.push_str("]\n");
    }

    /// `key = value`, the key and the value both from `at`; `chars` as in [`Origin`].
    fn pair(&mut self, key: &str, at: usize, value: &str, chars: Option<usize>) {
        self.entry(key, at, at, value, chars);
    }

    /// `key = value`, the key from `key_at` and the value from `value_at` (a string's
    /// opening quote when `chars` is set).
    fn entry(
        &mut self,
        key: &str,
        key_at: usize,
        value_at: usize,
        value: &str,
        chars: Option<usize>,
    ) {
        self.mark(key_at, None);
        self.text.push_str(&bare_key(key));
        self.text.push_str(" = ");
        self.value(value_at, value, chars);
        self.text.push('\n');
    }

    /// A value that came from `at` (a string's opening quote when `chars` is set).
    fn value(&mut self, at: usize, value: &str, chars: Option<usize>) {
        self.mark(at, None);
        if let Some(chars) = chars
            && value.len() == chars + 2
        {
            self.text.push('"');
            self.mark(at + 1, Some(chars));
            self.text.push_str(&value[1..value.len() - 1]);
            self.mark(at + 1 + chars, None);
            self.text.push('"');
        } else {
            self.text.push_str(value);
        }
    }

    fn mark(&mut self, at: usize, chars: Option<usize>) {
        self.origins.push(Origin {
            start: self.text.len(),
            at,
            chars,
        });
    }

    /// The SQL file's offset for an offset of the TOML text.
    fn file_offset(&self, offset: usize) -> usize {
        let Some(origin) = self.origins.iter().rev().find(|o| o.start <= offset) else {
            return 0;
        };
        match origin.chars {
            Some(chars) => origin.at + (offset - origin.start).min(chars),
            None => origin.at,
        }
    }
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A dotted key whose parts are bare keys when they can be, quoted otherwise.
fn bare_key(key: &str) -> String {
    key.split('.')
        .map(|part| {
            let bare = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare { part.to_string() } else { quoted(part) }
        })
        .collect::<Vec<_>>()
        .join(".")
}
