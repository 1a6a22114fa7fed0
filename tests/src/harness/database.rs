//! A fresh, migrated database per test, `tach_test_<unix time>_<random>`,
//! dropped by `drop_database`; ones left by failed runs are swept after an hour.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use tach_schema::PoolSettings;

/// A test's own database.
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// A pool on it.
    pub pool: PgPool,
    /// A URL of the server it lives on.
    server: String,
}

/// `server` (a PostgreSQL URL) naming database `database` instead. Done on
/// the URL itself: sqlx's `to_url_lossy` writes `sslrootcert` back in a form
/// it cannot read again.
pub fn with_database(server: &str, database: &str) -> String {
    let mut url = url::Url::parse(server).expect("DATABASE_URL parses");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

impl TestDatabase {
    /// Creates and migrates a new database on the test server.
    pub async fn create() -> TestDatabase {
        TestDatabase::create_on(&super::database_url()).await
    }

    /// Creates and migrates a new database on the server of URL `server`.
    pub async fn create_on(server: &str) -> TestDatabase {
        super::init_tracing();
        let server = server.to_owned();
        sweep_leftovers(&server).await;
        let name = format!(
            "tach_test_{}_{}",
            chrono::Utc::now().timestamp(),
            super::unique_suffix()
        );
        let url = with_database(&server, &name);
        let pool = tach_schema::connect(
            &url,
            PoolSettings {
                max_connections: 10,
                ..PoolSettings::default()
            },
        )
        .await
        .expect("creating the test database");
        tach_schema::migrate(&pool)
            .await
            .expect("migrating the test database");
        TestDatabase {
            name,
            url,
            pool,
            server,
        }
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        self.pool.close().await;
        let mut admin = admin_connection(&self.server).await;
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("dropping the test database");
    }

    /// Kills every other backend connected to this database, as an operator
    /// or a failover would.
    pub async fn terminate_connections(&self) -> i64 {
        let mut admin = admin_connection(&self.server).await;
        sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .fetch_one(&mut admin)
        .await
        .expect("terminating backends")
    }

    /// `SELECT count(*)` of a table.
    pub async fn count(&self, table: &str) -> i64 {
        let statement = format!("SELECT count(*) FROM {table}");
        sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(&self.pool)
            .await
            .expect("counting rows")
    }

    /// The rows of `query` as one JSON array of objects (`[]` when none),
    /// for exact comparisons.
    pub async fn json_rows(&self, query: &str) -> serde_json::Value {
        let statement = format!("SELECT coalesce(json_agg(t), '[]') FROM ({query}) t");
        sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|error| panic!("{query}: {error}"))
    }
}

async fn admin_connection(server: &str) -> sqlx::PgConnection {
    PgConnectOptions::from_str(server)
        .expect("DATABASE_URL parses")
        .database("postgres")
        .connect()
        .await
        .expect("connecting to the postgres database")
}

/// Drops test databases older than an hour: a failed test leaves its
/// database behind for inspection, the next run cleans it.
async fn sweep_leftovers(server: &str) {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let mut admin = admin_connection(server).await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'tach\\_test\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap_or_default();
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    for name in names {
        let created: Option<i64> = name.split('_').nth(2).and_then(|stamp| stamp.parse().ok());
        if created.is_some_and(|created| created < cutoff) {
            let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await;
        }
    }
    let _ = admin.close().await;
}
