//! A PostgreSQL and a RabbitMQ of a test's own, on ports of their own, for
//! tests that stop and restart servers (the machine's own are never
//! touched). Started, stopped and restarted with deploy/lib/services.sh,
//! the same functions `deploy/run.sh` and `deploy/test.sh` use.

use std::path::PathBuf;
use std::process::Command;

/// The private servers; stopped when dropped.
pub struct PrivateServices {
    state_dir: PathBuf,
    /// PostgreSQL's port.
    pub pg_port: u16,
    /// RabbitMQ's AMQP port (the Erlang distribution uses the next one).
    pub amqp_port: u16,
    epmd_port: u16,
    node_name: String,
    /// With TLS: the RabbitMQ TLS listener's port (`base_port + 4`).
    pub amqps_port: Option<u16>,
}

impl PrivateServices {
    /// Starts both servers, with data under `<temp>/<name>`: PostgreSQL on
    /// `base_port`, RabbitMQ on `base_port + 1` (distribution `+ 2`, epmd `+ 3`).
    pub fn start(name: &str, base_port: u16) -> Result<PrivateServices, String> {
        Self::start_servers(name, base_port, None)
    }

    /// As [`PrivateServices::start`], with TLS as deploy/lib/tls.sh sets it
    /// up: certificates made under [`PrivateServices::tls_dir`], PostgreSQL
    /// taking TCP clients over TLS only (also on 127.0.0.2, a name its
    /// certificate does not have), and RabbitMQ with a TLS listener on
    /// `base_port + 4` beside its plaintext one.
    pub fn start_with_tls(name: &str, base_port: u16) -> Result<PrivateServices, String> {
        Self::start_servers(name, base_port, Some(base_port + 4))
    }

    fn start_servers(
        name: &str,
        base_port: u16,
        amqps_port: Option<u16>,
    ) -> Result<PrivateServices, String> {
        let services = PrivateServices {
            state_dir: std::env::temp_dir().join(name),
            pg_port: base_port,
            amqp_port: base_port + 1,
            epmd_port: base_port + 3,
            node_name: format!("{name}@localhost"),
            amqps_port,
        };
        std::fs::create_dir_all(&services.state_dir).map_err(|error| error.to_string())?;
        services.start_postgres()?;
        services.start_rabbitmq()?;
        Ok(services)
    }

    /// Where the test CA (`ca.pem`), the server's and a client's
    /// certificates and keys (`client.pem`, `client.key`) and an unrelated
    /// CA (`wrong-ca.pem`) are.
    pub fn tls_dir(&self) -> PathBuf {
        self.state_dir.join("tls")
    }

    /// Runs one function of deploy/lib/services.sh with this instance's settings.
    fn services_sh(&self, function: &str, args: &[&str]) -> Result<(), String> {
        let library = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lib/services.sh");
        let mut command = Command::new("bash");
        if let Some(amqps_port) = self.amqps_port {
            command
                .env("TACH_TLS_DIR", self.tls_dir())
                .env("TACH_PRIVATE_PG_TLS", "required")
                .env("TACH_PRIVATE_PG_TLS_ALIAS", "127.0.0.2")
                .env("TACH_PRIVATE_AMQP_TLS", "on")
                .env("TACH_PRIVATE_AMQPS_PORT", amqps_port.to_string());
        }
        let output = command
            .arg("-c")
            .arg(format!("source '{library}' && \"$@\""))
            .arg("services.sh")
            .arg(function)
            .args(args)
            .env("TACH_STATE_DIR", &self.state_dir)
            .env("TACH_PRIVATE_PG_PORT", self.pg_port.to_string())
            .env("TACH_PRIVATE_AMQP_PORT", self.amqp_port.to_string())
            .env("TACH_PRIVATE_DIST_PORT", (self.amqp_port + 1).to_string())
            .env("TACH_PRIVATE_EPMD_PORT", self.epmd_port.to_string())
            .env("TACH_RABBIT_NODENAME", &self.node_name)
            .output()
            .map_err(|error| format!("running bash: {error}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "{function} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// Starts PostgreSQL (creating its cluster the first time).
    pub fn start_postgres(&self) -> Result<(), String> {
        self.services_sh("tach_pg_private_up", &[])
    }

    /// Stops PostgreSQL (fast shutdown: sessions are cut).
    pub fn stop_postgres(&self) -> Result<(), String> {
        self.services_sh("tach_pg_private_stop", &[])
    }

    /// Starts the RabbitMQ node.
    pub fn start_rabbitmq(&self) -> Result<(), String> {
        self.services_sh("tach_amqp_private_up", &[])
    }

    /// Stops the RabbitMQ node; durable queues and their persistent
    /// messages survive.
    pub fn stop_rabbitmq(&self) -> Result<(), String> {
        self.services_sh("tach_amqp_private_stop", &[])
    }

    /// Creates vhost `name` with full rights for guest.
    pub fn add_vhost(&self, name: &str) -> Result<(), String> {
        self.services_sh("tach_rabbit", &["rabbitmqctl", "-q", "add_vhost", name])?;
        self.services_sh(
            "tach_rabbit",
            &[
                "rabbitmqctl",
                "-q",
                "set_permissions",
                "-p",
                name,
                "guest",
                ".*",
                ".*",
                ".*",
            ],
        )
    }

    /// Deletes vhost `name` with its queues and exchanges.
    pub fn delete_vhost(&self, name: &str) -> Result<(), String> {
        self.services_sh("tach_rabbit", &["rabbitmqctl", "-q", "delete_vhost", name])
    }

    /// A URL of the PostgreSQL server (its `postgres` database).
    pub fn database_server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.pg_port)
    }

    /// The AMQP URL of vhost `vhost`.
    pub fn amqp_url(&self, vhost: &str) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/{vhost}", self.amqp_port)
    }
}

impl Drop for PrivateServices {
    fn drop(&mut self) {
        let _ = self.stop_rabbitmq();
        let _ = self.stop_postgres();
    }
}
