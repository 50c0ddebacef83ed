//! The hand-written differential session program: per key, a `reduce` over the key's event
//! times that cuts them into sessions (a difference of more than `gap` starts a new one) and
//! counts each. It recomputes a key's sessions from all its times whenever one arrives, the
//! way a session window falls out of stock differential operators.

use std::sync::Arc;

use differential_dataflow::AsCollection;
use timely::dataflow::ProbeHandle;
use timely::dataflow::operators::{Input, Probe};

use kvflow::change::Mutation;

use super::batches;

pub fn run_dd_sessions(input: &Arc<Vec<Mutation>>, gap: u64) {
    let input = input.clone();
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let mut handle = worker.dataflow::<u64, _, _>(|scope| {
            let (handle, stream) = scope.new_input::<Vec<((String, u64), u64, i64)>>();
            stream
                .as_collection()
                .reduce(move |_key, times, out| {
                    let mut session: Option<(u64, u64, i64)> = None;
                    for (ts, count) in times {
                        session = match session {
                            Some((start, last, n)) if **ts <= last + gap => {
                                Some((start, **ts, n + count))
                            }
                            Some(done) => {
                                out.push((done, 1));
                                Some((**ts, **ts, *count))
                            }
                            None => Some((**ts, **ts, *count)),
                        };
                    }
                    out.extend(session.map(|s| (s, 1)));
                })
                .inner
                .probe_with(&probe);
            handle
        });
        for (stamp, opens, m) in batches(&input) {
            if opens {
                handle.advance_to(stamp);
                worker.step_while(|| probe.less_than(&stamp));
            }
            handle.send(((m.key.to_string(), m.ts.unwrap_or(0)), stamp, 1));
        }
        handle.close();
        worker.step_while(|| !probe.done());
    })
    .expect("timely");
}
