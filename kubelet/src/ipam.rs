//! Pod IPs: every pod gets its own address `<a>.<b>.<x>.<y>` (x ≥ 1) of a /16 that is local to
//! this machine, so that processes of different pods can listen on the same container port.
//! The simulator uses 127.0.0.0/16: Linux routes all of 127.0.0.0/8 to the loopback interface,
//! so these addresses need no setup. The upstream control plane refuses loopback addresses in
//! Endpoints, so there the kubelet uses a /16 that the harness made local (see its `netns`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// The addresses in use. Allocation goes round the whole range before reusing a freed
/// address, so an address is not handed out again soon after its pod went away.
///
/// All clusters of a process share one range (tests run several simulators at once), and it
/// starts at a random place, so simulators in different processes on one machine rarely meet.
#[derive(Clone, Debug)]
pub struct Ipam {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The first two octets of every address.
    network: [u8; 2],
    used: BTreeSet<u16>,
    next: u16,
}

/// x in 1..=255, y in 1..=254: 255 × 254 addresses, numbered from 0.
const SIZE: u32 = 255 * 254;

fn address(network: [u8; 2], index: u16) -> Ipv4Addr {
    let index = u32::from(index);
    let x = (index / 254 + 1) as u8;
    let y = (index % 254 + 1) as u8;
    Ipv4Addr::new(network[0], network[1], x, y)
}

/// An address held by a pod; dropping it frees the address.
#[derive(Debug)]
pub struct Lease {
    index: u16,
    pub ip: Ipv4Addr,
    ipam: Ipam,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.ipam.inner.lock() {
            inner.used.remove(&self.index);
        }
    }
}

impl Default for Ipam {
    fn default() -> Self {
        static SHARED: std::sync::OnceLock<Ipam> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| {
                let random = uuid::Uuid::new_v4().as_u128();
                Ipam::starting_at((random % u128::from(SIZE)) as u16)
            })
            .clone()
    }
}

impl Ipam {
    /// A loopback range of its own, handing out `start` first.
    pub fn starting_at(start: u16) -> Ipam {
        Ipam::in_network([127, 0], start)
    }

    /// Addresses `<network>.<x>.<y>` (x ≥ 1: `<network>.0.*` is left to the hosts), handing
    /// out index `start` first.
    pub fn in_network(network: [u8; 2], start: u16) -> Ipam {
        Ipam {
            inner: Arc::new(Mutex::new(Inner {
                network,
                used: BTreeSet::new(),
                next: start % SIZE as u16,
            })),
        }
    }

    /// A free address, or `None` when all 64,770 are in use.
    pub fn allocate(&self) -> Option<Lease> {
        let mut inner = self.inner.lock().ok()?;
        for _ in 0..SIZE {
            let index = inner.next;
            inner.next = ((u32::from(index) + 1) % SIZE) as u16;
            if inner.used.insert(index) {
                return Some(Lease {
                    index,
                    ip: address(inner.network, index),
                    ipam: self.clone(),
                });
            }
        }
        None
    }

    pub fn in_use(&self) -> usize {
        self.inner.lock().map_or(0, |inner| inner.used.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_unique_while_held_and_freed_on_drop() {
        let ipam = Ipam::starting_at(0);
        let first = ipam.allocate().unwrap();
        let second = ipam.allocate().unwrap();
        assert_eq!(first.ip, Ipv4Addr::new(127, 0, 1, 1));
        assert_eq!(second.ip, Ipv4Addr::new(127, 0, 1, 2));
        assert_eq!(ipam.in_use(), 2);
        drop(first);
        assert_eq!(ipam.in_use(), 1);
        let leases: Vec<Lease> = (0..300).map(|_| ipam.allocate().unwrap()).collect();
        assert!(leases.iter().all(|lease| lease.ip != second.ip));
        assert_eq!(leases[251].ip, Ipv4Addr::new(127, 0, 1, 254));
        assert_eq!(leases[252].ip, Ipv4Addr::new(127, 0, 2, 1));
        let distinct: BTreeSet<Ipv4Addr> = leases.iter().map(|lease| lease.ip).collect();
        assert_eq!(distinct.len(), 300);
    }

    #[test]
    fn every_address_is_loopback_and_never_x_zero() {
        assert_eq!(address([127, 0], 0), Ipv4Addr::new(127, 0, 1, 1));
        assert_eq!(
            address([127, 0], (SIZE - 1) as u16),
            Ipv4Addr::new(127, 0, 255, 254)
        );
        assert_eq!(address([10, 244], 0), Ipv4Addr::new(10, 244, 1, 1));
    }
}
