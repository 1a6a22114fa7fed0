//! A minimal HTTP/1.1 keep-alive GET client on a tokio `TcpStream`: enough
//! for tach-query's and tach-ingest's answers (Content-Length or chunked
//! bodies), without adding an HTTP client crate to the tree. One connection
//! sends one request at a time, as each of the load generator's
//! connections does.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A status and a body.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One keep-alive connection; reconnects when the server closed it.
pub struct Connection {
    address: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    /// A connection to `address`, opened at the first request.
    pub fn new(address: SocketAddr) -> Connection {
        Connection {
            address,
            stream: None,
        }
    }

    /// GETs `path` (with its query string).
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.address)
                    .await
                    .with_context(|| format!("connecting to {}", self.address))?;
                stream.set_nodelay(true)?;
                self.stream.insert(BufReader::new(stream))
            }
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: */*\r\n\r\n",
            self.address
        );
        let answer = exchange(stream, request.as_bytes()).await;
        match answer {
            Ok((response, keep_alive)) => {
                if !keep_alive {
                    self.stream = None;
                }
                Ok(response)
            }
            Err(error) => {
                self.stream = None;
                Err(error.context(format!("GET {path}")))
            }
        }
    }
}

/// Sends one request and reads its response; also says whether the
/// connection stays open.
async fn exchange(
    stream: &mut BufReader<TcpStream>,
    request: &[u8],
) -> anyhow::Result<(Response, bool)> {
    stream.get_mut().write_all(request).await?;
    let status_line = read_line(stream).await?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("malformed status line {status_line:?}"))?;
    let mut length = None;
    let mut chunked = false;
    let mut keep_alive = true;
    loop {
        let line = read_line(stream).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse::<usize>()?),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(stream).await?
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        body
    } else {
        // No length: the body runs to the end of the connection.
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await?;
        keep_alive = false;
        body
    };
    Ok((Response { status, body }, keep_alive))
}

/// A header line without its CRLF; an error at end of stream.
async fn read_line(stream: &mut BufReader<TcpStream>) -> anyhow::Result<String> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        bail!("the server closed the connection");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// A chunked body: hex sizes, each chunk followed by CRLF, then trailers.
async fn read_chunked(stream: &mut BufReader<TcpStream>) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream).await?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("malformed chunk size {line:?}"))?;
        if size == 0 {
            while !read_line(stream).await?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..]).await?;
        read_line(stream).await?;
    }
}

/// GETs `path` once on a fresh connection.
pub async fn get_once(address: SocketAddr, path: &str) -> anyhow::Result<Response> {
    Connection::new(address).get(path).await
}
