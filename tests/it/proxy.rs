//! A fault-injecting TCP proxy in front of a real server: it forwards
//! bytes both ways and cuts chosen connections after a number of bytes,
//! in the middle of whatever command is running then.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// Which connections to cut, and when.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Cut a connection once the server has sent this many bytes (mid-FETCH).
    pub server_bytes: Option<u64>,
    /// Cut a connection once the client has sent this many bytes (mid-APPEND).
    pub client_bytes: Option<u64>,
    /// How many connections (the first ones) are cut; later ones pass.
    pub connections: usize,
    /// Cuts in all, at most (`None`: no limit but `connections`).
    pub max_cuts: Option<usize>,
}

/// A running proxy; it stops accepting when dropped.
pub struct Proxy {
    port: u16,
    cut: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port in front of `127.0.0.1:target`.
    pub fn start(target: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let accepted = AtomicUsize::new(0);
        let cut = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (cut2, stop2) = (cut.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let n = accepted.fetch_add(1, Ordering::Relaxed);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let faulty = n < faults.connections;
                let limit = |bytes: Option<u64>| if faulty { bytes } else { None };
                let max = faults.max_cuts.unwrap_or(usize::MAX);
                pipe(
                    &client,
                    &server,
                    limit(faults.client_bytes),
                    (cut2.clone(), max),
                );
                pipe(
                    &server,
                    &client,
                    limit(faults.server_bytes),
                    (cut2.clone(), max),
                );
            }
        });
        Proxy { port, cut, stop }
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections were cut.
    pub fn cuts(&self) -> usize {
        self.cut.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` → `to` on a thread; past `limit` bytes, cuts both
/// sockets, unless `max` cuts were made already (counted in `cut`).
fn pipe(
    from: &TcpStream,
    to: &TcpStream,
    limit: Option<u64>,
    (cut, max): (Arc<AtomicUsize>, usize),
) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone socket"),
        to.try_clone().expect("clone socket"),
    );
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut sent: u64 = 0;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let allowed = match limit {
                Some(limit) if sent + n as u64 >= limit && cut.load(Ordering::Relaxed) < max => {
                    (limit - sent) as usize
                }
                _ => n,
            };
            if to.write_all(&buf[..allowed]).is_err() {
                break;
            }
            sent += allowed as u64;
            if allowed < n || (limit == Some(sent) && cut.load(Ordering::Relaxed) < max) {
                cut.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
