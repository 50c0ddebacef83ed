//! An SQL file's `SET input.<key> = <value>` and `SET store.<key> = <value>` statements as
//! the `[input]` and `[store]` tables of a TOML file, so both front ends share one reading of
//! them.

use super::error::Fail;
use super::raw::{INPUT_KEYS, Num, RawInput, RawStore, STORE_KEYS, Str};
use crate::expr::suggest;
use crate::sql::{Setting, SettingScope, SettingValue};

/// The `store.` settings as a raw `[store]`; `None` when there are none.
pub(super) fn raw_store(settings: &[Setting]) -> Result<Option<RawStore>, Fail> {
    let mut store = None;
    for s in settings.iter().filter(|s| s.scope == SettingScope::Store) {
        let raw = store.get_or_insert(RawStore {
            append_only_keys: None,
        });
        match (s.key.as_str(), &s.value) {
            ("append_only_keys", SettingValue::Str(v)) => {
                raw.append_only_keys = Some(Str {
                    value: v.clone(),
                    at: s.value_at,
                })
            }
            ("append_only_keys", _) => {
                return Err(Fail::at(
                    s.value_at,
                    "`store.append_only_keys` takes a string (a key regex)",
                ));
            }
            (key, _) => {
                return Err(Fail::at(
                    s.key_at,
                    format!(
                        "unknown store setting `{key}`, expected one of: {}",
                        STORE_KEYS.join(", ")
                    ),
                )
                .suggest(suggest(key, STORE_KEYS)));
            }
        }
    }
    Ok(store)
}

/// The `input.` settings as a raw `[input]`; `None` when there are none.
pub(super) fn raw_input(settings: &[Setting]) -> Result<Option<RawInput>, Fail> {
    let settings: Vec<&Setting> = settings
        .iter()
        .filter(|s| s.scope == SettingScope::Input)
        .collect();
    let Some(first) = settings.first() else {
        return Ok(None);
    };
    let mut raw = RawInput {
        at: first.key_at,
        file: None,
        generate: None,
        events: None,
        seed: None,
        disorder_ms: None,
        start_ts: None,
        rate_per_sec: None,
        keys: None,
        skew: None,
    };
    for s in settings {
        let num = || match s.value {
            SettingValue::Int(n) => Ok(Some(Num {
                value: n,
                at: s.value_at,
            })),
            _ => Err(Fail::at(
                s.value_at,
                format!("`input.{}` takes a whole number", s.key),
            )),
        };
        let string = || match &s.value {
            SettingValue::Str(v) => Ok(Some(Str {
                value: v.clone(),
                at: s.value_at,
            })),
            _ => Err(Fail::at(
                s.value_at,
                format!("`input.{}` takes a string", s.key),
            )),
        };
        match s.key.as_str() {
            "file" => raw.file = string()?,
            "generate" => raw.generate = string()?,
            "events" => raw.events = num()?,
            "seed" => raw.seed = num()?,
            "disorder_ms" => raw.disorder_ms = num()?,
            "start_ts" => raw.start_ts = num()?,
            "rate_per_sec" => raw.rate_per_sec = num()?,
            "keys" => raw.keys = num()?,
            "skew" => {
                raw.skew = match s.value {
                    SettingValue::Int(n) => Some((n as f64, s.value_at)),
                    SettingValue::Float(f) => Some((f, s.value_at)),
                    SettingValue::Str(_) => {
                        return Err(Fail::at(s.value_at, "`input.skew` takes a number"));
                    }
                }
            }
            key => {
                return Err(Fail::at(
                    s.key_at,
                    format!(
                        "unknown input setting `{key}`, expected one of: {}",
                        INPUT_KEYS.join(", ")
                    ),
                )
                .suggest(suggest(key, INPUT_KEYS)));
            }
        }
    }
    Ok(Some(raw))
}
