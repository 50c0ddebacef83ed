//! Which node of the plan's graph built each timely operator, so an operator's figures
//! (records, state) can be shown on the node the user wrote.
//!
//! Timely gives every operator (and channel) of a worker the next of one sequence of
//! identifiers. While a node is rendered, every identifier taken belongs to it, except those
//! taken while one of its inputs is rendered; so entering and leaving a node at the current
//! identifier cuts the sequence into spans, each owned by the innermost node being rendered.
//! Nodes that render nothing of their own (a filter fused into its source, a pipeline read by
//! another) own no span.

use std::cell::RefCell;
use std::ops::Range;

/// The spans of identifiers each graph node owns, on one worker.
#[derive(Clone, Debug, Default)]
pub struct NodeSpans {
    /// Finished spans, in increasing order, none overlapping.
    spans: Vec<(Range<usize>, String)>,
    /// The nodes being rendered, innermost last, each with where its current span starts.
    open: Vec<(String, usize)>,
}

impl NodeSpans {
    /// Node `id` starts being rendered when `next` is the next identifier.
    pub fn enter(&mut self, id: &str, next: usize) {
        self.close_span(next);
        self.open.push((id.to_string(), next));
    }

    /// The innermost node being rendered is done when `next` is the next identifier.
    pub fn leave(&mut self, next: usize) {
        self.close_span(next);
        self.open.pop();
        if let Some((_, start)) = self.open.last_mut() {
            *start = next;
        }
    }

    /// The graph node that built operator `identifier`.
    pub fn node_of(&self, identifier: usize) -> Option<&str> {
        let after = self
            .spans
            .partition_point(|(span, _)| span.end <= identifier);
        let (span, id) = self.spans.get(after)?;
        span.contains(&identifier).then_some(id.as_str())
    }

    /// Runs `render`, the rendering of node `id`, between [`Self::enter`] and
    /// [`Self::leave`]; `next` gives the next identifier.
    pub fn within<R>(
        spans: &RefCell<NodeSpans>,
        id: &str,
        next: impl Fn() -> usize,
        render: impl FnOnce() -> R,
    ) -> R {
        spans.borrow_mut().enter(id, next());
        let rendered = render();
        spans.borrow_mut().leave(next());
        rendered
    }

    fn close_span(&mut self, next: usize) {
        if let Some((id, start)) = self.open.last()
            && *start < next
        {
            self.spans.push((*start..next, id.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NodeSpans;

    #[test]
    fn an_identifier_belongs_to_the_innermost_node_being_rendered() {
        let mut spans = NodeSpans::default();
        spans.enter("p_1", 10);
        spans.enter("src_events", 12);
        spans.leave(15);
        spans.enter("p_2", 15);
        spans.leave(15);
        spans.leave(18);
        spans.enter("out_p", 20);
        spans.leave(21);
        let owners: Vec<_> = (9..22).map(|id| spans.node_of(id)).collect();
        let expected = [
            None,
            Some("p_1"),
            Some("p_1"),
            Some("src_events"),
            Some("src_events"),
            Some("src_events"),
            Some("p_1"),
            Some("p_1"),
            Some("p_1"),
            None,
            None,
            Some("out_p"),
            None,
        ];
        assert_eq!(owners, expected);
    }
}
