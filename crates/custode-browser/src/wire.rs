//! The WebDriver wire: one JSON command over HTTP/1.1 to the chromedriver on
//! loopback, one connection per command, so there is no pool to keep
//! right. chromedriver keeps the connection open after its answer even
//! when asked to close it: an answer ends at its length (or last chunk).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::BrowserError;

/// Sends `method path` with an optional JSON body and returns the answer's
/// `value`, or the WebDriver error it carries.
pub(crate) fn call(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Value, BrowserError> {
    let command = format!("{method} {path}");
    let io = |e: std::io::Error| BrowserError::Wire {
        command: command.clone(),
        message: e.to_string(),
    };
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    let mut buf = [0; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).map_err(io)?;
        raw.extend_from_slice(&buf[..n]);
        if n == 0 || parse(&raw).is_some() {
            break;
        }
    }
    let (status, payload) = parse(&raw).ok_or_else(|| BrowserError::Wire {
        command: command.clone(),
        message: format!(
            "not an HTTP answer: {}",
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        ),
    })?;
    let json: Value = serde_json::from_slice(&payload).map_err(|e| BrowserError::Wire {
        command: command.clone(),
        message: format!("the answer is not JSON ({e})"),
    })?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if status != 200 || value.get("error").is_some_and(Value::is_string) {
        return Err(BrowserError::WebDriver {
            command,
            error: value["error"].as_str().unwrap_or("unknown").to_owned(),
            message: value["message"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .chars()
                .take(600)
                .collect(),
        });
    }
    Ok(value)
}

/// The status code and the body (de-chunked) of an HTTP/1.1 answer;
/// `None` until it is whole.
fn parse(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let body = match (chunked, length) {
        (true, _) => dechunk(rest)?,
        (false, Some(n)) => rest.get(..n)?.to_vec(),
        // No length: the answer ends with the connection.
        (false, None) => rest.to_vec(),
    };
    Some((status, body))
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn answers_with_a_length_or_in_chunks_read_the_same() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length:13\r\n\r\n{\"value\":nul}extra";
        assert_eq!(
            parse(plain),
            Some((200, b"{\"value\":nul}".to_vec())),
            "a body ends at its length"
        );
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"val\r\n8;x=y\r\nue\":1}\r\n\r\n0\r\n\r\n";
        assert_eq!(parse(chunked), Some((404, b"{\"value\":1}\r\n".to_vec())));
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"), None);
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}"),
            None,
            "not whole yet"
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            None
        );
    }
}
