//! Which rules could match an image, so that evaluation visits only those.
//!
//! A rule whose `imagePath` is `IsOneOf` matches only an image that one of its patterns matches,
//! and an image matches few of a cluster's patterns: walking every rule of every applicable
//! policy, most of them unable to match, was most of the evaluation time with many policies.
//! The index maps each pattern to the rules that list it under `IsOneOf`; every other rule (no
//! `imagePath`, or `IsNoneOf`) is always a candidate. Candidates come out in evaluation order,
//! so the first of them that matches is the rule a walk of all rules would have found
//! (policy-semantics §4): a rule left out could not have matched.

use super::compile::CompiledPolicy;
use super::crd::SetOperator;
use super::paths::MatchedPatterns;

/// Where a rule is: its policy's index in the set's evaluation order and its own index there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RulePosition {
    pub policy: usize,
    pub rule: usize,
}

/// Rules are numbered in evaluation order; the lists below hold those numbers, ascending.
#[derive(Clone, Debug, Default)]
pub struct RuleIndex {
    positions: Vec<RulePosition>,
    /// Rules that any image may match.
    unconditional: Vec<usize>,
    /// Per pattern id: the `IsOneOf` rules that list the pattern.
    by_pattern: Vec<Vec<usize>>,
}

impl RuleIndex {
    /// Indexes `policies` (in evaluation order), whose path criteria already carry their
    /// pattern ids.
    pub fn build(policies: &[CompiledPolicy]) -> Self {
        let mut index = RuleIndex::default();
        for (policy_index, policy) in policies.iter().enumerate() {
            for (rule_index, rule) in policy.rules.iter().enumerate() {
                let number = index.positions.len();
                index.positions.push(RulePosition {
                    policy: policy_index,
                    rule: rule_index,
                });
                match &rule.image_path {
                    Some(path) if path.operator == SetOperator::IsOneOf => {
                        for &id in &path.ids {
                            if index.by_pattern.len() <= id {
                                index.by_pattern.resize_with(id + 1, Vec::new);
                            }
                            if let Some(rules) = index.by_pattern.get_mut(id)
                                && rules.last() != Some(&number)
                            {
                                rules.push(number);
                            }
                        }
                    }
                    _ => index.unconditional.push(number),
                }
            }
        }
        index
    }

