//! A TCP proxy in front of a server on loopback that counts the HTTP/1.1
//! requests going through it (request lines, found in what clients
//! send), so that two clients can be compared in requests per item. It
//! can also hold every byte for half a round trip in each direction, so
//! that the server behaves as one across a network.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running proxy; it stays up as long as the process.
pub struct CountingProxy {
    pub port: u16,
    requests: Arc<AtomicUsize>,
}

/// What ends a request line.
const REQUEST_LINE_END: &[u8] = b" HTTP/1.1\r\n";

impl CountingProxy {
    /// Starts a proxy on a free loopback port in front of `127.0.0.1:target`
    /// that adds `round_trip` to every exchange (half each way).
    pub fn start(target: u16, round_trip: Duration) -> CountingProxy {
        let one_way = round_trip / 2;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                pipe(&client, &server, Some(counter.clone()), one_way);
                pipe(&server, &client, None, one_way);
            }
        });
        CountingProxy { port, requests }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Copies `from` → `to`, counting request lines when asked, each byte
/// written `delay` after it was read: a reader thread stamps what it
/// reads, a writer thread sends it when due, so that requests in flight
/// overlap as they would on a network.
fn pipe(from: &TcpStream, to: &TcpStream, count: Option<Arc<AtomicUsize>>, delay: Duration) {
    let (mut from, mut to) = (
        from.try_clone().expect("clone socket"),
        to.try_clone().expect("clone socket"),
    );
    let (chunks, due) = mpsc::channel::<(Instant, Vec<u8>)>();
    let (reader, writer) = (
        from.try_clone().expect("clone socket"),
        to.try_clone().expect("clone socket"),
    );
    thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        // The end of the previous read, for a marker split across reads.
        let mut tail: Vec<u8> = Vec::new();
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(count) = &count {
                tail.extend_from_slice(&buf[..n]);
                let found = tail
                    .windows(REQUEST_LINE_END.len())
                    .filter(|w| *w == REQUEST_LINE_END)
                    .count();
                count.fetch_add(found, Ordering::Relaxed);
                let keep = tail.len().min(REQUEST_LINE_END.len() - 1);
                tail.drain(..tail.len() - keep);
            }
            if chunks
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
        // Dropping `chunks` lets the writer finish what it holds.
    });
    thread::spawn(move || {
        for (at, chunk) in due {
            thread::sleep(at.saturating_duration_since(Instant::now()));
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = reader.shutdown(Shutdown::Both);
        let _ = writer.shutdown(Shutdown::Both);
    });
}
