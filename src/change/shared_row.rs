//! A change's row of the events view, made once for every source operator that reads it in
//! place (see `render::source`).

use std::cell::OnceCell;
use std::cmp::Ordering;
use std::fmt;

use crate::value::Row;

/// A row made at most once, on its first read. It is not part of its change's value: it
/// compares equal to any other, a copy of the change starts without it, and it is never
/// serialized.
#[derive(Default)]
pub struct SharedRow(OnceCell<Row>);

impl SharedRow {
    /// The row, made by `make` on the first call.
    pub fn get_or_init(&self, make: impl FnOnce() -> Row) -> &Row {
        self.0.get_or_init(make)
    }
}

impl Clone for SharedRow {
    fn clone(&self) -> Self {
        SharedRow::default()
    }
}

impl fmt::Debug for SharedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRow")
    }
}

impl PartialEq for SharedRow {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SharedRow {}

impl PartialOrd for SharedRow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedRow {
    fn cmp(&self, _: &Self) -> Ordering {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn made_once_and_never_part_of_the_value() {
        let row = SharedRow::default();
        let mut made = 0;
        for _ in 0..3 {
            let got = row.get_or_init(|| {
                made += 1;
                Row(vec![Value::Int(7)])
            });
            assert_eq!(got, &Row(vec![Value::Int(7)]));
        }
        assert_eq!(made, 1, "made on the first read only");
        let copy = row.clone();
        assert!(copy.0.get().is_none(), "a copy starts without the row");
        assert_eq!(copy, row);
        assert_eq!(copy.cmp(&row), Ordering::Equal);
    }
}
