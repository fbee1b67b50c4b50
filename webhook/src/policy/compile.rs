//! Turning `ContainerAdmissionPolicy` objects into their evaluable form once, when they are
//! loaded: selectors parsed, regular expressions compiled, time criteria checked. Nothing here
//! runs per admission request.

use std::cmp::Ordering;
use std::collections::HashMap;

use jiff::Timestamp;

use super::candidates::RuleIndex;
use super::crd::{
    Action, CalendarDuration, ContainerAdmissionPolicy, Enforcement, SetOperator, StringValueMatch,
    TimeMatch, TimeOperator,
};
use super::paths::{MatchedPatterns, PathMatcher, PatternTable};
use crate::quote::{bound_owned, cut, quote};
use crate::scan::ScanStatus;
use crate::selector::Selector;
use crate::timestamp::parse_rfc3339;

/// What is wrong with a policy: which policy, which field, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ContainerAdmissionPolicy {}: field `{field}`: {message}", cut(policy))]
pub struct PolicyError {
    pub policy: String,
    pub field: String,
    pub message: String,
}

/// A policy ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    pub name: String,
    pub order: Option<f64>,
    pub selector: Selector,
    pub namespace_selector: Selector,
    pub rules: Vec<CompiledRule>,
}

#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub action: Action,
    pub image_path: Option<PathCriterion>,
    pub scan_status: Option<StatusCriterion>,
    pub last_scan: Option<LastScanCriterion>,
}

impl CompiledRule {
    /// Whether deciding this rule needs the image's scan result.
    pub fn needs_scan(&self) -> bool {
        self.scan_status.is_some() || self.last_scan.is_some()
    }
}

/// `imagePath`: the patterns, and their ids in the policy set's combined matcher (assigned
/// when the policy joins a `PolicySet`).
#[derive(Clone, Debug)]
pub struct PathCriterion {
    pub operator: SetOperator,
    pub patterns: Vec<String>,
    pub ids: Vec<usize>,
}

