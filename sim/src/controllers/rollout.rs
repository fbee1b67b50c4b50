//! The arithmetic of a Deployment rollout (`deployment/util` and `rolling.go`), kept pure so it
//! can be tested without a cluster.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `intstr.GetScaledValueFromIntOrPercent`: a count, or a percentage of `total` rounded up or
/// down. A malformed value counts as 0.
pub fn scaled(value: Option<&IntOrString>, default: &str, total: i32, round_up: bool) -> i32 {
    let text = match value {
        Some(IntOrString::Int(count)) => return (*count).max(0),
        Some(IntOrString::String(text)) => text.as_str(),
        None => default,
    };
    let Some(percent) = text.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
        return text.parse::<i32>().unwrap_or(0).max(0);
    };
    let product = i64::from(total) * percent.max(0);
    let value = if round_up {
        (product + 99) / 100
    } else {
        product / 100
    };
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// `ResolveFenceposts`: (maxSurge, maxUnavailable); both zero would deadlock, so
/// maxUnavailable becomes 1.
pub fn fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> (i32, i32) {
    let surge = scaled(max_surge, "25%", desired, true);
    let unavailable = scaled(max_unavailable, "25%", desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// A ReplicaSet as the rollout sees it: wanted and available pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub spec: i32,
    pub available: i32,
}

/// The new ReplicaSet's replicas after scale-up (`NewRSNewReplicas` for RollingUpdate).
pub fn new_rs_replicas(desired: i32, surge: i32, new: Counts, old: &[Counts]) -> i32 {
    if new.spec >= desired {
        return desired;
    }
    let total: i32 = new.spec + old.iter().map(|rs| rs.spec).sum::<i32>();
    let max_total = desired + surge;
    if total >= max_total {
        return new.spec;
    }
    new.spec + (max_total - total).min(desired - new.spec)
}

/// The old ReplicaSets' replicas after scale-down (`reconcileOldReplicaSets`): first
/// unhealthy pods, then available ones, never below `desired - maxUnavailable` available pods.
/// `old` is ordered oldest first.
pub fn old_rs_replicas(desired: i32, unavailable: i32, new: Counts, old: &[Counts]) -> Vec<i32> {
    let mut result: Vec<i32> = old.iter().map(|rs| rs.spec).collect();
    if result.iter().sum::<i32>() == 0 {
        return result;
    }
    let all: i32 = new.spec + result.iter().sum::<i32>();
    let min_available = desired - unavailable;
    let new_unavailable = (new.spec - new.available).max(0);
    let mut budget = all - min_available - new_unavailable;
    if budget <= 0 {
        return result;
    }
    for (index, rs) in old.iter().enumerate() {
        let unhealthy = (rs.spec - rs.available).max(0);
        let take = unhealthy.min(budget);
        result[index] -= take;
        budget -= take;
    }
    let available: i32 = new.available + old.iter().map(|rs| rs.available).sum::<i32>();
    let mut scale_down = available - min_available;
    for replicas in result.iter_mut() {
        if scale_down <= 0 {
            break;
        }
        let take = (*replicas).min(scale_down);
        *replicas -= take;
        scale_down -= take;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenceposts_default_to_a_quarter_rounded_outwards() {
        assert_eq!(fenceposts(None, None, 10), (3, 2));
        assert_eq!(fenceposts(None, None, 3), (1, 0));
        assert_eq!(
            fenceposts(Some(&IntOrString::Int(0)), Some(&IntOrString::Int(0)), 3),
            (0, 1)
        );
        assert_eq!(
            fenceposts(
                Some(&IntOrString::String("50%".into())),
                Some(&IntOrString::Int(2)),
                3
            ),
            (2, 2)
        );
    }

    #[test]
    fn a_rolling_update_surges_then_replaces_available_pods() {
        let old = [Counts {
            spec: 3,
            available: 3,
        }];
        let new = Counts {
            spec: 0,
            available: 0,
        };
        // Surge 1: one new pod first.
        assert_eq!(new_rs_replicas(3, 1, new, &old), 1);
        let new = Counts {
            spec: 1,
            available: 0,
        };
        // Nothing may go while the new pod is not available (maxUnavailable 0).
        assert_eq!(old_rs_replicas(3, 0, new, &old), vec![3]);
        let new = Counts {
            spec: 1,
            available: 1,
        };
        assert_eq!(old_rs_replicas(3, 0, new, &old), vec![2]);
        // Unhealthy old pods go first.
        let old = [Counts {
            spec: 3,
            available: 1,
        }];
        assert_eq!(
            old_rs_replicas(
                3,
                1,
                Counts {
                    spec: 1,
                    available: 1
                },
                &old
            ),
            vec![1]
        );
        assert_eq!(
            new_rs_replicas(
                3,
                1,
                Counts {
                    spec: 5,
                    available: 0
                },
                &[]
            ),
            3
        );
    }
}
