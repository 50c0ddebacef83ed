//! Giving up: after its retries, a delivery thread writes what it could not deliver to the
//! sink's dead-letter output (one JSON line per record, with the error, so it can be sent
//! again by hand), an error row to the pipeline's error output, and one log line per batch
//! given up (not per record: a dead target would flood the log).

use std::sync::Arc;

use crate::sinks::LineSink;
use crate::value::write_json_string;

/// Where a delivery thread puts what it gave up on.
pub struct DeadLetters {
    /// The sink's dead-letter output.
    pub output: Arc<dyn LineSink>,
    /// The error output of the pipeline the records came from.
    pub errors: Arc<dyn LineSink>,
}

impl DeadLetters {
    /// Writes `lines` (the dead letters) and `rows` (error rows, see [`error_row`]), flushing
    /// both at once so that nothing given up waits in a buffer, and logs `message`.
    pub fn give_up(&self, lines: &str, rows: &str, message: &str) {
        self.output.write(lines);
        self.output.flush();
        tracing::error!("{message}");
        self.errors.write(rows);
        self.errors.flush();
    }
}

/// Appends an error row: `{"error":<message>` and `fields` (`,"name":value...`), then `}`
/// and a newline.
pub fn error_row(message: &str, fields: &str, out: &mut String) {
    out.push_str("{\"error\":");
    write_json_string(message, out);
    out.push_str(fields);
    out.push_str("}\n");
}
