//! An SQL file's `SET input.<key> = <value>` statements as the `[input]` table of a TOML
//! file, so both front ends share one reading of the default input.

use super::error::Fail;
use super::raw::{INPUT_KEYS, Num, RawInput, Str};
use crate::expr::suggest;
use crate::sql::{Setting, SettingValue};

/// The settings as a raw `[input]`; `None` when there are none.
pub(super) fn raw_input(settings: &[Setting]) -> Result<Option<RawInput>, Fail> {
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
