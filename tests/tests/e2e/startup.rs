//! How tach-ingest starts, run as a process the way an operator runs it: a
//! setting no retry can mend (a refused password or vhost, an unusable URL,
//! a database whose certificate cannot be trusted) ends it at once with one
//! line naming the deployment and the setting; a broker that is not there
//! yet, or goes away, is waited for, and `/readyz` says which it is.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::ConnectOptions;

use tach_tests::harness::{
    self, free_address, ChaosProxy, ServiceProcess, TestBroker, TestDatabase,
};

use crate::INGEST;

/// The main broker's host:port (AMQP_URL's authority).
fn broker_authority() -> String {
    let url = harness::amqp_url();
    let after_at = url.rsplit_once('@').map_or(url.as_str(), |(_, rest)| rest);
    let authority = after_at.split('/').next().unwrap_or(after_at);
    authority.to_owned()
}

/// Starts tach-ingest with `env`; the future expects it to exit non-zero
/// within 30 s with its last stderr line containing `expected`.
fn refused(name: &str, env: &[(&str, &str)], expected: &str) -> impl Future<Output = ()> {
    let ingest = ServiceProcess::ingest(INGEST, name, env);
    let (name, expected) = (name.to_owned(), expected.to_owned());
    async move { expect_refusal(ingest, &name, &expected).await }
}

async fn expect_refusal(ingest: ServiceProcess, name: &str, expected: &str) {
    let (status, said) = ingest.exit_within(Duration::from_secs(30)).await;
    assert!(!status.success(), "{name}: exited with {status}:\n{said}");
    let last = said.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("tach-ingest: error: ") && last.contains(expected),
        "{name}: the last line should say {expected:?}:\n{said}"
    );
    assert!(
        !said.contains("s3cret-wrong"),
        "{name}: a password is shown:\n{said}"
    );
}

#[tokio::test]
async fn a_refusal_at_start_ends_tach_ingest_with_one_line_naming_the_setting() {
    let database = TestDatabase::create().await;
    let authority = broker_authority();
    let wrong_password = format!("amqp://guest:s3cret-wrong@{authority}/%2f");
    let no_vhost = format!("amqp://guest:guest@{authority}/tach-no-such-vhost");
    let broker = TestBroker::new();
    // Two deployments from a config file; the second one's password is wrong.
    let config = broker.config_file(&broker.amqp_url);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[[deployment]]\nname = \"refused\"\namqp_url = {wrong_password:?}\nqueue_prefix = \"{}other\"\n",
        broker.prefix
    ));
    std::fs::write(&config, text).unwrap();
    let config_path = config.to_string_lossy().into_owned();
    // Nothing listens on this one: a URL check that waited for the database
    // would hang here instead of answering at once.
    let no_database = format!("postgres://postgres@{}/tach", free_address());
    let untrusted_database = PgConnectOptions::from_str(&database.url)
        .unwrap()
        .ssl_mode(PgSslMode::VerifyFull)
        .to_url_lossy()
        .to_string();

    tokio::join!(
        refused(
            "wrong-password",
            &[
                ("DATABASE_URL", &database.url),
                ("AMQP_URL", &wrong_password),
                ("TACH_DEPLOYMENT", "east"),
            ],
            "deployment east: AMQP_URL: refused by the broker: ACCESS_REFUSED - Login was refused",
        ),
        refused(
            "unknown-vhost",
            &[
                ("DATABASE_URL", &database.url),
                ("AMQP_URL", &no_vhost),
                ("TACH_DEPLOYMENT", "east"),
            ],
            "deployment east: AMQP_URL: refused by the broker: NOT_ALLOWED - vhost tach-no-such-vhost not found",
        ),
        refused(
            "bad-url",
            &[
                ("DATABASE_URL", &no_database),
                ("AMQP_URL", "amqps://guest:s3cret-wrong@mq.example/%2f?verify=yes"),
                ("TACH_DEPLOYMENT", "east"),
            ],
            "deployment east: AMQP_URL: query parameter verify: must be verify_peer or verify_none",
        ),
        refused(
            "config-file",
            &[("DATABASE_URL", &database.url), ("TACH_CONFIG", &config_path)],
            "deployment refused: amqp_url in TACH_CONFIG: refused by the broker: ACCESS_REFUSED",
        ),
        // The machine's PostgreSQL offers TLS with a certificate that no
        // system CA signed: verify-full must refuse it, and not retry.
        refused(
            "untrusted-database",
            &[
                ("DATABASE_URL", &untrusted_database),
                ("AMQP_URL", &broker.amqp_url),
            ],
            "DATABASE_URL: connecting to postgres://",
        ),
    );
    std::fs::remove_file(&config).unwrap();
    broker.delete_all().await;
    database.drop_database().await;
}

