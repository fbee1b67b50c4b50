//! Services' node ports, allocated as kube-apiserver's service storage does
//! (pkg/registry/core/service/storage/alloc.go, storage.go): `NodePort` Services and
//! `LoadBalancer` ones (unless `allocateLoadBalancerNodePorts: false`) get a port from
//! 30000–32767 for each entry of `spec.ports` (entries with the same `port` share one), a
//! requested port is kept if free, and a `LoadBalancer` with `externalTrafficPolicy: Local`
//! gets a `healthCheckNodePort`. What is allocated is read from the stored Services, so a
//! deleted Service's ports are free at once.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::api::SharedState;
use crate::catalogue::ResourceInfo;
use crate::status::{ApiError, FieldCause};

const FIRST: i64 = 30000;
const LAST: i64 = 32767;

fn is_service(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.resource == "services"
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn needs_node_ports(service: &Value) -> bool {
    match text(service, "/spec/type") {
        "NodePort" => true,
        "LoadBalancer" => {
            service.pointer("/spec/allocateLoadBalancerNodePorts") != Some(&Value::Bool(false))
        }
        _ => false,
    }
}

fn needs_health_check_port(service: &Value) -> bool {
    text(service, "/spec/type") == "LoadBalancer"
        && text(service, "/spec/externalTrafficPolicy") == "Local"
}

fn ports_of(service: &Value) -> Vec<i64> {
    let mut ports: Vec<i64> = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|port| port.get("nodePort").and_then(Value::as_i64))
        .filter(|port| *port != 0)
        .collect();
    ports.extend(
        service
            .pointer("/spec/healthCheckNodePort")
            .and_then(Value::as_i64)
            .filter(|port| *port != 0),
    );
    ports
}

/// Node ports held by stored Services other than `namespace/name`.
fn allocated_elsewhere(state: &SharedState, namespace: &str, name: &str) -> BTreeSet<i64> {
    let (services, _) = state.store.list("", "services", None);
    services
        .iter()
        .filter(|service| {
            text(service, "/metadata/namespace") != namespace
                || text(service, "/metadata/name") != name
        })
        .flat_map(|service| ports_of(service))
        .collect()
}

/// One allocation: the ports taken (elsewhere and by this Service so far).
struct Allocator {
    taken: BTreeSet<i64>,
    /// A dry run allocates as kube's `PortAllocationOperation` does in one: nothing is checked
    /// but reuse, and the next port is a dummy above the range.
    dry_run: bool,
    /// Ports this operation has allocated (what a dry run's dummy follows).
    this_operation: Vec<i64>,
}

impl Allocator {
    fn new(taken: BTreeSet<i64>, dry_run: bool) -> Allocator {
        Allocator {
            taken,
            dry_run,
            this_operation: Vec::new(),
        }
    }

    /// `Allocate(port)`: the message is the allocator's error as kube-apiserver wraps it.
    fn take(&mut self, port: i64) -> Result<(), String> {
        if self.dry_run {
            if self.taken.contains(&port) || self.this_operation.contains(&port) {
                return Err("provided port is already allocated".into());
            }
            self.this_operation.push(port);
            return Ok(());
        }
        if !(FIRST..=LAST).contains(&port) {
            return Err(format!(
                "provided port is not in the valid range. The range of valid ports is {FIRST}-{LAST}"
            ));
        }
        if !self.taken.insert(port) {
            return Err("provided port is already allocated".into());
        }
        Ok(())
    }

    /// `AllocateNext`: a random free port; in a dry run, one above the highest this operation
    /// took, or 32769.
    fn next(&mut self) -> Result<i64, String> {
        if self.dry_run {
            let port = self.this_operation.iter().max().copied().unwrap_or(32768) + 1;
            self.this_operation.push(port);
            return Ok(port);
        }
        let size = LAST - FIRST + 1;
        let start = (uuid::Uuid::new_v4().as_u128() % size as u128) as i64;
        let port = (0..size)
            .map(|offset| FIRST + (start + offset) % size)
            .find(|port| !self.taken.contains(port))
            .ok_or_else(|| "range is full".to_string())?;
        self.taken.insert(port);
        Ok(port)
    }
}

fn invalid(info: &ResourceInfo, name: &str, field: String, port: i64, detail: String) -> ApiError {
    // Numbers are printed bare (`Invalid value: 30080`), not quoted.
    let cause = FieldCause {
        reason: "FieldValueInvalid",
        field,
        what: format!("Invalid value: {port}"),
        detail,
    };
    ApiError::invalid(info, name, &[cause])
}

