//! A TCP proxy in front of a PostgreSQL server on loopback that counts
//! the round trips its clients make: the messages after which a client
//! waits for the server's answer, `Sync` (which ends every statement of
//! the extended query protocol: a prepare, an execute) and `Query` (the
//! simple protocol: `BEGIN`, `COMMIT`, a batch of SQL): a check of what
//! the processes count themselves.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

/// A running proxy; it stays up as long as the process.
pub struct PgWire {
    pub port: u16,
    round_trips: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
}

/// Startup-phase request codes after which another untyped message
/// follows (the server answers them with one byte).
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

impl PgWire {
    /// Starts a proxy on a free loopback port in front of
    /// `127.0.0.1:target`.
    pub fn start(target: u16) -> PgWire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the PostgreSQL proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let round_trips = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let (trips, conns) = (round_trips.clone(), connections.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                conns.fetch_add(1, Ordering::Relaxed);
                let (c, s) = (
                    client.try_clone().expect("clone a socket"),
                    server.try_clone().expect("clone a socket"),
                );
                let trips = trips.clone();
                thread::spawn(move || {
                    let mut counter = Counter::default();
                    copy(&client, &server, |bytes| {
                        trips.fetch_add(counter.feed(bytes), Ordering::Relaxed);
                    });
                });
                thread::spawn(move || copy(&s, &c, |_| {}));
            }
        });
        PgWire {
            port,
            round_trips,
            connections,
        }
    }

    /// Round trips so far, every connection together.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Connections opened through the proxy so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Copies `from` to `to` until either ends, showing every chunk to
/// `seen` first.
fn copy(mut from: &TcpStream, mut to: &TcpStream, mut seen: impl FnMut(&[u8])) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Splits what a client sends into messages, across reads.
#[derive(Default)]
struct Counter {
    /// Past the startup message: messages now start with a type byte.
    typed: bool,
    /// Bytes of the current message's header read so far.
    header: Vec<u8>,
    /// Bytes of the current message's body still to come.
    skip: usize,
}

impl Counter {
    /// Reads `bytes`; returns the round trips they end.
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        let mut trips = 0;
        let mut at = 0;
        while at < bytes.len() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() - at);
                self.skip -= n;
                at += n;
                continue;
            }
            self.header.push(bytes[at]);
            at += 1;
            let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            if self.typed && self.header.len() == 5 {
                // Type, then a length that counts itself.
                if matches!(self.header[0], b'S' | b'Q') {
                    trips += 1;
                }
                self.skip = be32(&self.header[1..]).saturating_sub(4);
                self.header.clear();
            } else if !self.typed && self.header.len() == 8 {
                // Length (counting itself), then a protocol version or
                // request code.
                let code = be32(&self.header[4..]) as u32;
                self.skip = be32(&self.header).saturating_sub(8);
                self.typed = code != SSL_REQUEST && code != GSSENC_REQUEST;
                self.header.clear();
            }
        }
        trips
    }
}
