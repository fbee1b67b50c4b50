//! Matching an image against every `imagePath` pattern of a policy set in few passes.
//!
//! Walking N policies would otherwise run the subject through N separate regex sets, which
//! dominated evaluation time. Instead, the distinct patterns of the whole set are compiled into
//! `RegexSet`s of at most `CHUNK` patterns each (one set of thousands of patterns outgrows the
//! lazy DFA and drops to the much slower NFA simulation); per image, each set says which of its
//! patterns match, and each criterion only checks its pattern ids. Semantics are unchanged:
//! `RegexSet::matches` reports exactly the patterns that would match on their own (unanchored).

use std::collections::HashMap;

use regex::{Regex, RegexSet};

/// Patterns per combined set: small enough for the lazy DFA to stay fast.
const CHUNK: usize = 512;

/// Interns patterns, handing out the id each criterion refers to.
#[derive(Debug, Default)]
pub struct PatternTable {
    ids: HashMap<String, usize>,
    patterns: Vec<String>,
}

impl PatternTable {
    pub fn intern(&mut self, pattern: &str) -> usize {
        if let Some(&id) = self.ids.get(pattern) {
            return id;
        }
        let id = self.patterns.len();
        self.patterns.push(pattern.to_string());
        self.ids.insert(pattern.to_string(), id);
        id
    }

    /// Compiles the interned patterns. Every pattern was validated on its own when its policy
    /// compiled; a chunk that still fails to build as a set (size limits) is matched pattern by
    /// pattern instead, which is slower but never wrong.
    pub fn build(self) -> PathMatcher {
        let chunks = self
            .patterns
            .chunks(CHUNK)
            .map(|chunk| match RegexSet::new(chunk) {
                Ok(set) => Chunk::Set(set),
                Err(_) => {
                    Chunk::Separate(chunk.iter().filter_map(|p| Regex::new(p).ok()).collect())
                }
            })
            .collect();
        PathMatcher {
            chunks,
            len: self.patterns.len(),
        }
    }
}

#[derive(Clone, Debug)]
enum Chunk {
    Set(RegexSet),
    Separate(Vec<Regex>),
}

#[derive(Clone, Debug, Default)]
pub struct PathMatcher {
    chunks: Vec<Chunk>,
    len: usize,
}

/// Which patterns matched one subject, as a bitset over pattern ids.
pub struct MatchedPatterns {
    bits: Vec<u64>,
}

impl MatchedPatterns {
    pub fn contains(&self, id: usize) -> bool {
        self.bits
            .get(id / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// The ids of the patterns that matched, ascending.
    pub fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits
            .iter()
            .enumerate()
            .flat_map(|(word_index, &word)| {
                let mut rest = word;
                std::iter::from_fn(move || {
                    if rest == 0 {
                        return None;
                    }
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    Some(word_index * 64 + bit)
                })
            })
    }

    fn insert(&mut self, id: usize) {
        if let Some(word) = self.bits.get_mut(id / 64) {
            *word |= 1 << (id % 64);
        }
    }
}

impl PathMatcher {
    pub fn matches(&self, subject: &str) -> MatchedPatterns {
        let mut matched = MatchedPatterns {
            bits: vec![0; self.len.div_ceil(64)],
        };
        for (index, chunk) in self.chunks.iter().enumerate() {
            let base = index * CHUNK;
            match chunk {
                // Most subjects match none of a chunk's patterns: a plain search says so faster
                // than the overlapping one, whose answer lists every pattern of the chunk.
                Chunk::Set(set) if !set.is_match(subject) => {}
                Chunk::Set(set) => set
                    .matches(subject)
                    .iter()
                    .for_each(|id| matched.insert(base + id)),
                Chunk::Separate(regexes) => {
                    for (id, regex) in regexes.iter().enumerate() {
                        if regex.is_match(subject) {
                            matched.insert(base + id);
                        }
                    }
                }
            }
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_patterns_share_an_id() {
        let mut table = PatternTable::default();
        assert_eq!(table.intern("^a"), 0);
        assert_eq!(table.intern("^b"), 1);
        assert_eq!(table.intern("^a"), 0);
    }

    #[test]
    fn combined_matching_reports_every_pattern_that_matches_anywhere() {
        let mut table = PatternTable::default();
        let ids: Vec<usize> = ["^gcr.io/", "nginx", "^docker.io/", "latest$"]
            .iter()
            .map(|p| table.intern(p))
            .collect();
        let matcher = table.build();
        let matched = matcher.matches("docker.io/library/nginx:latest");
        let hits: Vec<bool> = ids.iter().map(|&id| matched.contains(id)).collect();
        assert_eq!(hits, [false, true, true, true]);
        assert_eq!(matched.ids().collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn pattern_ids_beyond_one_chunk_match_like_single_regexes() {
        let mut table = PatternTable::default();
        let patterns: Vec<String> = (0..CHUNK * 2 + 10)
            .map(|i| format!("^registry.example.com/team-{i}/"))
            .collect();
        for pattern in &patterns {
            table.intern(pattern);
        }
        let matcher = table.build();
        for probe in [0, CHUNK - 1, CHUNK, CHUNK * 2 + 9] {
            let subject = format!("registry.example.com/team-{probe}/app:1");
            let matched = matcher.matches(&subject);
            let mut expected_ids = Vec::new();
            for (id, pattern) in patterns.iter().enumerate() {
                let expected = Regex::new(pattern).unwrap().is_match(&subject);
                assert_eq!(matched.contains(id), expected, "{subject} pattern {id}");
                if expected {
                    expected_ids.push(id);
                }
            }
            assert_eq!(matched.ids().collect::<Vec<_>>(), expected_ids, "{subject}");
        }
    }

    #[test]
    fn an_empty_table_matches_nothing() {
        let matched = PatternTable::default().build().matches("anything");
        assert!(!matched.contains(0));
    }
}
