//! Evaluating an alert over one time's rows: condition, dedup per group, cooldown.
//!
//! Only rows that are current after the time's updates count (a retracted row is no longer
//! true). Rows are taken in sorted order, so which row of a group fires first is a function
//! of the data, not of worker scheduling. A group fires when the condition holds and its
//! last firing is at least `cooldown_ms` earlier in event time; otherwise the row is counted
//! as suppressed. Event time, not the wall clock, makes alerts reproducible: a replay of the
//! same input fires the same alerts.

use std::collections::HashMap;

use crate::plan::sinks::AlertConfig;
use crate::sinks::format::consolidate;
use crate::value::{Row, Value, write_json_string};

/// One alert that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent {
    /// The JSON object delivered everywhere (one line, no newline).
    pub json: String,
    pub message: String,
}

/// Per-group state of one alert on one worker (groups are routed to one worker).
pub struct AlertRule {
    config: AlertConfig,
    last_fired: HashMap<Vec<Value>, u64>,
    pub suppressed: u64,
    pub errors: Vec<String>,
}

impl AlertRule {
    pub fn new(config: AlertConfig) -> AlertRule {
        AlertRule {
            config,
            last_fired: HashMap::new(),
            suppressed: 0,
            errors: Vec::new(),
        }
    }

    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// The alerts that fire for the updates at `time`.
    pub fn evaluate(&mut self, time: u64, updates: &mut Vec<(Row, i64)>) -> Vec<AlertEvent> {
        consolidate(updates);
        let mut fired = Vec::new();
        for (row, diff) in updates.iter() {
            if *diff <= 0 {
                continue;
            }
            match self.config.condition.eval_predicate(row) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    self.errors.push(format!(
                        "alert `{}`: condition failed on a row: {}",
                        self.config.name, e.message
                    ));
                    continue;
                }
            }
            let group: Vec<Value> = self
                .config
                .group_fields
                .iter()
                .map(|f| row.get(*f).clone())
                .collect();
            let at = self
                .config
                .time_field
                .and_then(|f| row.get(f).as_i64())
                .map_or(time, |t| t.max(0) as u64);
            if let Some(last) = self.last_fired.get(&group)
                && at < last.saturating_add(self.config.cooldown_ms)
            {
                self.suppressed += 1;
                continue;
            }
            self.last_fired.insert(group, at);
            fired.push(self.event(row, at));
        }
        fired
    }

    fn event(&self, row: &Row, at: u64) -> AlertEvent {
        let config = &self.config;
        let message = config.message.render(row);
        let mut json = String::from("{\"alert\":");
        write_json_string(&config.name, &mut json);
        json.push_str(",\"severity\":");
        write_json_string(config.severity.name(), &mut json);
        json.push_str(&format!(",\"time\":{at},\"group\":{{"));
        for (i, field) in config.group_fields.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            write_json_string(&config.names[*field], &mut json);
            json.push(':');
            row.get(*field).write_json(&mut json);
        }
        json.push_str("},\"message\":");
        write_json_string(&message, &mut json);
        json.push_str(",\"row\":");
        row.write_json_object(&config.names, &mut json);
        json.push('}');
        AlertEvent { json, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Expr;
    use crate::plan::sinks::Severity;
    use crate::plan::sinks::Template;
    use crate::schema::{Schema, Type};

    fn rule(cooldown_ms: u64) -> AlertRule {
        let schema = Schema::new([("user", Type::Str), ("total", Type::Int), ("ts", Type::Int)]);
        let names = schema.names();
        AlertRule::new(AlertConfig {
            name: "big".into(),
            pipeline: "p".into(),
            condition: Expr::compile("total > 100", &schema).unwrap(),
            message: Template::compile("{user}: {total}", &names).unwrap(),
            severity: Severity::Warning,
            group_fields: vec![0],
            cooldown_ms,
            time_field: Some(2),
            targets: Vec::new(),
            names,
        })
    }

    fn row(user: &str, total: i64, ts: i64) -> (Row, i64) {
        (
            Row(vec![Value::from(user), Value::Int(total), Value::Int(ts)]),
            1,
        )
    }

    #[test]
    fn a_group_fires_once_per_cooldown_in_event_time() {
        let mut r = rule(1000);
        let fired = r.evaluate(
            0,
            &mut vec![row("a", 150, 0), row("b", 50, 0), row("c", 101, 5)],
        );
        let messages: Vec<&str> = fired.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, vec!["a: 150", "c: 101"]);
        assert!(r.evaluate(1, &mut vec![row("a", 300, 999)]).is_empty());
        assert_eq!(r.suppressed, 1);
        let again = r.evaluate(2, &mut vec![row("a", 300, 1000)]);
        assert_eq!(again.len(), 1);
        let json: serde_json::Value = serde_json::from_str(&again[0].json).unwrap();
        assert_eq!(json["group"]["user"], "a");
        assert_eq!(json["time"], 1000);
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["row"]["total"], 300);
    }
}
