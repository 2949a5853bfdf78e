//! Packing PutEvents calls: at most 10 entries and at most the size limit per call.

use crate::ports::sink::PutEntry;

/// AWS's PutEvents limits.
pub const MAX_ENTRIES: usize = 10;
pub const DEFAULT_SIZE_LIMIT: usize = 256 * 1024;

/// Splits indexes of `entries` into calls of ≤ 10 entries and ≤ `limit` bytes (AWS's
/// entry-size rule), keeping order. An entry larger than the limit alone is the caller's
/// to refuse beforehand.
pub fn pack(entries: &[&PutEntry], limit: usize) -> Vec<Vec<usize>> {
    let mut calls: Vec<Vec<usize>> = Vec::new();
    let mut size = 0usize;
    for (i, e) in entries.iter().enumerate() {
        let s = e.size();
        let fits = calls
            .last()
            .is_some_and(|c| c.len() < MAX_ENTRIES && size + s <= limit);
        if !fits {
            calls.push(Vec::new());
            size = 0;
        }
        calls.last_mut().expect("pushed").push(i);
        size += s;
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_len: usize) -> PutEntry {
        PutEntry {
            bus: "b".into(),
            source: "s".into(),
            detail_type: "t".into(),
            detail: "x".repeat(detail_len),
            resources: vec![],
            time: None,
        }
    }

    #[test]
    fn packs_by_count() {
        let es: Vec<PutEntry> = (0..23).map(|_| entry(10)).collect();
        let refs: Vec<&PutEntry> = es.iter().collect();
        let calls = pack(&refs, DEFAULT_SIZE_LIMIT);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 3]);
        assert_eq!(calls.concat(), (0..23).collect::<Vec<_>>());
    }

    #[test]
    fn packs_by_size() {
        // Each entry is 2 + 100_000 bytes: two fit in 256 KiB, three do not.
        let es: Vec<PutEntry> = (0..5).map(|_| entry(100_000)).collect();
        let refs: Vec<&PutEntry> = es.iter().collect();
        let calls = pack(&refs, DEFAULT_SIZE_LIMIT);
        assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        for c in &calls {
            assert!(c.iter().map(|&i| es[i].size()).sum::<usize>() <= DEFAULT_SIZE_LIMIT);
        }
    }
}
