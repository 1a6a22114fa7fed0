//! A private PostgreSQL primary with one streaming hot standby, for tests of
//! tach-query reading from a replica. Started and stopped with
//! deploy/lib/replica.sh, as an operator would try it by hand.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// The primary and its standby; both stopped when dropped.
pub struct PrivateReplica {
    state_dir: PathBuf,
    /// The primary's port.
    pub primary_port: u16,
    /// The standby's port.
    pub standby_port: u16,
}

impl PrivateReplica {
    /// Starts (or reuses) a primary on `base_port` and its standby on
    /// `base_port + 1`, with data under `<temp>/<name>`.
    pub fn start(name: &str, base_port: u16) -> Result<PrivateReplica, String> {
        let replica = PrivateReplica {
            state_dir: std::env::temp_dir().join(name),
            primary_port: base_port,
            standby_port: base_port + 1,
        };
        std::fs::create_dir_all(&replica.state_dir).map_err(|error| error.to_string())?;
        replica.replica_sh("tach_pg_replica_up")?;
        Ok(replica)
    }

    /// Runs one function of deploy/lib/replica.sh (through services.sh,
    /// which sources it) with this pair's settings.
    fn replica_sh(&self, function: &str) -> Result<(), String> {
        let library = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/lib/services.sh");
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("source '{library}' && \"$@\""))
            .arg("replica.sh")
            .arg(function)
            .env("TACH_STATE_DIR", &self.state_dir)
            .env("TACH_PRIVATE_PG_PORT", self.primary_port.to_string())
            .env(
                "TACH_PRIVATE_PG_STANDBY_PORT",
                self.standby_port.to_string(),
            )
            .env_remove("TACH_PRIVATE_PG_TLS")
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

    /// A URL of the primary (its `postgres` database).
    pub fn primary_server_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.primary_port
        )
    }

    /// A URL of the standby's copy of database `database`.
    pub fn standby_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}",
            self.standby_port
        )
    }

    /// A connection to the standby's `postgres` database, for the
    /// replication functions (pausing replay, say).
    pub async fn standby_admin(&self) -> PgConnection {
        PgConnectOptions::from_str(&self.standby_url("postgres"))
            .expect("the standby's URL parses")
            .connect()
            .await
            .expect("connecting to the standby")
    }

    /// Pauses the standby's replay (`pg_wal_replay_pause()`): it keeps
    /// receiving WAL but applies none until resumed.
    pub async fn pause_replay(&self) {
        self.standby_statement("SELECT pg_wal_replay_pause()").await;
    }

    /// Resumes the standby's replay (`pg_wal_replay_resume()`).
    pub async fn resume_replay(&self) {
        self.standby_statement("SELECT pg_wal_replay_resume()")
            .await;
    }

    async fn standby_statement(&self, statement: &'static str) {
        let mut admin = self.standby_admin().await;
        sqlx::query(statement)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("{statement} on the standby: {error}"));
        let _ = admin.close().await;
    }
}

impl Drop for PrivateReplica {
    fn drop(&mut self) {
        let _ = self.replica_sh("tach_pg_replica_stop");
    }
}