impl PathCriterion {
    pub fn matches(&self, matched: &MatchedPatterns) -> bool {
        let any = self.ids.iter().any(|&id| matched.contains(id));
        match self.operator {
            SetOperator::IsOneOf => any,
            SetOperator::IsNoneOf => !any,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StatusCriterion {
    pub operator: SetOperator,
    pub values: Vec<ScanStatus>,
}

impl StatusCriterion {
    pub fn matches(&self, status: ScanStatus) -> bool {
        let any = self.values.contains(&status);
        match self.operator {
            SetOperator::IsOneOf => any,
            SetOperator::IsNoneOf => !any,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanTimeBound {
    /// `now − months − days`, computed at evaluation time (years are folded into months).
    Ago {
        months: i64,
        days: i64,
    },
    At(Timestamp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastScanCriterion {
    pub operator: TimeOperator,
    pub bound: ScanTimeBound,
}

/// A policy that failed to compile. It is kept, not dropped: requests it could apply to are
/// rejected until it is fixed (policy-semantics §7).
#[derive(Clone, Debug)]
pub struct InvalidPolicy {
    pub name: String,
    pub error: PolicyError,
    /// The selectors, when both parsed; `None` means the policy could apply to any request.
    pub selectors: Option<(Selector, Selector)>,
}

/// Every policy of the cluster (or of an offline run), compiled and in evaluation order.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    policies: Vec<CompiledPolicy>,
    invalid: Vec<InvalidPolicy>,
    paths: PathMatcher,
    /// The distinct selectors of all valid policies: many policies share one (`all()`, a team
    /// label), so each is evaluated once per request.
    selectors: Vec<Selector>,
    /// Per policy (in `policies` order): ids of its `selector` and `namespaceSelector`.
    selector_ids: Vec<(usize, usize)>,
    rule_index: RuleIndex,
    /// The `Warn` and `Audit` policies, each a set of its own: they change no decision, and
    /// each is evaluated as if it were the only policy.
    advisory: Vec<Advisory>,
}

/// A `Warn` or `Audit` policy (valid or not), as a set of one.
#[derive(Clone, Debug)]
pub struct Advisory {
    pub enforcement: Enforcement,
    pub set: PolicySet,
}

impl PolicySet {
    pub fn compile<'a>(policies: impl IntoIterator<Item = &'a ContainerAdmissionPolicy>) -> Self {
        Self::compile_with_undecodable(policies, Vec::new())
    }

    /// Like `compile`, plus policies that did not even decode (a watched object of another
    /// shape): they are invalid with unknown selectors, so they reject every request.
    pub fn compile_with_undecodable<'a>(
        policies: impl IntoIterator<Item = &'a ContainerAdmissionPolicy>,
        undecodable: Vec<PolicyError>,
    ) -> Self {
        Self::compile_enforcing(policies, undecodable, None)
    }

    /// Like `compile_with_undecodable`, with every policy's enforcement replaced by `every`
    /// when given (`serve --enforcement warn`, a dry run of the whole cluster's policies).
    /// A policy that did not decode has no enforcement of its own: it is enforced.
    pub fn compile_enforcing<'a>(
        policies: impl IntoIterator<Item = &'a ContainerAdmissionPolicy>,
        undecodable: Vec<PolicyError>,
        every: Option<Enforcement>,
    ) -> Self {
        let (enforced, advisory): (Vec<_>, Vec<_>) = policies.into_iter().partition(|policy| {
            every.or(policy.spec.enforcement).unwrap_or_default() == Enforcement::Enforce
        });
        let mut set = Self::compile_enforced(enforced, undecodable);
        set.advisory = advisory
            .into_iter()
            .map(|policy| Advisory {
                enforcement: every.or(policy.spec.enforcement).unwrap_or_default(),
                set: Self::compile_enforced([policy], Vec::new()),
            })
            .collect();
        set.advisory
            .sort_by(|a, b| advisory_name(a).cmp(advisory_name(b)));
        set
    }

    fn compile_enforced<'a>(
        policies: impl IntoIterator<Item = &'a ContainerAdmissionPolicy>,
        undecodable: Vec<PolicyError>,
    ) -> Self {
        let mut set = PolicySet::default();
        for error in undecodable {
            set.invalid.push(InvalidPolicy {
                name: error.policy.clone(),
                selectors: None,
                error,
            });
        }
        for policy in policies {
            match compile_policy(policy) {
                Ok(compiled) => set.policies.push(compiled),
                Err(error) => set.invalid.push(InvalidPolicy {
                    name: policy_name(policy).to_string(),
                    selectors: compile_selectors(policy).ok(),
                    error,
                }),
            }
        }
        set.policies.sort_by(evaluation_order);
        set.invalid.sort_by(|a, b| a.name.cmp(&b.name));
        let mut table = PatternTable::default();
        let criteria = set
            .policies
            .iter_mut()
            .flat_map(|policy| &mut policy.rules)
            .filter_map(|rule| rule.image_path.as_mut());
        for criterion in criteria {
            criterion.ids = criterion
                .patterns
                .iter()
                .map(|pattern| table.intern(pattern))
                .collect();
        }
        set.paths = table.build();
        set.rule_index = RuleIndex::build(&set.policies);
        let mut ids: HashMap<Selector, usize> = HashMap::new();
        let mut intern = |selector: &Selector, selectors: &mut Vec<Selector>| {
            *ids.entry(selector.clone()).or_insert_with(|| {
                selectors.push(selector.clone());
                selectors.len() - 1
            })
        };
        for policy in &set.policies {
            let object = intern(&policy.selector, &mut set.selectors);
            let namespace = intern(&policy.namespace_selector, &mut set.selectors);
            set.selector_ids.push((object, namespace));
        }
        set
    }

    /// The distinct selectors, and per policy the ids of its two selectors in that list.
    pub fn selectors(&self) -> (&[Selector], &[(usize, usize)]) {
        (&self.selectors, &self.selector_ids)
    }

    /// Which `imagePath` patterns of the set match `subject` (one pass for all policies).
    pub fn match_paths(&self, subject: &str) -> MatchedPatterns {
        self.paths.matches(subject)
    }

    /// Which rules could match an image, given its `match_paths`.
    pub fn rule_index(&self) -> &RuleIndex {
        &self.rule_index
    }

    /// Valid policies in evaluation order.
    pub fn policies(&self) -> &[CompiledPolicy] {
        &self.policies
    }

    pub fn invalid(&self) -> &[InvalidPolicy] {
        &self.invalid
    }

    /// The `Warn` and `Audit` policies, by name.
    pub fn advisory(&self) -> &[Advisory] {
        &self.advisory
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.invalid.is_empty() && self.advisory.is_empty()
    }
}

fn advisory_name(advisory: &Advisory) -> &str {
    advisory
        .set
        .policies
        .first()
        .map(|policy| policy.name.as_str())
        .or_else(|| {
            advisory
                .set
                .invalid
                .first()
                .map(|invalid| invalid.name.as_str())
        })
        .unwrap_or_default()
}

/// Ascending `order`; a policy without one after all that have one; ties by name.
fn evaluation_order(a: &CompiledPolicy, b: &CompiledPolicy) -> Ordering {
    let by_order = match (a.order, b.order) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_order.then_with(|| a.name.cmp(&b.name))
}

fn policy_name(policy: &ContainerAdmissionPolicy) -> &str {
    policy.metadata.name.as_deref().unwrap_or("<unnamed>")
}

/// Compiles one policy; the first error found is reported with its field path.
pub fn compile_policy(policy: &ContainerAdmissionPolicy) -> Result<CompiledPolicy, PolicyError> {
    let name = policy_name(policy);
    let error = |field: String, message: String| PolicyError {
        policy: name.to_string(),
        field,
        // Library errors (a regex's, a timestamp's) may quote the input whole.
        message: bound_owned(message),
    };
    if policy.metadata.name.as_deref().is_none_or(str::is_empty) {
        return Err(error("metadata.name".into(), "a name is required".into()));
    }
    let spec = &policy.spec;
    if let Some(order) = spec.order
        && !order.is_finite()
    {
        return Err(error(
            "spec.order".into(),
            format!("must be a finite number, got {order}"),
        ));
    }
    let (selector, namespace_selector) = compile_selectors(policy)?;
    check_sizes(spec).map_err(|(field, message)| error(field, message))?;
    let mut rules = Vec::with_capacity(spec.rules.len());
    for (index, rule) in spec.rules.iter().enumerate() {
        let field = |name: &str| format!("spec.rules[{index}].{name}");
        let image_path = match &rule.image_path {
            Some(criterion) => Some(compile_path(criterion).map_err(|(sub, message)| {
                error(format!("{}{sub}", field("imagePath")), message)
            })?),
            None => None,
        };
        let scan_status = match &rule.image_scan_status {
            Some(criterion) if criterion.values.is_empty() => {
                return Err(error(field("imageScanStatus.values"), EMPTY_VALUES.into()));
            }
            Some(criterion) => Some(StatusCriterion {
                operator: criterion.operator,
                values: criterion.values.clone(),
            }),
            None => None,
        };
        let last_scan = match &rule.image_last_scan {
            Some(criterion) => Some(compile_last_scan(criterion).map_err(|(sub, message)| {
                error(format!("{}{sub}", field("imageLastScan")), message)
            })?),
            None => None,
        };
        rules.push(CompiledRule {
            action: rule.action,
            image_path,
            scan_status,
            last_scan,
        });
    }
    check_patterns_together(&rules).map_err(|message| error("spec.rules".into(), message))?;
    Ok(CompiledPolicy {
        name: name.to_string(),
        order: spec.order,
        selector,
        namespace_selector,
        rules,
    })
}

/// An empty value list is almost certainly a mistake (`IsNoneOf: []` would match everything),
/// so we refuse it rather than guess.
const EMPTY_VALUES: &str = "must list at least one value";

fn compile_selectors(
    policy: &ContainerAdmissionPolicy,
) -> Result<(Selector, Selector), PolicyError> {
    let parse = |field: &str, text: &Option<String>| match text {
        None => Ok(Selector::all()),
        Some(text) => Selector::parse(text).map_err(|error| PolicyError {
            policy: policy_name(policy).to_string(),
            field: field.to_string(),
            message: format!("invalid selector {}: {error}", quote(text)),
        }),
    };
    Ok((
        parse("spec.selector", &policy.spec.selector)?,
        parse("spec.namespaceSelector", &policy.spec.namespace_selector)?,
    ))
}

type FieldError = (String, String);

/// The most rules one policy may have.
pub const MAX_RULES: usize = 1024;
/// The most values one criterion may list, and `imagePath` patterns one policy may have.
pub const MAX_VALUES: usize = 1024;
/// The longest `imagePath` pattern, in bytes (real ones are tens of bytes).
pub const MAX_PATTERN_BYTES: usize = 4096;
/// The largest compiled form of one pattern (the `regex` crate's `size_limit`); real patterns
/// take a few KiB, while a short one such as `\w{100}` takes 5 MB.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// The largest compiled form of all of one policy's patterns together.
pub const POLICY_PATTERNS_SIZE_LIMIT: usize = 16 << 20;

/// What one policy may hold, so that compiling it takes bounded memory and time.
fn check_sizes(spec: &crate::policy::ContainerAdmissionPolicySpec) -> Result<(), FieldError> {
    if spec.rules.len() > MAX_RULES {
        return Err((
            "spec.rules".into(),
            format!(
                "has {} rules, more than the limit of {MAX_RULES}",
                spec.rules.len()
            ),
        ));
    }
    let mut patterns = 0usize;
    for (index, rule) in spec.rules.iter().enumerate() {
        let lists = [
            (
                "imagePath",
                rule.image_path.as_ref().map(|c| c.values.len()),
            ),
            (
                "imageScanStatus",
                rule.image_scan_status.as_ref().map(|c| c.values.len()),
            ),
        ];
        for (name, len) in lists {
            if let Some(len) = len
                && len > MAX_VALUES
            {
                return Err((
                    format!("spec.rules[{index}].{name}.values"),
                    format!("lists {len} values, more than the limit of {MAX_VALUES}"),
                ));
            }
        }
        patterns += rule.image_path.as_ref().map_or(0, |c| c.values.len());
        if patterns > MAX_VALUES {
            return Err((
                format!("spec.rules[{index}].imagePath.values"),
                format!("the policy lists more than {MAX_VALUES} imagePath patterns in all"),
            ));
        }
    }
    Ok(())
}

/// A regex error in our words where the crate's are vague (its size limit names no cause).
fn regex_error(error: &regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(limit) => {
            format!("compiles to more than {limit} bytes (simplify it, e.g. fewer repetitions)")
        }
        other => other.to_string(),
    }
}

/// All the policy's patterns compiled together stay within `POLICY_PATTERNS_SIZE_LIMIT`.
fn check_patterns_together(rules: &[CompiledRule]) -> Result<(), String> {
    let patterns: Vec<&str> = rules
        .iter()
        .filter_map(|rule| rule.image_path.as_ref())
        .flat_map(|criterion| criterion.patterns.iter().map(String::as_str))
        .collect();
    if patterns.len() < 2 {
        return Ok(());
    }
    regex::RegexSetBuilder::new(patterns)
        .size_limit(POLICY_PATTERNS_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|error| format!("the imagePath patterns together: {}", regex_error(&error)))
}

fn compile_path(criterion: &StringValueMatch<String>) -> Result<PathCriterion, FieldError> {
    if criterion.values.is_empty() {
        return Err((".values".into(), EMPTY_VALUES.into()));
    }
    for (index, pattern) in criterion.values.iter().enumerate() {
        // Compiled one by one first so the error names the offending value; the length is
        // checked before parsing, which alone costs memory in proportion to it.
        let compiled = if pattern.len() > MAX_PATTERN_BYTES {
            Err(format!(
                "is {} bytes long, more than the limit of {MAX_PATTERN_BYTES}",
                pattern.len()
            ))
        } else {
            regex::RegexBuilder::new(pattern)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|error| regex_error(&error))
        };
        if let Err(message) = compiled {
            return Err((
                format!(".values[{index}]"),
                format!("invalid regular expression {}: {message}", quote(pattern)),
            ));
        }
    }
    Ok(PathCriterion {
        operator: criterion.operator,
        patterns: criterion.values.clone(),
        ids: Vec::new(),
    })
}

fn compile_last_scan(criterion: &TimeMatch) -> Result<LastScanCriterion, FieldError> {
    let bound = match (&criterion.duration, &criterion.time) {
        (Some(_), Some(_)) => {
            return Err((
                String::new(),
                "set either `duration` or `time`, not both".into(),
            ));
        }
        (None, None) => {
            return Err((String::new(), "set one of `duration` or `time`".into()));
        }
        (Some(duration), None) => duration_bound(duration)?,
        (None, Some(time)) => ScanTimeBound::At(
            parse_rfc3339(time).map_err(|error| (".time".to_string(), error.to_string()))?,
        ),
    };
    Ok(LastScanCriterion {
        operator: criterion.operator,
        bound,
    })
}

fn duration_bound(duration: &CalendarDuration) -> Result<ScanTimeBound, FieldError> {
    let part = |name: &str, value: Option<i64>| match value {
        Some(value) if value < 0 => Err((
            format!(".duration.{name}"),
            format!("must not be negative, got {value}"),
        )),
        value => Ok(value.unwrap_or(0)),
    };
    let days = part("days", duration.days)?;
    let months = part("months", duration.months)?;
    let years = part("years", duration.years)?;
    let months = years
        .checked_mul(12)
        .and_then(|year_months| year_months.checked_add(months))
        .ok_or_else(|| (".duration".to_string(), "is too long".to_string()))?;
    Ok(ScanTimeBound::Ago { months, days })
}
