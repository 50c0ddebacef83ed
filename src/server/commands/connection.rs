//! Connection commands: PING, ECHO, HELLO, AUTH, CLIENT, SELECT, QUIT, RESET, COMMAND,
//! CONFIG (GET answers what clients probe for), INFO.

use std::sync::atomic::Ordering;

use super::info::write_info;
use super::{Args, Ctx};

pub(super) fn run(name: &str, ctx: &mut Ctx, args: Args) -> bool {
    match name {
        "ping" => ping(ctx, args),
        "echo" if args.len() == 2 => ctx.reply.bulk(args.get(1)),
        "echo" => ctx.wrong_args("echo"),
        "hello" => hello(ctx, args),
        "auth" => auth(ctx, args),
        "client" => client(ctx, args),
        "select" if args.len() != 2 => ctx.wrong_args("select"),
        "select" => match args.int(1) {
            Ok(0) => ctx.reply.ok(),
            Ok(_) => ctx.reply.error("ERR DB index is out of range"),
            Err(error) => ctx.reply.error(error),
        },
        "quit" => {
            ctx.reply.ok();
            ctx.session.quit = true;
        }
        "reset" => {
            ctx.session.resp3 = false;
            ctx.session.outbox.resp3.store(false, Ordering::Relaxed);
            ctx.reply.simple("RESET");
        }
        "command" => command(ctx, args),
        "config" => config(ctx, args),
        "info" => {
            let text = write_info(ctx.server, ctx.db, args);
            ctx.reply.text(&text);
        }
        _ => return false,
    }
    true
}

fn ping(ctx: &mut Ctx, args: Args) {
    if args.len() > 2 {
        return ctx.wrong_args("ping");
    }
    if ctx.session.subscriptions() > 0 && !ctx.session.resp3 {
        ctx.reply.array(2);
        ctx.reply.bulk(b"pong");
        ctx.reply.bulk(args.get(1));
    } else if args.len() == 2 {
        ctx.reply.bulk(args.get(1));
    } else {
        ctx.reply.simple("PONG");
    }
}

fn check_password(ctx: &mut Ctx, password: &[u8]) -> bool {
    match &ctx.server.config.requirepass {
        Some(secret) if secret.as_bytes() == password => {
            if !ctx.session.authed {
                let stats = &ctx.server.stats;
                stats.unauthenticated.fetch_sub(1, Ordering::Relaxed);
            }
            ctx.session.authed = true;
            true
        }
        _ => {
            ctx.reply
                .error("WRONGPASS invalid username-password pair or user is disabled.");
            false
        }
    }
}

fn auth(ctx: &mut Ctx, args: Args) {
    let password = match args.len() {
        2 => args.get(1),
        3 if args.is(1, "default") => args.get(2),
        3 => {
            ctx.reply
                .error("WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        _ => return ctx.wrong_args("auth"),
    };
    if ctx.server.config.requirepass.is_none() {
        ctx.reply.error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
        return;
    }
    if check_password(ctx, password) {
        ctx.reply.ok();
    }
}

fn hello(ctx: &mut Ctx, args: Args) {
    let mut index = 1;
    let mut version = if ctx.session.resp3 { 3 } else { 2 };
    if args.len() > 1 {
        match args.int(1) {
            Ok(v @ (2 | 3)) => version = v,
            Ok(_) => {
                ctx.reply.error("NOPROTO unsupported protocol version");
                return;
            }
            Err(_) => {
                ctx.reply
                    .error("ERR Protocol version is not an integer or out of range");
                return;
            }
        }
        index = 2;
    }
    while index < args.len() {
        if args.is(index, "auth") && index + 2 < args.len() {
            if !check_password(ctx, args.get(index + 2)) {
                return;
            }
            index += 3;
        } else if args.is(index, "setname") && index + 1 < args.len() {
            ctx.session.name = Some(String::from_utf8_lossy(args.get(index + 1)).into_owned());
            index += 2;
        } else {
            ctx.reply.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(args.get(index))
            ));
            return;
        }
    }
    if !ctx.session.authed {
        ctx.reply.error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        );
        return;
    }
    ctx.session.resp3 = version == 3;
    ctx.session
        .outbox
        .resp3
        .store(version == 3, Ordering::Relaxed);
    ctx.reply.resp3 = version == 3;
    ctx.reply.map(7);
    for (field, value) in [("server", "redis"), ("version", super::info::REDIS_VERSION)] {
        ctx.reply.bulk(field.as_bytes());
        ctx.reply.bulk(value.as_bytes());
    }
    ctx.reply.bulk(b"proto");
    ctx.reply.int(version);
    ctx.reply.bulk(b"id");
    ctx.reply.int(ctx.session.outbox.id as i64);
    ctx.reply.bulk(b"mode");
    ctx.reply.bulk(b"standalone");
    ctx.reply.bulk(b"role");
    ctx.reply.bulk(b"master");
    ctx.reply.bulk(b"modules");
    ctx.reply.array(0);
}

fn client(ctx: &mut Ctx, args: Args) {
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"setname" if args.len() == 3 => {
            ctx.session.name = Some(String::from_utf8_lossy(args.get(2)).into_owned());
            ctx.reply.ok();
        }
        b"getname" => match &ctx.session.name {
            Some(name) => ctx.reply.bulk(name.clone().as_bytes()),
            None => ctx.reply.null(),
        },
        b"id" => ctx.reply.int(ctx.session.outbox.id as i64),
        b"setinfo" | b"no-evict" | b"no-touch" | b"reply" => ctx.reply.ok(),
        _ => ctx.reply.error(&format!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(args.get(1))
        )),
    }
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND DOCS`: enough for `redis-cli` (which only uses the
/// docs for hints and does without them).
fn command(ctx: &mut Ctx, args: Args) {
    if args.is(1, "count") {
        ctx.reply.int(super::COMMAND_NAMES.len() as i64);
    } else if args.is(1, "docs") {
        ctx.reply.map(0);
    } else {
        ctx.reply.array(0);
    }
}

/// `CONFIG GET` answers the settings clients probe for; `CONFIG SET` of keyspace
/// notifications is accepted (they are always on).
fn config(ctx: &mut Ctx, args: Args) {
    if args.is(1, "get") && args.len() >= 3 {
        let wanted = args.get(2).to_ascii_lowercase();
        let settings: [(&str, String); 4] = [
            ("save", String::new()),
            ("appendonly", "no".into()),
            ("notify-keyspace-events", "AKE".into()),
            ("databases", "1".into()),
        ];
        let found: Vec<&(&str, String)> = settings
            .iter()
            .filter(|(name, _)| crate::server::glob::glob_match(&wanted, name.as_bytes()))
            .collect();
        ctx.reply.map(found.len());
        for (name, value) in found {
            ctx.reply.bulk(name.as_bytes());
            ctx.reply.bulk(value.as_bytes());
        }
    } else if args.is(1, "set") && args.is(2, "notify-keyspace-events") {
        ctx.reply.ok();
    } else {
        ctx.reply.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(args.get(1))
        ));
    }
}