/// Allocates the node ports of a Service being created (`object` is ready to store).
pub fn allocate_on_create(
    state: &SharedState,
    info: &ResourceInfo,
    object: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if !is_service(info) {
        return Ok(());
    }
    check_requested_cluster_ip(state, info, object)?;
    allocate(state, info, object, &BTreeSet::new(), dry_run)
}

/// The service range, 10.96.0.0/12 (kubeadm's and kind's default).
pub const SERVICE_RANGE: &str = "10.96.0.0/12";

pub fn in_service_range(ip: std::net::Ipv4Addr) -> bool {
    u32::from(ip) >> 20 == u32::from(std::net::Ipv4Addr::new(10, 96, 0, 0)) >> 20
}

/// ClusterIPs held by stored Services.
pub fn cluster_ips_in_use(state: &SharedState) -> BTreeSet<String> {
    let (services, _) = state.store.list("", "services", None);
    services
        .iter()
        .map(|service| text(service, "/spec/clusterIP").to_string())
        .filter(|ip| !ip.is_empty() && ip != "None")
        .collect()
}

/// A ClusterIP the client asked for must be in the range and free, as the IP allocator says.
fn check_requested_cluster_ip(
    state: &SharedState,
    info: &ResourceInfo,
    service: &Value,
) -> Result<(), ApiError> {
    let requested = text(service, "/spec/clusterIP");
    // A malformed address is validation's to refuse, not the allocator's.
    let Ok(ip) = requested.parse::<std::net::Ipv4Addr>() else {
        return Ok(());
    };
    let problem = if !in_service_range(ip) {
        format!(
            "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {SERVICE_RANGE}"
        )
    } else if cluster_ips_in_use(state).contains(requested) {
        "provided IP is already allocated".to_string()
    } else {
        return Ok(());
    };
    let cause = FieldCause {
        reason: "FieldValueInvalid",
        field: "spec.clusterIPs".into(),
        what: format!("Invalid value: []string{{{requested:?}}}"),
        detail: format!("failed to allocate IP {requested}: {problem}"),
    };
    Err(ApiError::invalid(
        info,
        text(service, "/metadata/name"),
        &[cause],
    ))
}

/// Node ports of a Service being updated: omitted ones keep the old value of the port of the
/// same name (`patchAllocatedValues`), ports it held before stay its own, new ones are
/// allocated; a change to a type without node ports clears unchanged ones
/// (`dropTypeDependentFields`).
pub fn allocate_on_update(
    state: &SharedState,
    info: &ResourceInfo,
    current: &Value,
    updated: &mut Value,
    dry_run: bool,
) -> Result<(), ApiError> {
    if !is_service(info) {
        return Ok(());
    }
    if needs_node_ports(current) && needs_node_ports(updated) {
        keep_omitted_node_ports(current, updated);
    }
    if needs_node_ports(current)
        && !needs_node_ports(updated)
        && node_ports_by_index(current) == node_ports_by_index(updated)
        && let Some(ports) = updated
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
    {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.remove("nodePort");
        }
    }
    if needs_health_check_port(current)
        && !needs_health_check_port(updated)
        && current.pointer("/spec/healthCheckNodePort")
            == updated.pointer("/spec/healthCheckNodePort")
        && let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut)
    {
        spec.remove("healthCheckNodePort");
    }
    if needs_health_check_port(current) && needs_health_check_port(updated) {
        let old = current.pointer("/spec/healthCheckNodePort").cloned();
        if let (Some(old), Some(spec)) =
            (old, updated.get_mut("spec").and_then(Value::as_object_mut))
        {
            spec.entry("healthCheckNodePort").or_insert(old);
        }
    }
    let held: BTreeSet<i64> = ports_of(current).into_iter().collect();
    allocate(state, info, updated, &held, dry_run)
}

fn node_ports_by_index(service: &Value) -> Vec<Option<i64>> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|port| port.get("nodePort").and_then(Value::as_i64))
        .collect()
}

