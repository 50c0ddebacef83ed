//! The table⋈table join case: orders joined to their users on `value.user_id = key`, over
//! the `users-orders` workload (puts that insert and update, and deletes). The hand-written
//! differential program keeps the live tables itself (as the store does) to turn each
//! mutation into retractions and insertions, then joins the two collections; the HashMap
//! loop maintains the joined rows incrementally with an index from user to orders.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::dataflow::ProbeHandle;
use timely::dataflow::operators::{Input, Probe};

use kvflow::builder::{Pipeline, PlanBuilder, Source};
use kvflow::change::{Mutation, Op};
use kvflow::plan::Plan;
use kvflow::value::Value;

use super::batches;

pub fn join_plan() -> Arc<Plan> {
    let pipeline = Pipeline::from_source("j", "orders")
        .join("users", [("value.user_id", "key")])
        .map([
            ("order", "orders.key"),
            ("region", "users.value.region"),
            ("amount", "orders.value.amount"),
        ]);
    let plan = PlanBuilder::new()
        .source(Source::table("orders").key_regex("^order_"))
        .source(Source::table("users").key_regex("^user_"))
        .pipeline(pipeline)
        .build()
        .expect("plan");
    Arc::new(plan)
}

/// A live order or user as the join sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Side {
    /// (order key, user key, amount)
    Order(String, String, i64),
    /// (user key, region)
    User(String, String),
}

fn side_of(m: &Mutation) -> Option<Side> {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    if m.key.starts_with("order_") {
        let user = text(m.value.get("user_id"));
        let amount = m.value.get("amount").as_i64().unwrap_or(0);
        Some(Side::Order(m.key.to_string(), user, amount))
    } else if m.key.starts_with("user_") {
        Some(Side::User(m.key.to_string(), text(m.value.get("region"))))
    } else {
        None
    }
}

/// The live tables: each mutation becomes the retraction of the old side and the insertion
/// of the new one.
#[derive(Default)]
struct Tables {
    live: HashMap<Arc<str>, Side>,
}

impl Tables {
    fn apply(&mut self, m: &Mutation, mut emit: impl FnMut(Side, i64)) {
        let new = match m.op {
            Op::Put => side_of(m),
            Op::Delete => None,
        };
        let old = match &new {
            Some(side) => self.live.insert(m.key.clone(), side.clone()),
            None => self.live.remove(&m.key),
        };
        if let Some(old) = old {
            emit(old, -1);
        }
        if let Some(new) = new {
            emit(new, 1);
        }
    }
}

pub fn run_dd_join(input: &Arc<Vec<Mutation>>) {
    let input = input.clone();
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let (mut orders_in, mut users_in) = worker.dataflow::<u64, _, _>(|scope| {
            let (orders_in, orders) = scope.new_input::<Vec<((String, (String, i64)), u64, i64)>>();
            let (users_in, users) = scope.new_input::<Vec<((String, String), u64, i64)>>();
            orders
                .as_collection()
                .join(users.as_collection())
                .inner
                .probe_with(&probe);
            (orders_in, users_in)
        });
        let mut tables = Tables::default();
        for (t, opens, m) in batches(&input) {
            if opens {
                orders_in.advance_to(t);
                users_in.advance_to(t);
                worker.step_while(|| probe.less_than(&t));
            }
            tables.apply(m, |side, d| match side {
                Side::Order(key, user, amount) => orders_in.send(((user, (key, amount)), t, d)),
                Side::User(key, region) => users_in.send(((key, region), t, d)),
            });
        }
        orders_in.close();
        users_in.close();
        worker.step_while(|| !probe.done());
    })
    .expect("timely");
}

/// Maintains the joined rows incrementally; returns how many joined-row changes it made.
pub fn hashmap_join(input: &[Mutation]) -> usize {
    let mut tables = Tables::default();
    let mut regions: HashMap<String, String> = HashMap::new();
    let mut orders_of: HashMap<String, HashSet<(String, i64)>> = HashMap::new();
    let mut changes = 0;
    for m in input {
        tables.apply(m, |side, d| match side {
            Side::Order(key, user, amount) => {
                let orders = orders_of.entry(user.clone()).or_default();
                if d > 0 {
                    orders.insert((key, amount));
                } else {
                    orders.remove(&(key, amount));
                }
                changes += usize::from(regions.contains_key(&user));
            }
            Side::User(key, region) => {
                changes += orders_of.get(&key).map_or(0, HashSet::len);
                if d > 0 {
                    regions.insert(key, region);
                } else {
                    regions.remove(&key);
                }
            }
        });
    }
    changes
}
