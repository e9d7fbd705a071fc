//! A small blocking HTTP/1.1 client on one kept-alive connection, for the
//! benchmarks that drive a real `custode serve`: what a client pays per
//! request is then the server's work and the loopback, not a connection's
//! set-up or a client library's own cost.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One connection to a server, reused for every request.
pub struct Client {
    addr: String,
    reader: BufReader<TcpStream>,
}

/// A response: its status and its body, whole.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON; panics with the status and the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl Client {
    /// Connects to `addr` (`host:port`).
    pub fn connect(addr: &str) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Client {
            addr: addr.to_owned(),
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request and reads its whole response; a JSON body when
    /// `body` is given.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> std::io::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body);
        self.reader.get_mut().write_all(head.as_bytes())?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<Response> {
        let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .get(9..12)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad(format!("not an HTTP status line: {line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("the connection closed inside the header".into()));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| bad(format!("not a chunk size: {line:?}")))?;
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                line.clear();
                self.reader.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok(Response { status, body })
    }
}

/// A `custode serve` started for a benchmark, killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts `bin` with `args` (which end with `serve` and its flags,
    /// listening on `127.0.0.1:0`) and waits for the line that names its
    /// address.
    pub fn start(bin: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut child = std::process::Command::new(bin)
            .args(args)
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (build it: cargo build --release -p custode)",
                    bin.display()
                )
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("serve printed its address before stopping")
                .expect("a line");
            if let Some(rest) = line.strip_prefix("custode listening on http://") {
                break rest.split_whitespace().next().expect("address").to_owned();
            }
        };
        // The log goes on to stdout: drain it, or the server blocks once
        // the pipe is full.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
