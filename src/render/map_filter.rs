//! Filter, map and flat_map when no other operator can run them: one fallible flat map
//! that applies a whole [`RowChain`] (see `render::chain`).

use crate::operators::fallible::{Lines, Rows, split_fallible};

use super::chain::RowChain;
use differential_dataflow::AsCollection;

/// Applies `chain` to every row in one operator; failed rows go to the error lines.
pub fn render_chain<'scope>(rows: Rows<'scope>, chain: &RowChain) -> (Rows<'scope>, Lines<'scope>) {
    let chain = chain.clone();
    let name = format!("Rows({})", chain.describe());
    let (rows, errors) = split_fallible(rows.inner, &name, move |(row, t, d), _, out| {
        let ok = &mut *out.ok;
        chain.apply(row, d > 0, &mut |row| ok.push((row, t, d)), out.errors);
    });
    (rows.as_collection(), errors)
}
