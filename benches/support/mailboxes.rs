//! How one account's copy differs from its source, folder by folder, as
//! the benchmarks check every copy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

/// One line per folder of `user` that differs between `want` (the source)
/// and `got` (the destination); none when the copy is exact. Folders are
/// sorted lists of messages, compared as multisets.
pub fn differences<T: Ord + Debug>(
    user: &str,
    want: &BTreeMap<String, Vec<T>>,
    got: &BTreeMap<String, Vec<T>>,
) -> Vec<String> {
    let mut lines = Vec::new();
    let names: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for name in names {
        match (want.get(name), got.get(name)) {
            (Some(_), None) => lines.push(format!("{user}: folder {name:?} missing")),
            (None, Some(_)) => lines.push(format!("{user}: unexpected folder {name:?}")),
            (Some(w), Some(g)) if w != g => {
                let missing = multiset_minus(w, g);
                let extra = multiset_minus(g, w);
                lines.push(format!(
                    "{user}: {name:?}: {} source messages, {} at the destination; \
                     {} missing (first {:?}), {} extra (first {:?})",
                    w.len(),
                    g.len(),
                    missing.len(),
                    missing.first(),
                    extra.len(),
                    extra.first()
                ));
            }
            _ => {}
        }
    }
    lines
}

/// Items of sorted `a` not matched one-for-one in sorted `b`.
fn multiset_minus<'a, T: Ord>(a: &'a [T], b: &[T]) -> Vec<&'a T> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() {
        if j >= b.len() || a[i] < b[j] {
            out.push(&a[i]);
            i += 1;
        } else if a[i] > b[j] {
            j += 1;
        } else {
            i += 1;
            j += 1;
        }
    }
    out
}
