//! Network namespaces that make processes of one test look like separate
//! machines: each namespace has an address of its own on a private
//! bridge, where the host has one too, so servers listening on the
//! host's bridge address see each namespace's connections come from its
//! own address. Made with `ip` (iproute2), which needs root; removed when
//! dropped.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// A bridge and its namespaces.
pub struct Machines {
    bridge: String,
    namespaces: Vec<String>,
    subnet: u32,
}

/// Runs `ip` with `args`; whether it worked.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Machines {
    /// `n` namespaces on a new bridge, or `None` when this process cannot
    /// make them (not root, no `ip`).
    pub fn create(n: usize) -> Option<Machines> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // One /24 per set, told apart by process and count.
        let subnet = (std::process::id() + NEXT.fetch_add(1, Ordering::Relaxed) * 7) % 250 + 1;
        let mut machines = Machines {
            bridge: format!("msbr{subnet}"),
            namespaces: Vec::new(),
            subnet,
        };
        let host = format!("{}/24", machines.host_address());
        if !(ip(&["link", "add", &machines.bridge, "type", "bridge"])
            && ip(&["addr", "add", &host, "dev", &machines.bridge])
            && ip(&["link", "set", &machines.bridge, "up"]))
        {
            return None;
        }
        for i in 0..n {
            let name = format!("ms{subnet}n{i}");
            let veth = format!("msv{subnet}n{i}");
            machines.namespaces.push(name.clone());
            let address = format!("10.88.{subnet}.{}/24", i + 2);
            let made = ip(&["netns", "add", &name])
                && ip(&[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name,
                ])
                && ip(&["link", "set", &veth, "master", &machines.bridge, "up"])
                && ip(&["-n", &name, "addr", "add", &address, "dev", "eth0"])
                && ip(&["-n", &name, "link", "set", "eth0", "up"])
                && ip(&["-n", &name, "link", "set", "lo", "up"]);
            if !made {
                return None;
            }
        }
        Some(machines)
    }

    /// The host's address on the bridge: where servers are reached.
    pub fn host_address(&self) -> String {
        format!("10.88.{}.1", self.subnet)
    }

    /// The subnet of the bridge, as `pg_hba.conf` takes it.
    pub fn subnet(&self) -> String {
        format!("10.88.{}.0/24", self.subnet)
    }

    /// Whether `address` is one of the namespaces'.
    pub fn owns(&self, address: &str) -> bool {
        address
            .strip_prefix(&format!("10.88.{}.", self.subnet))
            .and_then(|last| last.parse::<usize>().ok())
            .is_some_and(|last| (2..self.namespaces.len() + 2).contains(&last))
    }

    /// `program` to run inside namespace `i`.
    pub fn command(&self, i: usize, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.namespaces[i], program]);
        command
    }
}

impl Drop for Machines {
    fn drop(&mut self) {
        for name in &self.namespaces {
            // Its end of the veth pair goes with it, and the host's end too.
            ip(&["netns", "del", name]);
        }
        ip(&["link", "del", &self.bridge]);
    }
}
