//! A worker's own copy of a compiled expression, so that two workers evaluating one pipeline
//! never write the same cache line.
//!
//! A plan is built once and shared by the process's workers. An expression's tree is shared
//! with it, and so are its literal strings: a map that writes `'web'` into every row clones
//! that string's reference count and drops it again per row, and two workers doing so took
//! the count's cache line from each other at every row. Measured (`perf record`, a map of
//! `'web'` and a filter that keeps nothing over the 2M-line keyed stream): the evaluation
//! took 96 samples on one worker and 367 on two, the rows' drops 81 and 295. Each worker
//! therefore renders from its own copy of the tree, whose literal strings it allocated
//! itself; compiled regular expressions are cloned with it, and a clone keeps its own cache
//! of matchers instead of sharing the original's between threads.

use std::sync::Arc;

use crate::value::Value;

use super::Expr;
use super::node::{Like, Node, Step};

impl Expr {
    /// A copy of the expression whose tree, literal strings and compiled patterns belong
    /// to the calling thread; it evaluates exactly as the original.
    pub fn own_copy(&self) -> Expr {
        let mut root = (*self.root).clone();
        each_literal(&mut root, &mut |value| {
            if let Value::Str(s) = value {
                *value = Value::from(&**s);
            }
        });
        Expr {
            text: self.text.clone(),
            ty: self.ty,
            root: Arc::new(root),
        }
    }
}

/// Calls `f` with every literal in the tree under `node`.
fn each_literal(node: &mut Node, f: &mut impl FnMut(&mut Value)) {
    match node {
        Node::Field(_) => {}
        Node::Lit(value) => f(value),
        Node::Path(base, steps) => {
            each_literal(base, f);
            for step in steps.iter_mut() {
                if let Step::Dyn(node) = step {
                    each_literal(node, f);
                }
            }
        }
        Node::Neg(x) | Node::Not(x) | Node::Is(_, _, x) | Node::Text(x) => each_literal(x, f),
        Node::Cast { expr, .. } => each_literal(expr, f),
        Node::Arith(_, a, b)
        | Node::Cmp(_, a, b)
        | Node::Concat(a, b)
        | Node::Distinct(_, a, b) => {
            each_literal(a, f);
            each_literal(b, f);
        }
        Node::And(list) | Node::Or(list) | Node::Call(_, list) => {
            list.iter_mut().for_each(|n| each_literal(n, f));
        }
        Node::In { expr, list, .. } => {
            each_literal(expr, f);
            list.iter_mut().for_each(|n| each_literal(n, f));
        }
        Node::Between {
            expr, low, high, ..
        } => [expr, low, high]
            .into_iter()
            .for_each(|n| each_literal(n, f)),
        Node::Like { expr, pattern, .. } => {
            each_literal(expr, f);
            if let Like::Dynamic { pattern, .. } = pattern {
                each_literal(pattern, f);
            }
        }
        Node::Case {
            operand,
            arms,
            default,
        } => {
            operand
                .iter_mut()
                .chain(default.iter_mut())
                .for_each(|n| each_literal(n, f));
            for (when, then) in arms.iter_mut() {
                each_literal(when, f);
                each_literal(then, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use crate::value::Row;

    fn literal_strings(expr: &Expr) -> Vec<Arc<str>> {
        let mut found = Vec::new();
        let mut root = (*expr.root).clone();
        each_literal(&mut root, &mut |value| {
            if let Value::Str(s) = value {
                found.push(s.clone());
            }
        });
        found
    }

    #[test]
    fn a_copy_has_its_own_literal_strings_and_evaluates_alike() {
        let schema = Schema::events();
        let text = "CASE WHEN key LIKE 'a%' THEN 'web' || key \
                    WHEN key IN ('x', 'y') THEN COALESCE(NULL, 'app') ELSE 'other' END";
        let expr = Expr::compile(text, &schema).expect("expression");
        let copy = expr.own_copy();
        let (original, copied) = (literal_strings(&expr), literal_strings(&copy));
        // NB: `'a%'` is compiled into a LIKE pattern, not kept as a literal.
        let mut names: Vec<&str> = original.iter().map(|s| &**s).collect();
        names.sort_unstable();
        assert_eq!(names, ["app", "other", "web", "x", "y"]);
        assert_eq!(original, copied);
        for (a, b) in original.iter().zip(&copied) {
            assert!(!Arc::ptr_eq(a, b), "{a} is shared");
        }
        for key in ["abc", "x", "zzz"] {
            let row = Row(vec![
                Value::str(key),
                Value::Int(1),
                Value::str("insert"),
                Value::Int(1),
                Value::Null,
                Value::Null,
            ]);
            assert_eq!(expr.eval(&row), copy.eval(&row), "{key}");
        }
    }
}
