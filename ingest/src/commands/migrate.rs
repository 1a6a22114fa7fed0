//! `tach-ingest migrate`: create the database if missing and apply migrations.

use tach_schema::PoolSettings;

use crate::config::redact_url;

/// Runs the migrations and reports.
pub async fn migrate(database_url: &str) -> anyhow::Result<()> {
    let pool = super::connect_and_migrate(database_url, PoolSettings::default()).await?;
    let latest = tach_schema::MIGRATOR
        .iter()
        .map(|migration| migration.version)
        .max()
        .unwrap_or(0);
    println!(
        "database {} is at migration {latest}",
        redact_url(database_url)
    );
    pool.close().await;
    Ok(())
}