fn keep_omitted_node_ports(current: &Value, updated: &mut Value) {
    let old: BTreeMap<String, i64> = current
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|port| {
            let node_port = port.get("nodePort").and_then(Value::as_i64)?;
            Some((text(port, "/name").to_string(), node_port))
        })
        .collect();
    let old_used: BTreeSet<i64> = old.values().copied().collect();
    let new_used: BTreeSet<i64> = node_ports_by_index(updated).into_iter().flatten().collect();
    // A port the client moved to another entry is not handed back to this one.
    let used: BTreeSet<i64> = old_used.intersection(&new_used).copied().collect();
    let Some(ports) = updated
        .pointer_mut("/spec/ports")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        let omitted = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0;
        let name = port.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(previous) = old
            .get(name)
            .filter(|previous| omitted && !used.contains(previous))
        {
            port.insert("nodePort".into(), json!(previous));
        }
    }
}

/// `initNodePorts`/`updateNodePorts`: `held` are ports this Service already had (kept
/// without a new allocation).
fn allocate(
    state: &SharedState,
    info: &ResourceInfo,
    service: &mut Value,
    held: &BTreeSet<i64>,
    dry_run: bool,
) -> Result<(), ApiError> {
    let wants_node_ports = needs_node_ports(service);
    let wants_health_check = needs_health_check_port(service);
    if !wants_node_ports && !wants_health_check {
        return Ok(());
    }
    let name = text(service, "/metadata/name").to_string();
    let namespace = text(service, "/metadata/namespace").to_string();
    let mut allocator = Allocator::new(allocated_elsewhere(state, &namespace, &name), dry_run);
    // Ports this Service held before need no new claim (`updateNodePorts`).
    let claim = |allocator: &mut Allocator, port: i64| -> Result<(), String> {
        if held.contains(&port) && !allocator.taken.contains(&port) {
            return Ok(());
        }
        allocator.take(port)
    };
    if wants_node_ports
        && let Some(ports) = service
            .pointer_mut("/spec/ports")
            .and_then(Value::as_array_mut)
    {
        // Entries with the same `port` (TCP and UDP of one number) share a node port.
        let mut by_service_port: BTreeMap<i64, i64> = BTreeMap::new();
        for (index, port) in ports.iter_mut().enumerate() {
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            let service_port = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            let requested = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            let field = format!("spec.ports[{index}].nodePort");
            let node_port = match (by_service_port.get(&service_port), requested) {
                (Some(shared), 0) => *shared,
                (Some(shared), requested) if *shared == requested => requested,
                (_, 0) => allocator
                    .next()
                    .map_err(|error| invalid(info, &name, field.clone(), 0, error))?,
                (_, requested) => {
                    claim(&mut allocator, requested)
                        .map_err(|error| invalid(info, &name, field.clone(), requested, error))?;
                    requested
                }
            };
            by_service_port.entry(service_port).or_insert(node_port);
            port.insert("nodePort".into(), json!(node_port));
        }
    }
    if wants_health_check {
        let requested = service
            .pointer("/spec/healthCheckNodePort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let field = "spec.healthCheckNodePort".to_string();
        let port = if requested == 0 {
            allocator
                .next()
                .map_err(|error| invalid(info, &name, field, 0, error))?
        } else {
            claim(&mut allocator, requested)
                .map_err(|error| invalid(info, &name, field, requested, error))?;
            requested
        };
        if let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("healthCheckNodePort".into(), json!(port));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ports_stay_in_range_and_avoid_taken_ones() {
        let mut allocator = Allocator::new((FIRST..LAST).collect(), false);
        assert_eq!(allocator.next(), Ok(LAST), "the only free port");
        assert_eq!(allocator.next(), Err("range is full".into()));
    }

    #[test]
    fn requested_ports_are_checked_for_range_and_reuse() {
        let mut allocator = Allocator::new(BTreeSet::from([30080]), false);
        assert_eq!(
            allocator.take(30080),
            Err("provided port is already allocated".into())
        );
        assert_eq!(
            allocator.take(80),
            Err(
                "provided port is not in the valid range. The range of valid ports is 30000-32767"
                    .into()
            )
        );
        assert_eq!(allocator.take(30081), Ok(()));
    }

    #[test]
    fn a_dry_run_checks_only_reuse_and_makes_up_ports_above_the_range() {
        let mut allocator = Allocator::new(BTreeSet::from([30080]), true);
        assert_eq!(allocator.next(), Ok(32769));
        assert_eq!(allocator.take(80), Ok(()), "the range is not checked");
        assert_eq!(
            allocator.take(30080),
            Err("provided port is already allocated".into())
        );
        assert_eq!(allocator.next(), Ok(32770));
    }
}
