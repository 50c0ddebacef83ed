//! `users-orders`: a shop's users, items and orders, with referential integrity.
//!
//! The run opens with a burst of 100 user creations then 20 item creations; after that each
//! event is, out of 100: 10 user puts (half new users, half a region or tier change), 42 new
//! orders, 28 order status changes (`new` → `paid` → `shipped`), 10 item puts (half new, half
//! a price change), 8 order deletes and 2 user deletes. A new order names a live user and an
//! existing item; deletes only hit live keys. Impossible choices (no open order to advance,
//! too few users to delete one) fall back to creating an order or a user.
//!
//! Keys and values:
//! - `user_<id>`: `{"name", "region": eu|us|apac|latam, "tier": free|pro}`
//! - `item_<id>`: `{"name", "price": int, "category": one of 8}`
//! - `order_<id>`: `{"user_id": "user_<id>", "amount": 1..=500, "item": "item_<id>", "status"}`
//!
//! State is 32 bytes per live order, so memory grows with the run (about 10 MB per million
//! events).

use super::rng::{Rng, splitmix64};
use super::{key, map};
use crate::change::Mutation;
use crate::value::Value;

const BURST_USERS: u64 = 100;
const BURST_ITEMS: u64 = 20;
const REGIONS: [&str; 4] = ["eu", "us", "apac", "latam"];
const TIERS: [&str; 2] = ["free", "pro"];
const STATUSES: [&str; 3] = ["new", "paid", "shipped"];
const CATEGORIES: [&str; 8] = [
    "books",
    "electronics",
    "garden",
    "grocery",
    "home",
    "sports",
    "toys",
    "apparel",
];
const FIRST_NAMES: [&str; 12] = [
    "Ada", "Bo", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena",
];
const LAST_NAMES: [&str; 10] = [
    "Ito", "Khan", "Lopez", "Meyer", "Nowak", "Okafor", "Park", "Rossi", "Silva", "Tanaka",
];
const ADJECTIVES: [&str; 8] = [
    "Compact", "Deluxe", "Eco", "Classic", "Smart", "Rugged", "Mini", "Pro",
];
const NOUNS: [&str; 10] = [
    "Lamp", "Kettle", "Backpack", "Novel", "Drone", "Chair", "Ball", "Speaker", "Jacket", "Tea",
];

#[derive(Clone, Debug)]
struct User {
    id: u64,
    region: u8,
    tier: u8,
}

#[derive(Clone, Debug)]
struct Item {
    price: u32,
    category: u8,
}

#[derive(Clone, Debug)]
struct Order {
    id: u64,
    user: u64,
    item: u64,
    amount: u16,
    status: u8,
}

/// State of a `users-orders` run: the live users and orders, and every item.
#[derive(Clone, Debug, Default)]
pub struct UsersOrders {
    emitted: u64,
    next_user: u64,
    next_order: u64,
    users: Vec<User>,
    /// Item `id` is `items[id - 1]`; items are never deleted.
    items: Vec<Item>,
    /// Orders that are `new` or `paid`.
    open: Vec<Order>,
    shipped: Vec<Order>,
}

/// Picks from a fixed list by a hash of `id`, so names need no state.
fn name_of(id: u64, salt: u64, first: &[&str], second: &[&str]) -> String {
    let mut h = id ^ salt;
    let h = splitmix64(&mut h);
    let a = first[(h % first.len() as u64) as usize];
    let b = second[((h >> 32) % second.len() as u64) as usize];
    format!("{a} {b}")
}

impl UsersOrders {
    pub fn next(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let i = self.emitted;
        self.emitted += 1;
        if i < BURST_USERS {
            return self.new_user(rng, ts);
        }
        if i < BURST_USERS + BURST_ITEMS {
            return self.new_item(rng, ts);
        }
        match rng.below(100) {
            0..10 if rng.percent(50) || self.users.is_empty() => self.new_user(rng, ts),
            0..10 => self.update_user(rng, ts),
            10..52 => self.new_order(rng, ts),
            52..80 => self.advance_order(rng, ts),
            80..90 if rng.percent(50) => self.new_item(rng, ts),
            80..90 => self.update_item(rng, ts),
            90..98 => self.delete_order(rng, ts),
            _ => self.delete_user(rng, ts),
        }
    }

    fn user_put(user: &User, ts: u64) -> Mutation {
        let value = map([
            (
                "name",
                name_of(user.id, 1, &FIRST_NAMES, &LAST_NAMES).into(),
            ),
            ("region", REGIONS[user.region as usize].into()),
            ("tier", TIERS[user.tier as usize].into()),
        ]);
        Mutation::put(key("user", user.id), value, ts)
    }

    fn new_user(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        self.next_user += 1;
        let user = User {
            id: self.next_user,
            region: rng.below(4) as u8,
            tier: u8::from(rng.percent(20)),
        };
        let m = Self::user_put(&user, ts);
        self.users.push(user);
        m
    }

    fn update_user(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let index = rng.below(self.users.len() as u64) as usize;
        let user = &mut self.users[index];
        if rng.percent(50) {
            user.region = ((u64::from(user.region) + 1 + rng.below(3)) % 4) as u8;
        } else {
            user.tier ^= 1;
        }
        Self::user_put(user, ts)
    }

