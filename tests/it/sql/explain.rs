//! `kvflow explain` shows the new operators, as text and as Mermaid: top-N with its partition,
//! order, limit and rank; the union of its inputs; distinct; aggregates with their filters.

use crate::support::{assert_success, kvflow, repo, s};

fn explain(file: &str, mermaid: bool) -> String {
    let path = repo(file);
    let mut args = vec!["explain", s(&path)];
    if mermaid {
        args.push("--mermaid");
    }
    let out = kvflow().args(&args).output().expect("run kvflow");
    assert_success(&out);
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn explain_shows_top_n_and_filtered_aggregates() {
    let q19 = explain("dataflows/nexmark/q19.sql", false);
    let expected = "\npipeline q19_sub1 (internal) -> [auction, bidder, price, channel, url, dateTime, rank_number]
  TopN 10 by [auction] order by [price DESC] rank as rank_number
    PipelineRef bid
";
    assert!(q19.contains(expected), "{q19}");
    let q18 = explain("dataflows/nexmark/q18.toml", false);
    assert!(
        q18.contains("  TopN 1 by [bidder, auction] order by [dateTime DESC]\n"),
        "{q18}"
    );
    let q15 = explain("dataflows/nexmark/q15.sql", false);
    assert!(
        q15.contains(", rank1_bids = count(*) FILTER (WHERE price < 10000), "),
        "{q15}"
    );
    let mermaid = explain("dataflows/nexmark/q19.toml", true);
    assert!(
        mermaid.contains(
            "  q19_1[\"TopN 10 by [auction] order by [price DESC] rank as rank_number\"]\n  out_bid --> q19_1\n"
        ),
        "{mermaid}"
    );
    let mermaid = explain("dataflows/nexmark/q17.sql", true);
    assert!(
        mermaid.contains("rank3_bids = count(*) FILTER (WHERE price >= 1000000)"),
        "{mermaid}"
    );
}

#[test]
fn explain_shows_union_and_distinct() {
    let dir = crate::support::tmp();
    let file = dir.path().join("u.sql");
    let sql = "CREATE SOURCE events FROM events;
        INSERT INTO prefixes SELECT DISTINCT split_part(key, '_', 1) AS prefix FROM events
        UNION ALL SELECT key AS prefix FROM events;";
    std::fs::write(&file, sql).expect("write");
    for mermaid in [false, true] {
        let mut args = vec!["explain", s(&file)];
        if mermaid {
            args.push("--mermaid");
        }
        let out = kvflow().args(&args).output().expect("run kvflow");
        assert_success(&out);
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        assert!(text.contains("Union of 2 inputs"), "{text}");
        // NB: Mermaid labels quote with `'`.
        let quote = if mermaid { "'" } else { "\"" };
        let distinct = format!("Aggregate (distinct) by [prefix = {quote}prefix{quote}]");
        assert!(text.contains(&distinct), "{text}");
        if mermaid {
            assert!(
                text.contains("out_prefixes_union1 --> prefixes_1"),
                "{text}"
            );
        } else {
            assert!(
                text.contains("\npipeline prefixes_union1 (internal) -> [prefix]\n"),
                "{text}"
            );
        }
    }
}

#[test]
fn explain_shows_window_joins_and_window_assignment() {
    let q7 = explain("dataflows/nexmark/q7.sql", false);
    let expected = "
pipeline q7 -> [window_start, auction, bidder, price, date_time]
  Map window_start = bids.window_start, auction = bids.value.auction, bidder = bids.value.bidder, price = CAST(bids.value.price AS INT), date_time = bids.ts
    WindowJoin on equal windows AND bids.CAST(value.price AS INT) = max_price.max_price
      Window tumbling 10000ms
        Source bids (events) late if ts + 0ms < max ts seen
      PipelineRef max_price
";
    assert!(q7.contains(expected), "{q7}");
    let mermaid = explain("dataflows/nexmark/q8.toml", true);
    assert!(
        mermaid.contains("[\"WindowJoin on equal windows AND new_persons.id = sellers.seller\"]"),
        "{mermaid}"
    );
}
