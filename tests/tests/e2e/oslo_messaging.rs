//! nova and glance publishing through the real oslo.messaging 18.3.1
//! notifier (CLIENTS.md §1), the way the services call it: its exchange
//! declarations succeed against the exchanges tach-ingest declared, and what
//! it sends — info and error priorities, request context, glance's empty
//! context and string error payload — is stored and derived.
//!
//! The notifier declares a queue named after its routing key; so that
//! parallel runs never share one, the test gives oslo the topic
//! `<prefix>notifications` and binds tach to it, as operators do when they
//! add a topic of their own for a consumer.

use std::path::PathBuf;

use serde_json::{json, Value};
use tach_ingest::config::BindingConfig;
use tach_schema::ExchangeFamily;
use tach_tests::harness::{self, python, TestBroker, TestDatabase, TestIngest};

use crate::ingest::wait_for_count;

const OSLO_MESSAGING: &str = "oslo.messaging==18.3.1";

/// What nova and glance do: a Notifier on the notification transport with the
/// messagingv2 driver, `control_exchange` as the exchange.
const PUBLISHER: &str = r#"
import sys
import warnings
warnings.simplefilter("ignore")
from oslo_config import cfg
from oslo_context import context
import oslo_messaging

url, prefix = sys.argv[1], sys.argv[2]

def notifier(service, publisher_id):
    conf = cfg.ConfigOpts()
    conf([], project=service)
    oslo_messaging.set_transport_defaults(control_exchange=prefix + service)
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    return oslo_messaging.Notifier(transport, publisher_id=publisher_id, driver="messagingv2",
                                   topics=[prefix + "notifications"])

request = context.RequestContext(request_id="req-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
                                 project_id="tenant-oslo", user_id="user-oslo")
instance = {
    "instance_id": "3b5a7e0c-8a6b-4a4e-9b7c-1d2e3f4a5b6c", "tenant_id": "tenant-oslo",
    "state": "building", "old_state": None, "old_task_state": None, "new_task_state": "spawning",
    "instance_type_id": 2, "instance_flavor_id": "m1.small", "launched_at": "",
    "image_meta": {"image_type": "base", "os_type": "linux", "os_distro": "ubuntu"},
}
nova = notifier("nova", "compute.oslo-host")
nova.info(request, "compute.instance.create.start", instance)
nova.info(request, "compute.instance.create.end",
          dict(instance, state="active", new_task_state=None, message="Success",
               launched_at="2026-11-23T11:00:00.000000"))
nova.error(request, "compute.instance.resize.prep.error",
           dict(instance, exception={"kwargs": {"code": 500}}))

glance = notifier("glance", "image.oslo-host")
glance.info({}, "image.activate",
            {"id": "6c5b4a39-2817-4f6e-9d8c-7b6a5f4e3d2c", "status": "active",
             "owner": "tenant-oslo", "size": 1024, "created_at": "2026-11-23T10:59:00Z",
             "properties": {"image_type": "base"}})
glance.error({}, "image.upload", "Image storage media is full")
"#;

/// A virtualenv with oslo.messaging, prepared once per machine; `Err` says
/// why pip could not provide it.
fn oslo_python() -> Result<PathBuf, String> {
    python::virtualenv("tach-oslo.messaging-18.3.1", &[OSLO_MESSAGING], |_, _| {
        Ok(())
    })
}

/// oslo's transport URL for the test broker: scheme `rabbit`, and the default
/// vhost `/` as an empty path (oslo does not decode `%2f`).
fn transport_url(amqp_url: &str) -> String {
    let rest = amqp_url.strip_prefix("amqp://").unwrap_or(amqp_url);
    let (authority, vhost) = rest.split_once('/').unwrap_or((rest, ""));
    let vhost = match vhost {
        "%2f" | "%2F" => "",
        other => other,
    };
    format!("rabbit://{authority}/{vhost}")
}

