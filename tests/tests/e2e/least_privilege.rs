//! tach-query with the roles a production deployment gives it: reads
//! through a read-only role (TACH_QUERY_DATABASE_URL), Orlo's writes and the
//! release reads that must see them through the writing role (DATABASE_URL);
//! and a statement that outlives the statement timeout is a 503 in the
//! family's shape, not a 500.

use std::str::FromStr;
use std::time::Duration;

use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use tach_schema::PoolSettings;
use tach_tests::harness::{TestApi, TestDatabase};

/// The read-only role README tells operators to create, for `database`.
async fn create_reader(database: &TestDatabase) -> String {
    let role = format!("{}_reader", database.name);
    // Roles of runs that died before dropping theirs: their database is gone.
    let leftovers: Vec<String> = sqlx::query_scalar(
        "SELECT rolname::text FROM pg_roles r WHERE rolname LIKE 'tach\\_test\\_%\\_reader'
           AND NOT EXISTS (SELECT 1 FROM pg_database d WHERE r.rolname = d.datname || '_reader')",
    )
    .fetch_all(&database.pool)
    .await
    .unwrap();
    for leftover in leftovers {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP ROLE IF EXISTS \"{leftover}\""
        )))
        .execute(&database.pool)
        .await;
    }
    for statement in [
        format!("CREATE ROLE \"{role}\" LOGIN"),
        format!(
            "GRANT CONNECT ON DATABASE \"{}\" TO \"{role}\"",
            database.name
        ),
        format!("GRANT USAGE ON SCHEMA public TO \"{role}\""),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{role}\""),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&database.pool)
            .await
            .unwrap();
    }
    role
}

#[tokio::test]
async fn reads_go_through_the_read_only_role_and_release_writes_through_the_writer() {
    let database = TestDatabase::create().await;
    let role = create_reader(&database).await;
    let reader_url = PgConnectOptions::from_str(&database.url)
        .unwrap()
        .username(&role)
        .to_url_lossy()
        .to_string();
    let read_pool = tach_schema::connect(
        &reader_url,
        PoolSettings {
            create_if_missing: false,
            ..PoolSettings::default()
        },
    )
    .await
    .expect("the read-only role connects");
    let state = tach_query::AppState {
        pool: read_pool.clone(),
        write_pool: database.pool.clone(),
        ..tach_query::AppState::new(database.pool.clone())
    };
    let api = TestApi::with_state(state);

    // orloclient's create-then-use flow: every step sees the one before.
    let (status, created) = api
        .post(
            "/releases",
            Some(json!({"platforms": ["p1"], "user": "alice", "team": "ops"})),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, package) = api
        .post(
            &format!("/releases/{id}/packages"),
            Some(json!({"name": "web", "version": "1.2"})),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{package}");
    let release = api.ok(&format!("/releases/{id}")).await;
    assert_eq!(release["releases"][0]["user"], "alice");
    assert_eq!(release["releases"][0]["packages"][0]["name"], "web");
    // Reads of the other families go through the read-only role.
    assert_eq!(api.ok("/stacky/deployments").await[1][1], "api");
    assert_eq!(api.ok("/products/versions").await["total"], 0);

    // And that role cannot write.
    let refused = sqlx::query("INSERT INTO deployments (name) VALUES ('intruder')")
        .execute(&read_pool)
        .await
        .unwrap_err();
    let code = refused.as_database_error().and_then(|error| error.code());
    assert_eq!(code.as_deref(), Some("42501"), "{refused}");

    read_pool.close().await;
    // The role holds privileges in the database: it goes after it.
    database.drop_database().await;
    let admin = tach_schema::connect(
        &tach_tests::harness::database_url(),
        PoolSettings::default(),
    )
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE \"{role}\"")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

#[tokio::test]
async fn a_statement_over_the_statement_timeout_is_a_503_in_the_familys_shape() {
    let database = TestDatabase::create().await;
    let pool = tach_schema::connect(
        &database.url,
        PoolSettings {
            statement_timeout: Some(Duration::from_millis(200)),
            ..PoolSettings::default()
        },
    )
    .await
    .unwrap();
    let api = TestApi::with_state(tach_query::AppState::new(pool.clone()));
    // A transaction holding locks that every read here must wait for.
    let mut blocker = database.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE deployments, product_versions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let (status, body) = api.get("/stacky/deployments/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            503,
            json!([
                ["Error", "Message"],
                ["Service Unavailable", "the request took too long"]
            ])
        )
    );
    let (status, body) = api.get("/products/versions/").await;
    assert_eq!(
        (status.as_u16(), body),
        (
            503,
            json!({"error": {"message": "the request took too long"}})
        )
    );
    blocker.rollback().await.unwrap();
    assert_eq!(api.get("/stacky/deployments/").await.0.as_u16(), 200);
    pool.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn database_errors_that_pass_are_503s_and_only_those() {
    let database = TestDatabase::create().await;
    let raised = |code: &'static str| {
        let pool = database.pool.clone();
        async move {
            let statement = format!(
                "DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '{code}'; END $$"
            );
            let error = sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .expect_err("the statement raises");
            tach_query::error::ApiError::from(error).status().as_u16()
        }
    };
    // A standby's replay conflict, a deadlock, a server going down: try again.
    for code in ["40001", "40P01", "57P01"] {
        assert_eq!(raised(code).await, 503, "{code}");
    }
    assert_eq!(raised("57014").await, 503, "statement timeout");
    assert_eq!(
        raised("22P02").await,
        400,
        "a value the database cannot take"
    );
    assert_eq!(raised("XX000").await, 500, "anything else is a bug");
    database.drop_database().await;
}