    /// The rules an image whose path patterns are `matched` could match, in evaluation order.
    pub fn candidates(&self, matched: &MatchedPatterns) -> Vec<RulePosition> {
        let mut numbers = self.unconditional.clone();
        let before = numbers.len();
        for id in matched.ids() {
            if let Some(rules) = self.by_pattern.get(id) {
                numbers.extend_from_slice(rules);
            }
        }
        if numbers.len() != before {
            numbers.sort_unstable();
            numbers.dedup();
        }
        numbers
            .into_iter()
            .filter_map(|number| self.positions.get(number).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ContainerAdmissionPolicy, PolicySet};

    fn set(policies: &[serde_json::Value]) -> PolicySet {
        let decoded: Vec<ContainerAdmissionPolicy> = policies
            .iter()
            .map(|policy| serde_json::from_value(policy.clone()).expect("valid policy"))
            .collect();
        let set = PolicySet::compile(&decoded);
        assert!(set.invalid().is_empty(), "{:?}", set.invalid());
        set
    }

    fn policy(name: &str, order: u32, rules: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "containersecurity.tigera.io/v1beta1",
            "kind": "ContainerAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {"order": order, "rules": rules},
        })
    }

    /// Every rule whose `imagePath` criterion holds for `subject` (a rule without one holds),
    /// in evaluation order: what a walk of all rules would try.
    fn path_matching_rules(set: &PolicySet, subject: &str) -> Vec<RulePosition> {
        let matched = set.match_paths(subject);
        let mut positions = Vec::new();
        for (policy_index, policy) in set.policies().iter().enumerate() {
            for (rule_index, rule) in policy.rules.iter().enumerate() {
                if rule
                    .image_path
                    .as_ref()
                    .is_none_or(|path| path.matches(&matched))
                {
                    positions.push(RulePosition {
                        policy: policy_index,
                        rule: rule_index,
                    });
                }
            }
        }
        positions
    }

    fn candidates(set: &PolicySet, subject: &str) -> Vec<RulePosition> {
        set.rule_index().candidates(&set.match_paths(subject))
    }

    fn at(policy: usize, rule: usize) -> RulePosition {
        RulePosition { policy, rule }
    }

    #[test]
    fn only_rules_listing_a_matched_pattern_and_unconditional_rules_are_candidates() {
        let set = set(&[
            policy(
                "first",
                1,
                serde_json::json!([
                    {"action": "Reject", "imagePath": {"operator": "IsOneOf", "values": ["^quay.io/"]}},
                    {"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": ["^gcr.io/", "^docker.io/"]}},
                ]),
            ),
            policy(
                "second",
                2,
                serde_json::json!([
                    {"action": "Reject", "imagePath": {"operator": "IsNoneOf", "values": ["^gcr.io/"]}},
                    {"action": "Reject", "imageScanStatus": {"operator": "IsOneOf", "values": ["Fail"]}},
                    {"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": ["^gcr.io/company/"]}},
                ]),
            ),
        ]);
        assert_eq!(
            candidates(&set, "gcr.io/company/app:1"),
            [at(0, 1), at(1, 0), at(1, 1), at(1, 2)]
        );
        assert_eq!(
            candidates(&set, "quay.io/team/app:1"),
            [at(0, 0), at(1, 0), at(1, 1)]
        );
        assert_eq!(
            candidates(&set, "registry.example.com/app:1"),
            [at(1, 0), at(1, 1)]
        );
    }

    #[test]
    fn a_rule_listing_two_matching_patterns_is_a_candidate_once() {
        let set = set(&[policy(
            "only",
            1,
            serde_json::json!([
                {"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": ["^gcr.io/", "app", "^gcr.io/"]}},
            ]),
        )]);
        assert_eq!(candidates(&set, "gcr.io/app:1"), [at(0, 0)]);
    }

    #[test]
    fn candidates_are_exactly_the_rules_whose_path_criterion_holds_or_is_negated() {
        // Patterns shared between policies, negated criteria, rules without a path, and
        // subjects matching none, one or several patterns.
        let patterns = [
            "^gcr.io/",
            "^quay.io/",
            "nginx",
            ":latest$",
            "^gcr.io/company/",
        ];
        let mut policies = Vec::new();
        for index in 0..12u32 {
            let first = patterns[index as usize % patterns.len()];
            let second = patterns[(index as usize * 3 + 1) % patterns.len()];
            let operator = if index % 4 == 3 {
                "IsNoneOf"
            } else {
                "IsOneOf"
            };
            let mut rules = vec![
                serde_json::json!({"action": "Reject", "imagePath": {"operator": operator, "values": [first, second]}}),
            ];
            if index % 3 == 0 {
                rules.push(serde_json::json!({"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass"]}}));
            }
            policies.push(policy(
                &format!("p{index:02}"),
                12 - index,
                serde_json::json!(rules),
            ));
        }
        let set = set(&policies);
        for subject in [
            "gcr.io/company/nginx:latest",
            "quay.io/team/app:1",
            "docker.io/library/nginx:1.27",
            "registry.example.com/app:2",
        ] {
            let candidates = candidates(&set, subject);
            // Negated criteria are candidates whether or not they hold; every other candidate
            // holds, and no rule that holds is missing.
            let holding = path_matching_rules(&set, subject);
            for position in &holding {
                assert!(
                    candidates.contains(position),
                    "{subject}: {position:?} missing"
                );
            }
            for position in &candidates {
                let rule = &set.policies()[position.policy].rules[position.rule];
                let negated = rule
                    .image_path
                    .as_ref()
                    .is_some_and(|path| path.operator == SetOperator::IsNoneOf);
                assert!(
                    negated || holding.contains(position),
                    "{subject}: {position:?}"
                );
            }
            let mut sorted = candidates.clone();
            sorted.sort_by_key(|position| (position.policy, position.rule));
            assert_eq!(candidates, sorted, "{subject}: not in evaluation order");
        }
    }
}