    fn delete_user(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        if self.users.len() < 2 {
            return self.new_user(rng, ts);
        }
        let index = rng.below(self.users.len() as u64) as usize;
        let user = self.users.swap_remove(index);
        Mutation::delete(key("user", user.id), ts)
    }

    fn item_put(&self, id: u64, ts: u64) -> Mutation {
        let item = &self.items[(id - 1) as usize];
        let value = map([
            ("name", name_of(id, 2, &ADJECTIVES, &NOUNS).into()),
            ("price", Value::Int(i64::from(item.price))),
            ("category", CATEGORIES[item.category as usize].into()),
        ]);
        Mutation::put(key("item", id), value, ts)
    }

    fn new_item(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        self.items.push(Item {
            price: rng.range(1, 1000) as u32,
            category: rng.below(CATEGORIES.len() as u64) as u8,
        });
        self.item_put(self.items.len() as u64, ts)
    }

    fn update_item(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        if self.items.is_empty() {
            return self.new_item(rng, ts);
        }
        let id = rng.range(1, self.items.len() as u64);
        let item = &mut self.items[(id - 1) as usize];
        let price = rng.range(1, 1000) as u32;
        item.price = if price == item.price {
            price % 1000 + 1
        } else {
            price
        };
        self.item_put(id, ts)
    }

    fn order_put(order: &Order, ts: u64) -> Mutation {
        let value = map([
            ("user_id", key("user", order.user).into()),
            ("amount", Value::Int(i64::from(order.amount))),
            ("item", key("item", order.item).into()),
            ("status", STATUSES[order.status as usize].into()),
        ]);
        Mutation::put(key("order", order.id), value, ts)
    }

    fn new_order(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        if self.users.is_empty() {
            return self.new_user(rng, ts);
        }
        if self.items.is_empty() {
            return self.new_item(rng, ts);
        }
        self.next_order += 1;
        let order = Order {
            id: self.next_order,
            user: rng.pick(&self.users).id,
            item: rng.range(1, self.items.len() as u64),
            amount: rng.range(1, 500) as u16,
            status: 0,
        };
        let m = Self::order_put(&order, ts);
        self.open.push(order);
        m
    }

    fn advance_order(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        if self.open.is_empty() {
            return self.new_order(rng, ts);
        }
        let index = rng.below(self.open.len() as u64) as usize;
        self.open[index].status += 1;
        let m = Self::order_put(&self.open[index], ts);
        if self.open[index].status == 2 {
            let order = self.open.swap_remove(index);
            self.shipped.push(order);
        }
        m
    }

    fn delete_order(&mut self, rng: &mut Rng, ts: u64) -> Mutation {
        let live = (self.open.len() + self.shipped.len()) as u64;
        if live == 0 {
            return self.new_order(rng, ts);
        }
        let index = rng.below(live) as usize;
        let order = if index < self.open.len() {
            self.open.swap_remove(index)
        } else {
            self.shipped.swap_remove(index - self.open.len())
        };
        Mutation::delete(key("order", order.id), ts)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Workload, generate, tests::config};
    use crate::change::Op;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn references_exist_and_deletes_hit_live_keys() {
        let mut live = HashSet::new();
        let mut ever = HashSet::new();
        let mut kinds: HashMap<(String, Op), u64> = HashMap::new();
        let mut new_orders = 0;
        for m in generate(&Workload::UsersOrders, &config(50_000, 11, 100)) {
            let kind = m.key.split('_').next().unwrap().to_string();
            *kinds.entry((kind.clone(), m.op)).or_default() += 1;
            match m.op {
                Op::Delete => assert!(live.remove(&m.key), "delete of absent {}", m.key),
                Op::Put => {
                    if kind == "order" {
                        let user = m.value.get("user_id").as_str().unwrap();
                        let item = m.value.get("item").as_str().unwrap();
                        assert!(ever.contains(user), "{user} before {}", m.key);
                        assert!(live.contains(item), "{item} before {}", m.key);
                        if !ever.contains(&m.key) {
                            new_orders += 1;
                            assert!(live.contains(user), "new order of deleted {user}");
                            assert_eq!(m.value.get("status").as_str(), Some("new"));
                        }
                        let amount = m.value.get("amount").as_i64().unwrap();
                        assert!((1..=500).contains(&amount));
                    }
                    live.insert(m.key.clone());
                    ever.insert(m.key);
                }
            }
        }
        let count = |k: &str, op| kinds.get(&(k.to_string(), op)).copied().unwrap_or(0);
        let near =
            |got: u64, percent: f64| (got as f64 - percent * 500.0).abs() < 0.1 * percent * 500.0;
        assert!(near(new_orders, 42.0), "{new_orders}");
        assert!(near(count("order", Op::Put), 70.0), "{kinds:?}");
        assert!(near(count("order", Op::Delete), 8.0), "{kinds:?}");
        assert!(near(count("user", Op::Delete), 2.0), "{kinds:?}");
        assert!(near(count("item", Op::Put), 10.0), "{kinds:?}");
    }
}
