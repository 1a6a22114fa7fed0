//! Secrets as containers get them: `--help` never prints a secret value
//! from the environment, `<NAME>_FILE` gives a setting from a mounted file,
//! and an ambiguous or unreadable one stops the process with one line that
//! names the setting and not its value.

use std::process::{Command, Output};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use tach_tests::harness;

use crate::INGEST;
use crate::QUERY;

/// Runs `program` with `args` and `env` only (plus PATH).
fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn help_shows_the_settings_but_never_their_secret_values() {
    let env = [
        (
            "DATABASE_URL",
            "postgres://tach:topsecret-db@db.example:5432/tach",
        ),
        (
            "TACH_QUERY_DATABASE_URL",
            "postgres://reader:topsecret-read@db.example/tach",
        ),
        ("AMQP_URL", "amqp://tach:topsecret-mq@mq.example:5672/%2f"),
        ("TACH_API_TOKEN", "topsecret-token"),
        ("TACH_READ_TOKEN", "topsecret-read-token"),
        ("TACH_TOKEN_SECRET", "topsecret-signing-secret"),
    ];
    for program in [INGEST, QUERY] {
        let output = run(program, &["--help"], &env);
        let help = text(&output);
        assert!(output.status.success(), "{help}");
        assert!(help.contains("DATABASE_URL_FILE"), "{help}");
        assert!(
            !help.contains("topsecret"),
            "{program} --help shows a secret:\n{help}"
        );
    }
    let help = text(&run(QUERY, &["--help"], &env));
    for setting in [
        "TACH_QUERY_DATABASE_URL",
        "TACH_QUERY_MAX_REPLICA_LAG_SECS",
        "TACH_API_TOKEN_FILE",
        "TACH_READ_TOKEN_FILE",
        "TACH_TOKEN_SECRET_FILE",
        "TACH_HTPASSWD_FILE",
        "TACH_TOKEN_TTL_SECS",
        "TACH_LOG_FORMAT",
    ] {
        assert!(help.contains(setting), "{setting} missing:\n{help}");
    }
}

#[tokio::test]
async fn a_url_from_its_file_variant_reaches_the_database() {
    let name = format!(
        "tach_test_{}_{}",
        chrono::Utc::now().timestamp(),
        harness::unique_suffix()
    );
    let url = PgConnectOptions::from_str(&harness::database_url())
        .unwrap()
        .database(&name)
        .to_url_lossy()
        .to_string();
    let file = std::env::temp_dir().join(format!("{name}.url"));
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let path = file.to_string_lossy().into_owned();

    let output = run(INGEST, &["migrate"], &[("DATABASE_URL_FILE", &path)]);
    assert!(output.status.success(), "{}", text(&output));
    let pool = tach_schema::connect(&url, tach_schema::PoolSettings::default())
        .await
        .unwrap();
    assert!(tach_schema::database::schema_is_current(&pool)
        .await
        .unwrap());
    pool.close().await;

    // Both spellings at once: which one was meant is unknowable.
    let output = run(
        INGEST,
        &["migrate"],
        &[
            ("DATABASE_URL_FILE", &path),
            ("DATABASE_URL", "postgres://x:topsecret@h/db"),
        ],
    );
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("set DATABASE_URL or DATABASE_URL_FILE, not both"),
        "{said}"
    );
    assert!(!said.contains("topsecret"), "{said}");
    let output = run(QUERY, &[], &[("TACH_API_TOKEN_FILE", "/nonexistent/token")]);
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("TACH_API_TOKEN_FILE: cannot read /nonexistent/token"),
        "{said}"
    );

    for name in ["TACH_READ_TOKEN", "TACH_TOKEN_SECRET"] {
        let file_name = format!("{name}_FILE");
        let output = run(QUERY, &[], &[(&file_name, "/nonexistent/secret")]);
        let said = text(&output);
        assert!(!output.status.success(), "{said}");
        assert!(
            said.contains(&format!("{file_name}: cannot read /nonexistent/secret")),
            "{said}"
        );
    }

    std::fs::remove_file(&file).unwrap();
    let admin = tach_schema::connect(
        &harness::database_url(),
        tach_schema::PoolSettings::default(),
    )
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
}