/// The value of the series `name{deployment="<deployment>"}` in a scrape.
fn series(metrics: &str, name: &str, deployment: &str) -> Option<f64> {
    let prefix = format!("{name}{{deployment=\"{deployment}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn readyz_follows_the_consumers_while_a_missing_broker_is_waited_for() {
    let database = TestDatabase::create().await;
    let broker = TestBroker::new();
    let deployment = broker.deployment(&broker.amqp_url).name;
    // The broker's address, where nothing listens yet.
    let address = free_address();
    // The test's own vhost (deploy/test.sh gives each run one), through the proxy.
    let vhost = broker
        .amqp_url
        .rsplit_once('/')
        .map_or("%2f", |(_, vhost)| vhost);
    let through_proxy = format!("amqp://guest:guest@{address}/{vhost}");
    let config = broker.config_file(&through_proxy);
    let config_path = config.to_string_lossy().into_owned();
    let mut ingest = ServiceProcess::ingest(
        INGEST,
        "readyz",
        &[
            ("DATABASE_URL", &database.url),
            ("TACH_CONFIG", &config_path),
        ],
    );
    let not_attached = format!("deployment {deployment}: consumers not attached");

    ingest
        .wait_for_ok("/healthz", Duration::from_secs(20))
        .await;
    let (status, body) = ingest.get("/readyz").await.expect("tach-ingest answers");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&not_attached), "{body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        ingest.running(),
        "gave up on a broker that is only missing:\n{}",
        ingest.stderr()
    );

    // The broker appears: tach-ingest attaches and is ready.
    let proxy = ChaosProxy::start_at(address, broker_authority()).await;
    ingest.wait_for_ok("/readyz", Duration::from_secs(30)).await;
    let (_, metrics) = ingest.get("/metrics").await.unwrap();
    assert_eq!(
        series(&metrics, "tach_ingest_consumer_up", &deployment),
        Some(1.0),
        "{metrics}"
    );

    // It goes away: not ready, and still running.
    drop(proxy);
    harness::wait_until("/readyz to answer 503", Duration::from_secs(30), || async {
        matches!(ingest.get("/readyz").await, Some((503, body)) if body.contains(&not_attached))
    })
    .await;
    let (_, metrics) = ingest.get("/metrics").await.unwrap();
    assert_eq!(
        series(&metrics, "tach_ingest_consumer_up", &deployment),
        Some(0.0),
        "{metrics}"
    );
    assert!(ingest.running());

    // And comes back: ready again, the reconnects counted.
    let _proxy = ChaosProxy::start_at(address, broker_authority()).await;
    ingest.wait_for_ok("/readyz", Duration::from_secs(30)).await;
    let (_, metrics) = ingest.get("/metrics").await.unwrap();
    let reconnects = series(&metrics, "tach_ingest_reconnects_total", &deployment).unwrap_or(0.0);
    assert!(reconnects >= 2.0, "{reconnects} reconnects:\n{metrics}");
    assert_eq!(
        series(&metrics, "tach_ingest_consumer_up", &deployment),
        Some(1.0)
    );

    let status = ingest.terminate().await;
    assert!(status.success(), "exited with {status} after SIGTERM");
    std::fs::remove_file(&config).unwrap();
    broker.delete_all().await;
    database.drop_database().await;
}
