//! Test helpers: a tiny HTTP/1.1 server on 127.0.0.1 for the gates' tests: canned answers, counted requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A canned answer: status, content type, body and an optional `Location`.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub location: Option<String>,
}

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain",
            body: body.to_string(),
            location: None,
        }
    }

    /// A redirect to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self {
            location: Some(location.to_string()),
            ..Self::text(status, "moved")
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
            location: None,
        }
    }
}

/// A server answering each request with `respond(request number from 1, request head)`.
pub struct TestServer {
    port: u16,
    hits: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// Starts serving on an ephemeral port of 127.0.0.1 from a thread.
    pub fn start(respond: impl Fn(usize, &str) -> Reply + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_hits, thread_heads, thread_stop) = (hits.clone(), heads.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let Some(head) = read_head(&mut stream) else {
                    continue;
                };
                let number = thread_hits.fetch_add(1, Ordering::SeqCst) + 1;
                thread_heads.lock().expect("heads").push(head.clone());
                let reply = respond(number, &head);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {} Canned\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
                    reply.status,
                    reply.content_type,
                    reply.body.len(),
                    reply
                        .location
                        .as_deref()
                        .map(|to| format!("Location: {to}\r\n"))
                        .unwrap_or_default(),
                    reply.body
                );
                let _ = stream.flush();
            }
        });
        Self {
            port,
            hits,
            heads,
            stop,
        }
    }

    /// A server that always gives the same answer.
    pub fn always(status: u16, body: &'static str) -> Self {
        Self::start(move |_, _| Reply::text(status, body))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The request heads (request line and headers) received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("heads").clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread sees the flag and ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads up to the blank line that ends a request head; `None` for a connection that sent none.
/// A TLS handshake gets a plain-text 400 at once, as real HTTP servers answer one.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    if stream.peek(&mut byte).ok()? == 1 && !byte[0].is_ascii_alphabetic() {
        let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nnot TLS here\n");
        return None;
    }
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
        if head.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A gate of `kind` with quick retries, for tests.
pub fn gate(kind: super::GateKind, retries: u32) -> super::GateSpec {
    super::GateSpec {
        name: "test gate".into(),
        kind,
        retries,
        delay: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
    }
}

/// An `http` check of `url` expecting 200, with defaults elsewhere.
pub fn http_check(url: &str) -> super::HttpCheck {
    super::HttpCheck {
        url: url.to_string(),
        method: super::HttpMethod::Get,
        status: vec![200],
        body_regex: None,
        headers: indexmap::IndexMap::new(),
        tls: super::TlsOptions::default(),
        follow_redirects: super::FollowRedirects::default(),
    }
}
