//! "Did you mean" suggestions for misspelled names (fields, functions), by edit distance.

/// The candidate closest to `name`: a case-insensitive match, or else the nearest one within
/// two edits (insert, delete, substitute, or swap two adjacent characters). Edits must leave
/// part of `name` intact, so a one-letter name is not "corrected" into an unrelated one.
/// Ties go to the earliest candidate. Returns the candidate itself, e.g. `Some("value")`.
pub fn suggest(name: &str, candidates: &[&str]) -> Option<String> {
    if let Some(c) = candidates
        .iter()
        .find(|c| **c != name && c.eq_ignore_ascii_case(name))
    {
        return Some((*c).to_string());
    }
    let lower = name.to_lowercase();
    let name_len = lower.chars().count();
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if *c == name {
            continue;
        }
        let d = edit_distance(&lower, &c.to_lowercase());
        if d <= 2 && d < name_len && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// [`suggest`] phrased for an error message: ``did you mean `value`?``.
pub fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    suggest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Optimal-string-alignment distance: Levenshtein plus adjacent transpositions, over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back (for transpositions), previous, current.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
