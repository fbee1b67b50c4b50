//! What one client, or many, can make the webhook hold: connections, streams, time, and the
//! threads deciding. Each bound turns an attack into a refusal or a closed connection within
//! a known time, instead of memory or connections held without end.

use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog until one ends.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams (requests) per connection.
    pub max_streams: u32,
    /// From accepting a connection to the end of its TLS handshake.
    pub handshake_timeout: Duration,
    /// A connection with no request in flight for this long is closed: HTTP/2 with a GOAWAY,
    /// so that a client starting a request meanwhile retries it elsewhere.
    pub idle_timeout: Duration,
    /// For an HTTP/1 request's head, and for any request's body.
    pub read_timeout: Duration,
    /// The most an HTTP/1 connection buffers of what it reads (a request head must fit).
    pub max_read_buffer: usize,
    /// Bytes of request bodies held at once, across requests, from when they are read until
    /// they are answered (at least `--max-body-bytes`). A decision takes a few times its
    /// body's size in memory besides, so this is what bounds the memory of many large
    /// requests at once; beyond it, requests wait (within `read_timeout`), then get a 503.
    pub body_bytes_in_flight: usize,
    /// How long a connection asked to close (idle) may take to finish before it is dropped.
    pub close_grace: Duration,
    /// Decisions of large requests (see `inline_body_bytes`) in flight at once, computing or
    /// awaiting the API server, each on a thread of its own (see `decisions`). Past its
    /// deadline a decision that has started computing finishes in the background, so this
    /// also bounds the work a flood of expensive requests can leave behind.
    pub max_decisions: usize,
    /// Decisions computing at once: what keeps their CPU off the runtime's share.
    pub max_computing: usize,
    /// Requests of at most this many bytes are decided on the runtime's worker, the others
    /// on a decision thread. A small request's decision is bounded by its size (tens of
    /// milliseconds at worst, tens of microseconds usually), and handing it to another thread
    /// would cost about as much again in CPU, and memory in per-thread allocator arenas.
    pub inline_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Limits {
            // Each may buffer up to ~100 KiB (TLS records, an HTTP/1 head): 25 MiB in all,
            // far inside the pod's memory limit. API servers multiplex over a few HTTP/2
            // connections.
            max_connections: 256,
            max_streams: 32,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            max_read_buffer: 64 * 1024,
            body_bytes_in_flight: 32 * 1024 * 1024,
            close_grace: Duration::from_secs(2),
            max_decisions: 64,
            max_computing: cores,
            inline_body_bytes: 64 * 1024,
        }
    }
}
