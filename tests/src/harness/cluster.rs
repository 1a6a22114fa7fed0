//! A RabbitMQ cluster of a test's own: three nodes on this machine, started,
//! stopped and restarted node by node with deploy/lib/cluster.sh, the
//! functions `deploy/run.sh --cluster` uses. The machine's own RabbitMQ is
//! never touched.

use std::path::PathBuf;
use std::process::Command;

/// Nodes in the cluster.
pub const NODES: u16 = 3;

/// The private cluster; stopped when dropped.
pub struct PrivateCluster {
    state_dir: PathBuf,
    base_port: u16,
}

impl PrivateCluster {
    /// Starts (or reuses) the cluster, with data under `<temp>/<name>`:
    /// node N's AMQP on `base_port + N - 1`, its distribution port on
    /// `base_port + 2 + N` (`+ 3` to `+ 5`), one epmd on `base_port + 6`.
    pub fn start(name: &str, base_port: u16) -> Result<PrivateCluster, String> {
        let cluster = PrivateCluster {
            state_dir: std::env::temp_dir().join(name),
            base_port,
        };
        cluster.cluster_sh("tach_cluster_up", &[])?;
        Ok(cluster)
    }

    /// Runs one function of deploy/lib/cluster.sh (through services.sh,
    /// which sources it) with this cluster's settings.
    fn cluster_sh(&self, function: &str, args: &[&str]) -> Result<String, String> {
        let library = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lib/services.sh");
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("source '{library}' && \"$@\""))
            .arg("services.sh")
            .arg(function)
            .args(args)
            .env("TACH_STATE_DIR", &self.state_dir)
            .env("TACH_CLUSTER_DIR", &self.state_dir)
            .env("TACH_CLUSTER_NODES", NODES.to_string())
            .env("TACH_CLUSTER_AMQP_PORT", self.base_port.to_string())
            .env(
                "TACH_CLUSTER_DIST_PORT",
                (self.base_port + NODES).to_string(),
            )
            .env(
                "TACH_CLUSTER_EPMD_PORT",
                (self.base_port + 2 * NODES).to_string(),
            )
            .output()
            .map_err(|error| format!("running bash: {error}"))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(format!(
            "{function} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// Stops node `node` (1 to 3), waiting for its process to exit.
    pub fn stop_node(&self, node: u16) -> Result<(), String> {
        self.cluster_sh("tach_cluster_stop_node", &[&node.to_string()])
            .map(drop)
    }

    /// Starts node `node` again; it rejoins the cluster by itself.
    pub fn start_node(&self, node: u16) -> Result<(), String> {
        self.cluster_sh("tach_cluster_start_node", &[&node.to_string()])
            .map(drop)
    }

    /// Runs rabbitmqctl on node `node`; its standard output.
    pub fn rabbitmqctl(&self, node: u16, args: &[&str]) -> Result<String, String> {
        let mut all = vec![node.to_string()];
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.cluster_sh("tach_cluster_rabbitmqctl", &all)
    }

    /// Creates vhost `name` with full rights for guest (through node 3).
    pub fn add_vhost(&self, name: &str) -> Result<(), String> {
        self.rabbitmqctl(NODES, &["-q", "add_vhost", name])?;
        self.rabbitmqctl(
            NODES,
            &[
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
        .map(drop)
    }

    /// Deletes vhost `name` with its queues and exchanges (through node 3).
    pub fn delete_vhost(&self, name: &str) -> Result<(), String> {
        self.rabbitmqctl(NODES, &["-q", "delete_vhost", name])
            .map(drop)
    }

    /// Node `node`'s AMQP port.
    pub fn amqp_port(&self, node: u16) -> u16 {
        self.base_port + node - 1
    }

    /// The AMQP URL of vhost `vhost` on node `node`.
    pub fn node_url(&self, node: u16, vhost: &str) -> String {
        format!(
            "amqp://guest:guest@127.0.0.1:{}/{vhost}",
            self.amqp_port(node)
        )
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.cluster_sh("tach_cluster_down", &[]);
    }
}
