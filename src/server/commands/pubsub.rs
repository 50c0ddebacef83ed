//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH.

use super::{Args, Ctx};

pub(super) fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ping" | "quit" | "reset"
    )
}

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    match name {
        "subscribe" | "psubscribe" if args.len() < 2 => ctx.wrong_args(name),
        "subscribe" => subscribe(ctx, args, false),
        "psubscribe" => subscribe(ctx, args, true),
        "unsubscribe" => unsubscribe(ctx, args, false),
        "punsubscribe" => unsubscribe(ctx, args, true),
        "publish" if args.len() == 3 => {
            let receivers = ctx.db.pubsub.publish(args.get(1), args.get(2));
            ctx.reply.int(receivers as i64);
        }
        "publish" => ctx.wrong_args(name),
        _ => return false,
    }
    true
}

fn confirm(ctx: &mut Ctx, kind: &[u8], channel: Option<&[u8]>) {
    ctx.reply.push(3);
    ctx.reply.bulk(kind);
    match channel {
        Some(channel) => ctx.reply.bulk(channel),
        None => ctx.reply.null(),
    }
    ctx.reply.int(ctx.session.subscriptions() as i64);
}

fn subscribe(ctx: &mut Ctx, args: Args, pattern: bool) {
    for index in 1..args.len() {
        let channel = args.get(index);
        if pattern {
            ctx.db.pubsub.psubscribe(channel, &ctx.session.outbox);
            ctx.session.patterns.insert(channel.to_vec());
            confirm(ctx, b"psubscribe", Some(channel));
        } else {
            ctx.db.pubsub.subscribe(channel, &ctx.session.outbox);
            ctx.session.channels.insert(channel.to_vec());
            confirm(ctx, b"subscribe", Some(channel));
        }
    }
}

fn unsubscribe(ctx: &mut Ctx, args: Args, pattern: bool) {
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        (1..args.len()).map(|i| args.get(i).to_vec()).collect()
    } else if pattern {
        ctx.session.patterns.iter().cloned().collect()
    } else {
        ctx.session.channels.iter().cloned().collect()
    };
    if names.is_empty() {
        confirm(ctx, kind, None);
    }
    let id = ctx.session.outbox.id;
    for name in names {
        if pattern {
            ctx.db.pubsub.punsubscribe(&name, id);
            ctx.session.patterns.remove(&name);
        } else {
            ctx.db.pubsub.unsubscribe(&name, id);
            ctx.session.channels.remove(&name);
        }
        confirm(ctx, kind, Some(&name));
    }
}
