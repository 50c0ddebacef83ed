//! Record-at-a-time steps that can fail on one record without failing the dataflow.
//!
//! [`split_fallible`] maps each input record to any number of outputs or to an error line
//! (JSON, ready for the pipeline's error output), like Materialize's `map_fallible`: errors
//! travel as data beside the rows. [`FlatMapFallible`] is the common case over rows; it
//! reports errors for insertions only, since the retraction of a row that failed would fail
//! again and say nothing new.

use differential_dataflow::{AsCollection, VecCollection};
use timely::Container;
use timely::container::DrainContainer;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Concat;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::value::{Row, write_json_string};

/// Rows of a pipeline: a differential collection at watermark times.
pub type Rows<'scope> = VecCollection<'scope, u64, Row, i64>;
/// JSON lines for a side output (errors, late events).
pub type Lines<'scope> = Stream<'scope, u64, Vec<String>>;

/// A failure of one record: what went wrong, and the record itself as JSON.
#[derive(Debug)]
pub struct RecordError {
    pub message: String,
    pub record: String,
}

/// Formats an error line: `{"error":..,"step":..,"record":{..}}`.
pub fn error_line(step: &str, error: &RecordError) -> String {
    let mut line = String::from("{\"error\":");
    write_json_string(&error.message, &mut line);
    line.push_str(",\"step\":");
    write_json_string(step, &mut line);
    line.push_str(",\"record\":");
    line.push_str(&error.record);
    line.push('}');
    line
}

/// The outcome of one record: push outputs to `ok`, side lines (late events) to `side`,
/// error lines to `errors`.
pub struct Outputs<'a, O> {
    pub ok: &'a mut Vec<O>,
    pub side: &'a mut Vec<String>,
    pub errors: &'a mut Vec<String>,
}

/// Applies `logic` to every record and the time of the message it came in; it pushes outputs,
/// side lines and error lines, which come out as one stream of lines. Output records may
/// carry later times than their input: data may be at any time at or after the capability it
/// travels under.
pub fn split_fallible<'scope, I, O, L>(
    input: Stream<'scope, u64, Vec<I>>,
    name: &str,
    logic: L,
) -> (Stream<'scope, u64, Vec<O>>, Lines<'scope>)
where
    I: Clone + 'static,
    O: Clone + 'static,
    L: FnMut(I, u64, &mut Outputs<O>) + 'static,
{
    let (oks, sides, errors) = split_fallible3(input, name, logic);
    (oks, sides.concat(errors))
}

/// [`split_fallible`] with side lines and error lines as separate streams, over any
/// container: `logic` gets each record as the container drains it (owned from a `Vec`, by
/// reference from the store's shared batches).
pub fn split_fallible3<'scope, C, O, L>(
    input: Stream<'scope, u64, C>,
    name: &str,
    mut logic: L,
) -> (Stream<'scope, u64, Vec<O>>, Lines<'scope>, Lines<'scope>)
where
    C: Container + DrainContainer + Clone,
    O: Clone + 'static,
    L: for<'a> FnMut(C::Item<'a>, u64, &mut Outputs<O>) + 'static,
{
    let mut builder = OperatorBuilder::new(name.to_string(), input.scope());
    let mut input = builder.new_input(input, Pipeline);
    let (ok_output, oks) = builder.new_output::<Vec<O>>();
    let (side_output, sides) = builder.new_output::<Vec<String>>();
    let (error_output, errors) = builder.new_output::<Vec<String>>();
    let mut ok_output = OutputBuilder::from(ok_output);
    let mut side_output = OutputBuilder::from(side_output);
    let mut error_output = OutputBuilder::from(error_output);
    builder.build(move |_capabilities| {
        let (mut ok, mut side, mut error) = (Vec::new(), Vec::new(), Vec::new());
        move |_frontiers| {
            let mut ok_handle = ok_output.activate();
            let mut side_handle = side_output.activate();
            let mut error_handle = error_output.activate();
            input.for_each(|cap, data| {
                let time = cap.least().copied().unwrap_or_default();
                let mut outputs = Outputs {
                    ok: &mut ok,
                    side: &mut side,
                    errors: &mut error,
                };
                for record in data.drain() {
                    logic(record, time, &mut outputs);
                }
                if !ok.is_empty() {
                    ok_handle.session(&cap).give_iterator(ok.drain(..));
                }
                if !side.is_empty() {
                    side_handle.session(&cap).give_iterator(side.drain(..));
                }
                if !error.is_empty() {
                    error_handle.session(&cap).give_iterator(error.drain(..));
                }
            });
        }
    });
    (oks, sides, errors)
}

/// Extension trait: a flat map over rows whose logic may fail per record.
pub trait FlatMapFallible<'scope> {
    /// Applies `logic` to every row; it pushes output rows or fails. `step` names the step in
    /// error lines.
    fn flat_map_fallible<L>(self, step: String, logic: L) -> (Rows<'scope>, Lines<'scope>)
    where
        L: FnMut(Row, &mut Vec<Row>) -> Result<(), RecordError> + 'static;
}

impl<'scope> FlatMapFallible<'scope> for Rows<'scope> {
    fn flat_map_fallible<L>(self, step: String, mut logic: L) -> (Rows<'scope>, Lines<'scope>)
    where
        L: FnMut(Row, &mut Vec<Row>) -> Result<(), RecordError> + 'static,
    {
        let name = format!("FlatMapFallible({step})");
        let mut produced = Vec::new();
        let (oks, errs) =
            split_fallible(
                self.inner,
                &name,
                move |(row, time, diff), _, out| match logic(row, &mut produced) {
                    Ok(()) => out.ok.extend(produced.drain(..).map(|r| (r, time, diff))),
                    Err(error) => {
                        produced.clear();
                        if diff > 0 {
                            out.errors.push(error_line(&step, &error));
                        }
                    }
                },
            );
        (oks.as_collection(), errs)
    }
}