#[tokio::test]
async fn notifications_published_by_oslo_messaging_are_stored_and_derived() {
    // Fails with the reason when pip cannot provide the client: a skipped
    // compatibility test would pass without proving anything.
    let python = tokio::task::spawn_blocking(oslo_python)
        .await
        .unwrap()
        .unwrap_or_else(|why| panic!("pip must install {OSLO_MESSAGING} (PyPI): {why}"));
    let db = TestDatabase::create().await;
    let broker = TestBroker::new();
    let prefix = broker.prefix.clone();
    let mut deployment = broker.deployment(&broker.amqp_url);
    let topic = format!("{prefix}notifications");
    deployment.bindings = [
        ("nova", ExchangeFamily::Nova),
        ("glance", ExchangeFamily::Glance),
    ]
    .into_iter()
    .map(|(service, family)| BindingConfig {
        exchange: format!("{prefix}{service}"),
        family,
        routing_keys: vec![format!("{topic}.info"), format!("{topic}.error")],
    })
    .collect();
    let ingest = TestIngest::start(&db.url, vec![deployment], harness::test_settings()).await;
    broker.wait_for_consumer("tach.glance.error").await;

    let output = tokio::process::Command::new(&python)
        .args(["-c", PUBLISHER, &transport_url(&broker.amqp_url), &prefix])
        .output()
        .await
        .expect("running the oslo.messaging publisher");
    assert!(
        output.status.success(),
        "the oslo.messaging publisher failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_for_count(&db, "raw_events", 5).await;

    let instance = "3b5a7e0c-8a6b-4a4e-9b7c-1d2e3f4a5b6c";
    let request = "req-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    let stored = db
        .json_rows(
            "SELECT family, exchange, routing_key, is_error, event, publisher, service, host,
                    instance, request_id, tenant, state, image_uuid, image_type
             FROM raw_events ORDER BY \"when\", id",
        )
        .await;
    // One stored row: the delivery's columns, then what was derived from the body.
    let row = |family: &str, routing_key: &str, event: &str, derived: Value| {
        let publisher = if family == "nova" {
            "compute.oslo-host"
        } else {
            "image.oslo-host"
        };
        let mut row = json!({
            "family": family, "exchange": format!("{prefix}{family}"),
            "routing_key": format!("{topic}.{routing_key}"), "is_error": routing_key == "error",
            "event": event, "publisher": publisher,
            "service": publisher.split('.').next().unwrap(), "host": "oslo-host",
        });
        if let (Some(row), Value::Object(derived)) = (row.as_object_mut(), derived) {
            row.extend(derived);
        }
        row
    };
    let nova = |routing_key: &str, event: &str, state: &str| {
        let derived = json!({
            "instance": instance, "request_id": request, "tenant": "tenant-oslo",
            "state": state, "image_uuid": null, "image_type": 0x1 | 0x10 | 0x100,
        });
        row("nova", routing_key, event, derived)
    };
    let activate = json!({
        "instance": null, "request_id": null, "tenant": "tenant-oslo", "state": null,
        "image_uuid": "6c5b4a39-2817-4f6e-9d8c-7b6a5f4e3d2c", "image_type": 0x1,
    });
    // Glance's upload error carries a string payload: stored, nothing derived.
    let nothing = json!({
        "instance": null, "request_id": null, "tenant": null, "state": null,
        "image_uuid": null, "image_type": null,
    });
    assert_eq!(
        stored,
        json!([
            nova("info", "compute.instance.create.start", "building"),
            nova("info", "compute.instance.create.end", "active"),
            nova("error", "compute.instance.resize.prep.error", "building"),
            row("glance", "info", "image.activate", activate),
            row("glance", "error", "image.upload", nothing),
        ])
    );
    assert_eq!(db.count("rejected_messages").await, 0);

    // The create pair is timed from the notifier's own timestamps.
    let timings = db
        .json_rows(
            "SELECT t.instance, t.operation, t.request_id,
                    t.duration_us = (extract(epoch FROM e.\"when\" - s.\"when\") * 1000000)::bigint
                        AND t.duration_us > 0 AS duration_is_end_minus_start
             FROM timings t JOIN raw_events s ON s.id = t.start_event_id
                            JOIN raw_events e ON e.id = t.end_event_id",
        )
        .await;
    assert_eq!(
        timings,
        json!([{
            "instance": instance, "operation": "compute.instance.create", "request_id": request,
            "duration_is_end_minus_start": true,
        }])
    );
    assert_eq!(
        db.json_rows("SELECT * FROM usage_launches").await,
        json!([{
            "instance": instance, "request_id": request,
            "launched_at": "2026-11-23T11:00:00+00:00", "instance_type_id": "2",
            "instance_flavor_id": "m1.small", "tenant": "tenant-oslo",
        }])
    );
    assert_eq!(
        db.json_rows("SELECT uuid, created_at, owner, size FROM image_usage")
            .await,
        json!([{
            "uuid": "6c5b4a39-2817-4f6e-9d8c-7b6a5f4e3d2c",
            "created_at": "2026-11-23T10:59:00+00:00", "owner": "tenant-oslo", "size": 1024,
        }])
    );

    ingest.stop().await;
    broker
        .delete_queues(&[format!("{topic}.info"), format!("{topic}.error")])
        .await;
    broker.delete_all().await;
    db.drop_database().await;
}
