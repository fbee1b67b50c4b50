//! The upstream cluster's network: a network namespace of the run's own, holding only a
//! loopback interface that owns all of 10.244.0.0/16.
//!
//! Why: kube-apiserver refuses loopback addresses in Endpoints and EndpointSlices ("may not be
//! in the loopback range"), so pods cannot have the simulator's 127.0.x.y addresses; yet the API
//! server must reach the webhook's pods at their endpoints. Inside a namespace of our own, a /16
//! on `lo` is local in full (the kernel routes a loopback device's prefix as `local`), so every
//! pod gets a real-looking address that only this run can reach, and no packet leaves the
//! namespace. It also gives the control plane its well-known ports without clashing with anything
//! else on the machine.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;

/// The first two octets of every address in the namespace.
pub const NETWORK: [u8; 2] = [10, 244];
/// The control plane's address (the API server's advertise address); pods get `10.244.x.y`
/// with x ≥ 1.
pub const CONTROL_PLANE_IP: Ipv4Addr = Ipv4Addr::new(NETWORK[0], NETWORK[1], 0, 1);

/// The number of threads of this process.
fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|count| count.trim().parse().ok())
}

/// Moves this process into a new network namespace (and a user namespace first when not
/// root) and makes 10.244.0.0/16 local there. Must be called while the process has one thread
/// (before any runtime starts): a namespace is a thread's, and threads started afterwards, and
/// every child process, inherit it. Sockets opened before stay in the old namespace.
pub fn enter() -> Result<(), String> {
    match threads() {
        Some(1) => {}
        count => {
            return Err(format!(
                "upstream: the network namespace must be entered before any thread starts (threads: {count:?})"
            ));
        }
    }
    // SAFETY: plain system calls without pointers.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let flags = if uid == 0 {
        libc::CLONE_NEWNET
    } else {
        libc::CLONE_NEWUSER | libc::CLONE_NEWNET
    };
    // SAFETY: unshare takes no pointers; the process is single-threaded (checked above).
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(format!(
            "upstream: cannot create a network namespace (unshare: {}); the upstream backend needs one for its pod addresses",
            std::io::Error::last_os_error()
        ));
    }
    if uid != 0 {
        // Root inside the user namespace is this user outside: enough to configure the network.
        for (file, contents) in [
            ("/proc/self/setgroups", "deny".to_string()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ] {
            std::fs::write(file, contents)
                .map_err(|error| format!("upstream: cannot write {file}: {error}"))?;
        }
    }
    let prefix = format!("{CONTROL_PLANE_IP}/16");
    for args in [
        vec!["link", "set", "lo", "up"],
        vec!["addr", "add", prefix.as_str(), "dev", "lo"],
    ] {
        let output = Command::new("ip")
            .args(&args)
            .output()
            .map_err(|error| format!("upstream: cannot run `ip` (install iproute2): {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "upstream: `ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    check()
}

/// Whether a pod address can be bound here: the namespace is set up. Without it, pod
/// addresses would be routed off the machine, so nothing may start.
pub fn check() -> Result<(), String> {
    let probe = SocketAddr::from((Ipv4Addr::new(NETWORK[0], NETWORK[1], 1, 1), 0));
    TcpListener::bind(probe).map(drop).map_err(|error| {
        format!(
            "upstream: {probe} is not local ({error}): run inside the run's network namespace (`cargo xtask e2e --cluster upstream` enters one)"
        )
    })
}
