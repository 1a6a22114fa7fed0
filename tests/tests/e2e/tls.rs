//! TLS on every connection, against a private PostgreSQL that takes TCP
//! clients over TLS only and a private RabbitMQ with a TLS listener, both
//! with certificates of a CA this test makes (deploy/lib/tls.sh): events
//! published go through tach-ingest's `amqps://` consumer (with a client
//! certificate) into PostgreSQL over `verify-full` and out of tach-query;
//! a wrong CA, a name the certificate does not hold, or no TLS at all
//! stops tach-ingest at start with one line that says so.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use tach_tests::gen::{generate, Scenario};
use tach_tests::harness::{PrivateServices, ServiceProcess, TestBroker, TestDatabase};
use tach_tests::publish::Publisher;

use crate::ingest::wait_for_count;
use crate::{INGEST, QUERY};

/// PostgreSQL on this port, RabbitMQ on the next three, its TLS listener
/// on the fifth; clear of the fault-injection tests' ports.
const BASE_PORT: u16 = 56440;

fn path(dir: &Path, file: &str) -> String {
    dir.join(file).to_string_lossy().into_owned()
}

/// `url` with its host and libpq TLS parameters (`sslmode`, and
/// `sslrootcert` when given) replaced.
fn database_url(url: &str, host: &str, mode: &str, root: Option<&str>) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_host(Some(host)).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != "sslmode" && name != "sslrootcert")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut query = url.query_pairs_mut();
    query
        .clear()
        .extend_pairs(kept)
        .append_pair("sslmode", mode);
    if let Some(root) = root {
        query.append_pair("sslrootcert", root);
    }
    drop(query);
    url.to_string()
}

/// Starts tach-ingest with `env`; the future expects it to exit non-zero
/// within 30 s, its last line naming `setting` and containing every one of
/// `expected`.
fn refused(
    name: &str,
    env: &[(&str, &str)],
    setting: &str,
    expected: &[&str],
) -> impl Future<Output = ()> {
    let ingest = ServiceProcess::ingest(INGEST, name, env);
    let name = name.to_owned();
    let setting = setting.to_owned();
    let expected: Vec<String> = expected.iter().map(|part| part.to_string()).collect();
    async move { expect_refusal(ingest, &name, &setting, &expected).await }
}

async fn expect_refusal(ingest: ServiceProcess, name: &str, setting: &str, expected: &[String]) {
    let (status, said) = ingest.exit_within(Duration::from_secs(30)).await;
    assert!(!status.success(), "{name}: exited with {status}:\n{said}");
    let last = said.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("tach-ingest: error: {setting}")),
        "{name}: the last line should name {setting}:\n{said}"
    );
    for part in expected {
        assert!(
            last.contains(part),
            "{name}: the last line should say {part:?}:\n{said}"
        );
    }
}

