//! Real Python clients for the client-compatibility tests (CLIENTS.md):
//! a virtualenv per client under the temp dir, prepared once per machine.

use std::path::{Path, PathBuf};

/// Runs `program` with `args`; `Err` carries its standard error.
pub fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("{}: {error}", program.display()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} {args:?} failed: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The Python of the virtualenv `<temp>/<name>/venv`, created with
/// `pip install <packages>` and then `finish(python, root)` the first time;
/// a `ready` file marks it done. `Err` says why pip (or `finish`) failed.
pub fn virtualenv(
    name: &str,
    packages: &[&str],
    finish: impl FnOnce(&Path, &Path) -> Result<(), String>,
) -> Result<PathBuf, String> {
    let root = std::env::temp_dir().join(name);
    let python = root.join("venv/bin/python");
    let ready = root.join("ready");
    if !ready.exists() {
        let venv = root.join("venv").to_string_lossy().into_owned();
        run(Path::new("python3"), &["-m", "venv", &venv])?;
        let mut install = vec!["-m", "pip", "install", "-q"];
        install.extend_from_slice(packages);
        run(&python, &install)?;
        finish(&python, &root)?;
        std::fs::write(&ready, "").map_err(|error| error.to_string())?;
    }
    Ok(python)
}

/// A virtualenv with py-amqp, which can publish routing keys and properties
/// of any bytes (Rust's AMQP client only sends UTF-8).
pub fn amqp_python() -> Result<PathBuf, String> {
    virtualenv("tach-py-amqp-5.3.1", &["amqp==5.3.1"], |_, _| Ok(()))
}

/// A message with bytes where AMQP allows any: routing key, message-id property, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Exchange name (as declared on the broker).
    pub exchange: String,
    /// Routing key bytes.
    pub routing_key: Vec<u8>,
    /// The `message-id` property's bytes.
    pub message_id: Vec<u8>,
    /// The body.
    pub body: Vec<u8>,
}

/// Publishes `messages` to `amqp_url` with py-amqp (tests/python/publish_bytes.py),
/// each persistent and confirmed.
pub fn publish_raw(python: &Path, amqp_url: &str, messages: &[RawMessage]) -> Result<(), String> {
    let url = amqp_url.parse::<lapin::uri::AMQPUri>()?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let lines: String = messages
        .iter()
        .map(|message| {
            serde_json::json!({
                "exchange": message.exchange,
                "routing_key_hex": hex(&message.routing_key),
                "message_id_hex": hex(&message.message_id),
                "body_hex": hex(&message.body),
            })
            .to_string()
                + "\n"
        })
        .collect();
    let file = std::env::temp_dir().join(format!("tach-publish-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, lines).map_err(|error| error.to_string())?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/publish_bytes.py");
    let host = format!("{}:{}", url.authority.host, url.authority.port);
    let result = run(
        python,
        &[
            script,
            &host,
            &url.authority.userinfo.username,
            &url.authority.userinfo.password,
            &url.vhost,
            &file.to_string_lossy(),
        ],
    );
    let _ = std::fs::remove_file(&file);
    result
}
