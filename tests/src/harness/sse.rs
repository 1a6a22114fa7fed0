//! A Server-Sent Events client for tach-query's live stream: the request
//! goes as HTTP/1.0, so the answer comes unchunked until the connection
//! closes, and its lines are read as the SSE format defines them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One message: its `id:` and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The id (the stream's cursor).
    pub id: Option<String>,
    /// The data.
    pub data: String,
}

/// An open stream.
pub struct EventStream {
    reader: BufReader<TcpStream>,
}

impl EventStream {
    /// Opens `path` on `address`, sending `Last-Event-ID` when given, and
    /// checks the answer is 200 `text/event-stream`.
    pub async fn open(address: SocketAddr, path: &str, last_event_id: Option<&str>) -> EventStream {
        let mut stream = TcpStream::connect(address)
            .await
            .expect("connecting to tach-query");
        let mut request =
            format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: text/event-stream\r\n");
        if let Some(id) = last_event_id {
            request.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("sending the request");
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).await.expect("a status line");
        assert!(status.contains(" 200 "), "the stream answered {status:?}");
        let mut event_stream = false;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("a header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            event_stream |= line
                .to_ascii_lowercase()
                .starts_with("content-type: text/event-stream");
        }
        assert!(event_stream, "the answer is not text/event-stream");
        EventStream { reader }
    }

    /// The next message with data, or None when none comes within `wait`
    /// or the stream ends.
    pub async fn next(&mut self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, self.read_message())
            .await
            .ok()
            .flatten()
    }

    async fn read_message(&mut self) -> Option<Message> {
        let mut id = None;
        let mut data: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if !data.is_empty() {
                    return Some(Message {
                        id,
                        data: data.join("\n"),
                    });
                }
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => id = Some(value.to_owned()),
                "data" => data.push(value.to_owned()),
                _ => {}
            }
        }
    }

    /// Reads messages until `count` have come, failing after `wait` overall.
    pub async fn take(&mut self, count: usize, wait: Duration) -> Vec<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut messages = Vec::new();
        while messages.len() < count {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(message) => messages.push(message),
                None => panic!("{} of {count} messages within {wait:?}", messages.len()),
            }
        }
        messages
    }
}