#[tokio::test]
async fn tls_connections_work_end_to_end_and_bad_certificates_stop_the_start() {
    let services =
        tokio::task::spawn_blocking(|| PrivateServices::start_with_tls("tach-tls", BASE_PORT))
            .await
            .unwrap()
            .unwrap_or_else(|why| panic!("starting the private TLS services: {why}"));
    let tls = services.tls_dir();
    let ca = path(&tls, "ca.pem");
    let wrong_ca = path(&tls, "wrong-ca.pem");
    let server = database_url(
        &services.database_server_url(),
        "localhost",
        "verify-full",
        Some(&ca),
    );
    let database = TestDatabase::create_on(&server).await;
    let amqps_port = services.amqps_port.expect("a TLS listener");
    let amqps = |query: &str| format!("amqps://guest:guest@localhost:{amqps_port}/%2f?{query}");
    // Publishers and the test's own checks use the plaintext listener.
    let broker = TestBroker {
        prefix: format!("t{}-", tach_tests::harness::unique_suffix()),
        amqp_url: services.amqp_url("%2f"),
    };
    let deployment = broker.deployment(&broker.amqp_url).name;

    // End to end, every connection over TLS.
    let config = broker.config_file(&amqps(&format!(
        "cacertfile={ca}&certfile={}&keyfile={}",
        path(&tls, "client.pem"),
        path(&tls, "client.key")
    )));
    let config_path = config.to_string_lossy().into_owned();
    let mut ingest = ServiceProcess::ingest(
        INGEST,
        "tls-ingest",
        &[
            ("DATABASE_URL", &database.url),
            ("TACH_CONFIG", &config_path),
        ],
    );
    ingest.wait_for_ok("/readyz", Duration::from_secs(60)).await;
    let publisher = Publisher::connect(&broker.amqp_url, &broker.prefix)
        .await
        .unwrap();
    publisher.declare_exchanges().await.unwrap();
    let messages = generate(&Scenario {
        seed: 11,
        instances: 4,
        images: 1,
        crashes: 3,
        releases: 1,
        products: 1,
        ..Scenario::default()
    });
    publisher.publish(&messages, None).await.unwrap();
    wait_for_count(&database, "raw_events", messages.len() as i64).await;
    let plaintext_sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
          WHERE a.datname = $1 AND a.client_addr IS NOT NULL AND NOT s.ssl",
    )
    .bind(&database.name)
    .fetch_one(&database.pool)
    .await
    .unwrap();
    assert_eq!(plaintext_sessions, 0);

    let query = ServiceProcess::query(QUERY, "tls-query", &[("DATABASE_URL", &database.url)]);
    let mut query = query;
    query.wait_for_ok("/healthz", Duration::from_secs(30)).await;
    let (status, body) = query.get("/stacky/deployments").await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!([["#", "Name"], [1, deployment]])
    );
    // verify-ca checks the CA but not the name: 127.0.0.2 is not in the
    // certificate, and the reads still work.
    let by_address = database_url(&database.url, "127.0.0.2", "verify-ca", Some(&ca));
    let mut by_address_query = ServiceProcess::query(
        QUERY,
        "tls-query-verify-ca",
        &[("DATABASE_URL", &by_address)],
    );
    by_address_query
        .wait_for_ok("/stacky/deployments", Duration::from_secs(30))
        .await;

    // Other ways to trust the server: the CA as SSL_CERT_FILE (the system
    // store's override) for both connections, and RabbitMQ's verify_none.
    let other_config = |query: &str| {
        let namespace = TestBroker {
            prefix: format!("t{}-", tach_tests::harness::unique_suffix()),
            amqp_url: broker.amqp_url.clone(),
        };
        namespace
            .config_file(&amqps(query))
            .to_string_lossy()
            .into_owned()
    };
    let system_store_config = other_config("heartbeat=30");
    let no_root = database_url(&database.url, "localhost", "verify-full", None);
    let mut system_store = ServiceProcess::ingest(
        INGEST,
        "tls-ssl-cert-file",
        &[
            ("DATABASE_URL", &no_root),
            ("TACH_CONFIG", &system_store_config),
            ("SSL_CERT_FILE", &ca),
        ],
    );
    let verify_none_config = other_config("verify=verify_none");
    let mut verify_none = ServiceProcess::ingest(
        INGEST,
        "tls-verify-none",
        &[
            ("DATABASE_URL", &database.url),
            ("TACH_CONFIG", &verify_none_config),
        ],
    );
    system_store
        .wait_for_ok("/readyz", Duration::from_secs(60))
        .await;
    verify_none
        .wait_for_ok("/readyz", Duration::from_secs(60))
        .await;
    assert!(system_store.terminate().await.success());
    assert!(verify_none.terminate().await.success());

    // What must be refused, each at once and saying why.
    let wrong_ca_config = other_config(&format!("cacertfile={wrong_ca}"));
    let wrong_name_config = other_config(&format!(
        "cacertfile={ca}&server_name_indication=wrong.example"
    ));
    let untrusted = database_url(&database.url, "localhost", "verify-full", Some(&wrong_ca));
    let wrong_host = database_url(&database.url, "127.0.0.2", "verify-full", Some(&ca));
    let plaintext = database_url(&database.url, "localhost", "disable", None);
    let amqp_setting = "deployment t";
    tokio::join!(
        refused(
            "tls-wrong-ca",
            &[
                ("DATABASE_URL", &database.url),
                ("TACH_CONFIG", &wrong_ca_config)
            ],
            amqp_setting,
            &[
                "amqp_url in TACH_CONFIG: TLS handshake failed: invalid peer certificate",
                "UnknownIssuer"
            ],
        ),
        refused(
            "tls-wrong-name",
            &[
                ("DATABASE_URL", &database.url),
                ("TACH_CONFIG", &wrong_name_config)
            ],
            amqp_setting,
            &[
                "TLS handshake failed: invalid peer certificate",
                "wrong.example"
            ],
        ),
        refused(
            "tls-database-wrong-ca",
            &[("DATABASE_URL", &untrusted), ("TACH_CONFIG", &config_path)],
            "DATABASE_URL",
            &["invalid peer certificate", "UnknownIssuer"],
        ),
        refused(
            "tls-database-wrong-host",
            &[("DATABASE_URL", &wrong_host), ("TACH_CONFIG", &config_path)],
            "DATABASE_URL",
            &["invalid peer certificate", "127.0.0.2"],
        ),
        refused(
            "tls-database-plaintext",
            &[("DATABASE_URL", &plaintext), ("TACH_CONFIG", &config_path)],
            "DATABASE_URL",
            &["no pg_hba.conf entry", "no encryption"],
        ),
    );

    assert!(by_address_query.terminate().await.success());
    assert!(query.terminate().await.success());
    assert!(ingest.terminate().await.success());
    publisher.close().await.unwrap();
    for file in [
        config_path,
        wrong_ca_config,
        wrong_name_config,
        system_store_config,
        verify_none_config,
    ] {
        std::fs::remove_file(file).unwrap();
    }
    database.drop_database().await;
    tokio::task::spawn_blocking(move || drop(services))
        .await
        .unwrap();
}
