//! A deterministic generator of realistic event streams (`tach-gen`): nova
//! instance lifecycles, glance images, crash reports, products and releases,
//! shaped like the real payloads in `tests/samples/`. The same scenario
//! always gives byte-identical messages, so tests, the demo and the
//! benchmarks reproduce.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Seed of the random stream.
    pub seed: u64,
    /// Time of the first event.
    pub start: DateTime<Utc>,
    /// Nova instance lifecycles.
    pub instances: usize,
    /// Glance image lifecycles.
    pub images: usize,
    /// Crash reports (`crash.processed`).
    pub crashes: usize,
    /// Release lifecycles.
    pub releases: usize,
    /// Product versions (each with a build).
    pub products: usize,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            start: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .expect("constant")
                .with_timezone(&Utc),
            instances: 20,
            images: 5,
            crashes: 30,
            releases: 3,
            products: 4,
        }
    }
}

/// One message as a publisher sends it; also one line of `tach-gen jsonl`
/// and of `tach-ingest replay --file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Logical exchange: `nova`, `glance` or `tach`.
    pub exchange: String,
    /// Routing key (`notifications.info`, or the event type on `tach`).
    pub routing_key: String,
    /// The JSON body as published (an oslo v2 envelope holds the message as a string).
    pub body: Value,
    /// Event time, for ordering only; not published.
    #[serde(skip)]
    pub when: DateTime<Utc>,
}

/// splitmix64: tiny, fast and fixed forever. rand's StdRng is not promised
/// to give the same stream across versions, and these streams must.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, bound)`.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        self.next_u64() % bound
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random v4 UUID.
    pub fn uuid(&mut self) -> String {
        let bytes =
            ((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())).to_be_bytes();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// Seconds in `[low, high)` with microseconds.
    pub fn seconds(&mut self, low: f64, high: f64) -> TimeDelta {
        let micros = (low * 1e6) as i64 + self.below(((high - low) * 1e6) as u64) as i64;
        TimeDelta::microseconds(micros)
    }
}

/// Nova's `str(datetime)`: `2026-01-01 00:00:01.254607`, no fraction at zero microseconds.
pub fn nova_time(when: DateTime<Utc>) -> String {
    if when.nanosecond() / 1000 == 0 {
        when.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        when.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
}

/// Generates the scenario's messages, in event-time order.
pub fn generate(scenario: &Scenario) -> Vec<Message> {
    let mut rng = Rng::new(scenario.seed);
    let mut messages = Vec::new();
    for index in 0..scenario.instances {
        let offset = TimeDelta::seconds(index as i64 * 20) + rng.seconds(0.0, 15.0);
        nova::lifecycle(&mut rng, scenario.start + offset, &mut messages);
    }
    glance::images(&mut rng, scenario, &mut messages);
    crash::reports(&mut rng, scenario, &mut messages);
    deploy::products(&mut rng, scenario, &mut messages);
    deploy::releases(&mut rng, scenario, &mut messages);
    messages.sort_by_key(|message| message.when);
    messages
}

/// A legacy notification object.
fn notification(
    rng: &mut Rng,
    event_type: &str,
    publisher: &str,
    when: DateTime<Utc>,
    priority: &str,
    payload: Value,
) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("message_id".into(), json!(rng.uuid()));
    body.insert("publisher_id".into(), json!(publisher));
    body.insert("event_type".into(), json!(event_type));
    body.insert("priority".into(), json!(priority));
    body.insert("payload".into(), payload);
    body.insert("timestamp".into(), json!(nova_time(when)));
    body
}

/// How a nova or glance message is wrapped, as oslo.messaging's drivers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Envelope {
    /// `messagingv2`: `{"oslo.version": "2.0", "oslo.message": "<json>"}`.
    V2,
    /// `messaging`: the message bare.
    Bare,
}

fn wrap(envelope: Envelope, message: Map<String, Value>) -> Value {
    match envelope {
        Envelope::V2 => {
            json!({"oslo.version": "2.0", "oslo.message": Value::Object(message).to_string()})
        }
        Envelope::Bare => Value::Object(message),
    }
}

fn routing_key_of(priority: &str) -> String {
    format!("notifications.{}", priority.to_lowercase())
}

mod nova {
    //! Nova instance lifecycles: create, then some of resize, snapshot,
    //! rebuild, reboot and power off, exists, and usually delete.

    use super::*;

    const TENANTS: [&str; 5] = ["210397", "895506", "5814d7b5", "7f3c2a10", "c0ffee42"];
    const IMAGE_TYPES: [&str; 2] = ["base", "snapshot"];
    const OS: [(&str, &str); 4] = [
        ("linux", "ubuntu"),
        ("linux", "centos"),
        ("linux", "debian"),
        ("windows", "windows"),
    ];

    /// One instance's shared attributes.
    struct Instance {
        uuid: String,
        tenant: &'static str,
        compute_host: String,
        api_host: String,
        flavor: u64,
        image_type: &'static str,
        os: (&'static str, &'static str),
        launched_at: Option<DateTime<Utc>>,
        envelope: Envelope,
        versioned: bool,
    }

    impl Instance {
        fn payload(&self, state: &str, task: Option<&str>, extra: Value) -> Value {
            if self.versioned {
                let mut data = json!({
                    "uuid": self.uuid, "tenant_id": self.tenant, "state": state, "task_state": task,
                    "host": self.compute_host, "image_uuid": "155d900f-4e14-4e4c-a73d-069cbf4541e6",
                    "flavor": {"nova_object.data": {"flavorid": self.flavor.to_string(), "memory_mb": 512 * self.flavor}},
                    "launched_at": self.launched_at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                });
                merge(&mut data, extra);
                return json!({"nova_object.data": data, "nova_object.name": "InstanceActionPayload", "nova_object.namespace": "nova", "nova_object.version": "1.8"});
            }
            let mut payload = json!({
                "instance_id": self.uuid, "tenant_id": self.tenant, "state": state, "old_state": null,
                "old_task_state": null, "new_task_state": task, "host": self.compute_host,
                "instance_type_id": self.flavor, "instance_flavor_id": self.flavor.to_string(),
                "memory_mb": 512 * self.flavor, "disk_gb": 20 * self.flavor,
                "launched_at": self.launched_at.map(nova_time).unwrap_or_default(),
                "deleted_at": "", "terminated_at": "",
                "image_meta": {"image_type": self.image_type, "os_type": self.os.0, "os_distro": self.os.1,
                                "org.openstack__1__architecture": "x64"},
                "os_type": self.os.0,
            });
            merge(&mut payload, extra);
            payload
        }

        fn event_type(&self, legacy: &str) -> String {
            if self.versioned {
                format!("instance.{legacy}")
            } else {
                format!("compute.instance.{legacy}")
            }
        }

        fn compute_publisher(&self) -> String {
            if self.versioned {
                format!("nova-compute:{}", self.compute_host)
            } else {
                format!("compute.{}", self.compute_host)
            }
        }

        fn api_publisher(&self) -> String {
            if self.versioned {
                format!("nova-api:{}", self.api_host)
            } else {
                format!("api.{}", self.api_host)
            }
        }
    }

    fn merge(target: &mut Value, extra: Value) {
        if let (Some(target), Value::Object(extra)) = (target.as_object_mut(), extra) {
            target.extend(extra);
        }
    }

    /// Emits one message of a request.
    struct Request<'a> {
        rng: &'a mut Rng,
        out: &'a mut Vec<Message>,
        request_id: String,
        when: DateTime<Utc>,
    }

    impl Request<'_> {
        fn emit(
            &mut self,
            instance: &Instance,
            event_type: &str,
            publisher: &str,
            priority: &str,
            payload: Value,
        ) {
            let mut message = notification(
                self.rng, event_type, publisher, self.when, priority, payload,
            );
            message.insert("_context_request_id".into(), json!(self.request_id));
            message.insert("_context_project_id".into(), json!(instance.tenant));
            message.insert(
                "_context_user_id".into(),
                json!("d608a0a8ed7551a2998aab265d5ff6f8"),
            );
            self.out.push(Message {
                exchange: "nova".into(),
                routing_key: routing_key_of(priority),
                body: wrap(instance.envelope, message),
                when: self.when,
            });
        }

        fn wait(&mut self, low: f64, high: f64) {
            self.when += self.rng.seconds(low, high);
        }

        /// The api update that starts StackTach's KPI clock.
        fn api_update(&mut self, instance: &Instance, state: &str, task: &str) {
            let event_type = instance.event_type("update");
            let publisher = instance.api_publisher();
            self.emit(
                instance,
                &event_type,
                &publisher,
                "INFO",
                instance.payload(state, Some(task), json!({})),
            );
        }

        fn compute(
            &mut self,
            instance: &Instance,
            legacy: &str,
            state: &str,
            task: Option<&str>,
            extra: Value,
        ) {
            let event_type = instance.event_type(legacy);
            let publisher = instance.compute_publisher();
            self.emit(
                instance,
                &event_type,
                &publisher,
                "INFO",
                instance.payload(state, task, extra),
            );
        }

        fn error(&mut self, instance: &Instance, operation: &str, code: u64) {
            let event_type = instance.event_type(&format!("{operation}.error"));
            let publisher = instance.compute_publisher();
            let extra = json!({"exception": {"kwargs": {"code": code, "uuid": instance.uuid}}, "message": format!("{operation} failed with {code}")});
            self.emit(
                instance,
                &event_type,
                &publisher,
                "ERROR",
                instance.payload("error", None, extra),
            );
        }
    }

    /// One instance from create to (usually) delete.
    pub fn lifecycle(rng: &mut Rng, start: DateTime<Utc>, out: &mut Vec<Message>) {
        let envelope = if rng.chance(75) {
            Envelope::V2
        } else {
            Envelope::Bare
        };
        let mut instance = Instance {
            uuid: rng.uuid(),
            tenant: *rng.pick(&TENANTS),
            compute_host: format!("compute-{:02}", rng.below(40)),
            api_host: format!("api-{:02}", rng.below(3) + 1),
            flavor: rng.below(6) + 1,
            image_type: *rng.pick(&IMAGE_TYPES),
            os: *rng.pick(&OS),
            launched_at: None,
            envelope,
            versioned: rng.chance(10),
        };
        let mut when = start;
        if !create(rng, &mut instance, &mut when, out) {
            return;
        }
        for operation in ["resize", "snapshot", "rebuild", "reboot", "power_off"] {
            if rng.chance(35) {
                when += rng.seconds(60.0, 1800.0);
                operate(rng, &mut instance, operation, &mut when, out);
            }
        }
        when += rng.seconds(60.0, 600.0);
        exists(rng, &instance, when, out);
        if rng.chance(70) {
            when += rng.seconds(60.0, 3600.0);
            delete(rng, &instance, when, out);
        }
    }

    fn new_request<'a>(
        rng: &'a mut Rng,
        out: &'a mut Vec<Message>,
        when: DateTime<Utc>,
    ) -> Request<'a> {
        let request_id = format!("req-{}", rng.uuid());
        Request {
            rng,
            out,
            request_id,
            when,
        }
    }

    /// Returns false when the create failed (the instance goes no further).
    fn create(
        rng: &mut Rng,
        instance: &mut Instance,
        when: &mut DateTime<Utc>,
        out: &mut Vec<Message>,
    ) -> bool {
        let fails = rng.chance(8);
        let mut request = new_request(rng, out, *when);
        request.api_update(instance, "building", "scheduling");
        if !instance.versioned {
            request.wait(0.1, 0.5);
            let scheduler = "scheduler.scheduler-01";
            let payload =
                json!({"request_spec": {"instance_properties": {"project_id": instance.tenant}}});
            request.emit(
                instance,
                "scheduler.run_instance.start",
                scheduler,
                "INFO",
                payload.clone(),
            );
            request.wait(0.1, 0.5);
            request.emit(
                instance,
                "scheduler.run_instance.end",
                scheduler,
                "INFO",
                payload,
            );
        }
        request.wait(0.2, 1.0);
        request.compute(
            instance,
            "create.start",
            "building",
            Some("spawning"),
            json!({}),
        );
        request.wait(1.0, 5.0);
        request.compute(
            instance,
            "update",
            "building",
            Some("networking"),
            json!({}),
        );
        request.wait(20.0, 120.0);
        if fails {
            request.error(instance, "create", 500);
            *when = request.when;
            return false;
        }
        instance.launched_at = Some(request.when);
        request.compute(
            instance,
            "create.end",
            "active",
            None,
            json!({"message": "Success"}),
        );
        *when = request.when;
        true
    }

    fn operate(
        rng: &mut Rng,
        instance: &mut Instance,
        operation: &str,
        when: &mut DateTime<Utc>,
        out: &mut Vec<Message>,
    ) {
        let unfinished = rng.chance(5);
        let error_code = if rng.chance(6) {
            Some(*rng.pick(&[404u64, 409, 500]))
        } else {
            None
        };
        let mut request = new_request(rng, out, *when);
        request.api_update(instance, "active", operation);
        let steps: &[&str] = match operation {
            "resize" => &["resize.prep", "resize", "finish_resize"],
            other => std::slice::from_ref(match other {
                "snapshot" => &"snapshot",
                "rebuild" => &"rebuild",
                "reboot" => &"reboot",
                _ => &"power_off",
            }),
        };
        for (position, step) in steps.iter().enumerate() {
            request.wait(0.5, 3.0);
            request.compute(
                instance,
                &format!("{step}.start"),
                "active",
                Some(operation),
                json!({}),
            );
            request.wait(5.0, 240.0);
            let last = position + 1 == steps.len();
            if last && unfinished {
                break;
            }
            if let (true, Some(code)) = (last, error_code) {
                request.error(instance, operation, code);
                break;
            }
            if *step == "finish_resize" {
                instance.flavor = instance.flavor % 6 + 1;
            }
            if *step == "rebuild" {
                instance.launched_at = Some(request.when);
            }
            request.compute(instance, &format!("{step}.end"), "active", None, json!({}));
        }
        *when = request.when;
    }

    fn exists(rng: &mut Rng, instance: &Instance, when: DateTime<Utc>, out: &mut Vec<Message>) {
        let mut request = new_request(rng, out, when);
        let beginning = when - TimeDelta::hours(1);
        let bandwidth = json!({"public": {"bw_in": request.rng.below(1 << 30), "bw_out": request.rng.below(1 << 30)}});
        let extra = json!({
            "audit_period_beginning": nova_time(beginning), "audit_period_ending": nova_time(when),
            "bandwidth": bandwidth,
        });
        request.compute(instance, "exists", "active", None, extra);
    }

    fn delete(rng: &mut Rng, instance: &Instance, when: DateTime<Utc>, out: &mut Vec<Message>) {
        let mut request = new_request(rng, out, when);
        request.api_update(instance, "active", "deleting");
        request.wait(0.5, 3.0);
        request.compute(
            instance,
            "delete.start",
            "active",
            Some("deleting"),
            json!({}),
        );
        request.wait(0.1, 0.5);
        request.compute(
            instance,
            "shutdown.start",
            "active",
            Some("deleting"),
            json!({}),
        );
        request.wait(2.0, 30.0);
        request.compute(
            instance,
            "shutdown.end",
            "active",
            Some("deleting"),
            json!({}),
        );
        request.wait(0.1, 1.0);
        let gone = nova_time(request.when);
        request.compute(
            instance,
            "delete.end",
            "deleted",
            None,
            json!({"terminated_at": gone, "deleted_at": gone}),
        );
    }
}

mod glance {
    //! Glance images as glance 33 publishes them: no request context, publisher `image.<host>`.

    use super::*;

    fn emit(
        rng: &mut Rng,
        out: &mut Vec<Message>,
        event_type: &str,
        priority: &str,
        when: DateTime<Utc>,
        payload: Value,
    ) {
        let message = notification(rng, event_type, "image.localhost", when, priority, payload);
        out.push(Message {
            exchange: "glance".into(),
            routing_key: routing_key_of(priority),
            body: wrap(Envelope::V2, message),
            when,
        });
    }

    /// Each image's create → upload → activate (sometimes a failed upload,
    /// sometimes a delete), then one `image.exists` of them all.
    pub fn images(rng: &mut Rng, scenario: &Scenario, out: &mut Vec<Message>) {
        let mut exists = Vec::new();
        for index in 0..scenario.images {
            let mut when =
                scenario.start + TimeDelta::seconds(index as i64 * 45) + rng.seconds(0.0, 30.0);
            let id = rng.uuid();
            let owner = format!("{:032x}", rng.next_u64());
            let size = 1_000_000 + rng.below(2_000_000_000);
            let created = when.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let image = |status: &str| {
                json!({"id": id, "name": format!("image-{index}"), "status": status, "owner": owner, "size": size,
                       "created_at": created, "disk_format": "qcow2", "container_format": "bare",
                       "properties": {"image_type": "base", "os_distro": "ubuntu"}, "deleted": false, "deleted_at": null})
            };
            for (event_type, status) in [("image.create", "queued"), ("image.prepare", "queued")] {
                emit(rng, out, event_type, "INFO", when, image(status));
                when += rng.seconds(0.1, 2.0);
            }
            when += rng.seconds(5.0, 60.0);
            if rng.chance(15) {
                emit(
                    rng,
                    out,
                    "image.upload",
                    "ERROR",
                    when,
                    json!("Image storage media is full: disk full"),
                );
                continue;
            }
            emit(rng, out, "image.upload", "INFO", when, image("saving"));
            when += rng.seconds(0.1, 1.0);
            emit(rng, out, "image.activate", "INFO", when, image("active"));
            when += rng.seconds(1.0, 30.0);
            emit(rng, out, "image.update", "INFO", when, image("active"));
            exists.push(image("active"));
            if rng.chance(30) {
                when += rng.seconds(60.0, 600.0);
                let mut deleted = image("deleted");
                deleted["deleted"] = json!(true);
                deleted["deleted_at"] = json!(nova_time(when));
                emit(rng, out, "image.delete", "INFO", when, deleted);
            }
        }
        if !exists.is_empty() {
            let when = scenario.start + TimeDelta::hours(2);
            let payload = json!({"audit_period_beginning": nova_time(scenario.start), "audit_period_ending": nova_time(when), "images": exists});
            emit(rng, out, "image.exists", "INFO", when, payload);
        }
    }
}

mod crash {
    //! Processed crash reports over two weeks, with a skewed set of signatures
    //! (so top crashers have ranks) and some browser/plugin hang pairs.

    use super::*;

    const PRODUCTS: [(&str, [&str; 3]); 3] = [
        ("Firefox", ["42.0", "41.0.2", "43.0b1"]),
        ("Thunderbird", ["38.4.0", "38.3.0", "45.0a1"]),
        ("Fennec", ["42.0", "41.0", "44.0a2"]),
    ];
    const OS: [(&str, &str); 3] = [
        ("Windows NT", "6.1.7601 Service Pack 1"),
        ("Mac OS X", "10.10.5 14F27"),
        ("Linux", "0.0.0 Linux 4.2.0"),
    ];
    const SIGNATURES: [&str; 10] = [
        "OOM | small",
        "js::GCMarker::processMarkStackTop",
        "mozalloc_abort | NS_DebugBreak | nsTArray_base::EnsureCapacity",
        "nsObjectLoadingContent::LoadObject",
        "shutdownhang | WaitForSingleObjectEx",
        "F_1152915508________________________________",
        "mozilla::ipc::MessageChannel::Call",
        "EnterBaseline",
        "JSObject::getObjectClass",
        "hang | NtUserWaitMessage",
    ];

    /// A signature index skewed towards the first ones.
    fn skewed(rng: &mut Rng) -> usize {
        let a = rng.below(SIGNATURES.len() as u64);
        let b = rng.below(SIGNATURES.len() as u64);
        a.min(b) as usize
    }

    fn report(
        rng: &mut Rng,
        when: DateTime<Utc>,
        process_type: Option<&str>,
        hangid: Option<&str>,
    ) -> Value {
        let (product, versions) = *rng.pick(&PRODUCTS);
        let version = *rng.pick(&versions);
        let (os_name, os_version) = *rng.pick(&OS);
        let uuid = format!("{}{}", &rng.uuid()[..30], when.format("%y%m%d"));
        let mut crash = json!({
            "uuid": uuid, "date_processed": when.to_rfc3339(), "client_crash_date": (when - TimeDelta::seconds(20)).to_rfc3339(),
            "product": product, "version": version, "build": format!("2015{:010}", rng.below(10_000_000_000)),
            "release_channel": if version.contains('a') { "nightly" } else if version.contains('b') { "beta" } else { "release" },
            "os_name": os_name, "os_version": os_version, "cpu_name": "x86",
            "signature": SIGNATURES[skewed(rng)], "reason": "EXCEPTION_ACCESS_VIOLATION_READ",
            "address": format!("0x{:x}", rng.below(1 << 32)), "hangid": hangid, "process_type": process_type,
            "user_comments": if rng.chance(20) { json!("It crashed when I opened a tab") } else { Value::Null },
            "email": if rng.chance(10) { json!("someone@example.com") } else { Value::Null },
            "url": "https://example.com/page", "addons": [["{972ce4c6-7e08-4474-a285-3208198ce6fd}", version], ["uBlock0@raymondhill.net", "1.4.0"]],
            "uptime": rng.below(100_000), "install_age": rng.below(10_000_000),
        });
        if process_type == Some("plugin") {
            crash["PluginName"] = json!("Shockwave Flash");
            crash["PluginVersion"] = json!("19.0.0.245");
            crash["PluginFilename"] = json!("NPSWF32_19_0_0_245.dll");
        }
        crash
    }

    fn emit(rng: &mut Rng, out: &mut Vec<Message>, when: DateTime<Utc>, payload: Value) {
        let message = notification(
            rng,
            "crash.processed",
            "processor.processor-01",
            when,
            "INFO",
            payload,
        );
        out.push(Message {
            exchange: "tach".into(),
            routing_key: "crash.processed".into(),
            body: Value::Object(message),
            when,
        });
    }

    /// `count` reports; about one in ten is a hang pair (two reports).
    pub fn reports(rng: &mut Rng, scenario: &Scenario, out: &mut Vec<Message>) {
        let mut made = 0;
        while made < scenario.crashes {
            let when = scenario.start + rng.seconds(0.0, 14.0 * 86_400.0);
            if rng.chance(10) && made + 2 <= scenario.crashes {
                let hangid = rng.uuid();
                let plugin = report(rng, when, Some("plugin"), Some(&hangid));
                let browser = report(rng, when + TimeDelta::seconds(1), None, Some(&hangid));
                emit(rng, out, when, plugin);
                emit(rng, out, when + TimeDelta::seconds(1), browser);
                made += 2;
                continue;
            }
            let process_type = if rng.chance(10) {
                Some("content")
            } else {
                None
            };
            let crash = report(rng, when, process_type, None);
            emit(rng, out, when, crash);
            made += 1;
        }
    }
}

mod deploy {
    //! Products and their builds, and release lifecycles with packages and
    //! environment samples, as release tooling publishes them.

    use super::*;

    fn emit(
        rng: &mut Rng,
        out: &mut Vec<Message>,
        event_type: &str,
        when: DateTime<Utc>,
        payload: Value,
    ) {
        let message = notification(rng, event_type, "release.tooling", when, "INFO", payload);
        out.push(Message {
            exchange: "tach".into(),
            routing_key: event_type.into(),
            body: Value::Object(message),
            when,
        });
    }

    /// `product.version` and `product.build` events.
    pub fn products(rng: &mut Rng, scenario: &Scenario, out: &mut Vec<Message>) {
        let names = ["Firefox", "Thunderbird", "Fennec"];
        for index in 0..scenario.products {
            let product = names[index % names.len()];
            let major = 40 + index as u64;
            let version = format!("{major}.0");
            let when = scenario.start + TimeDelta::minutes(index as i64);
            let start_date = (scenario.start - TimeDelta::days(30))
                .format("%Y-%m-%d")
                .to_string();
            let end_date = (scenario.start + TimeDelta::days(60))
                .format("%Y-%m-%d")
                .to_string();
            emit(
                rng,
                out,
                "product.version",
                when,
                json!({
                    "product": product, "version": version, "build_type": "release", "release_channel": "release",
                    "major_version": major, "start_date": start_date, "end_date": end_date,
                    "throttle": 10.0, "is_featured": index % 2 == 0,
                }),
            );
            let buildid = format!(
                "{}{:06}",
                scenario.start.format("%Y%m%d"),
                rng.below(1_000_000)
            );
            emit(
                rng,
                out,
                "product.build",
                when + TimeDelta::seconds(1),
                json!({
                    "product": product, "version": version, "platform": "linux", "buildid": buildid,
                    "build_type": "release", "beta_number": null, "repository": "mozilla-release",
                    "date": when.format("%Y-%m-%d").to_string(),
                }),
            );
        }
    }

    /// Releases with 1–3 packages, results, an environment deploy, and status samples.
    pub fn releases(rng: &mut Rng, scenario: &Scenario, out: &mut Vec<Message>) {
        for index in 0..scenario.releases {
            let mut when = scenario.start + TimeDelta::hours(index as i64 * 3);
            let release_id = rng.uuid();
            let tag = format!("v{}", 30 + index);
            let sha = format!(
                "{:016x}{:016x}{:08x}",
                rng.next_u64(),
                rng.next_u64(),
                rng.below(1 << 32)
            );
            let user = *rng.pick(&["alice", "bob", "carol"]);
            let created = json!({
                "id": release_id, "tag": tag, "ref": format!("refs/tags/{tag}"), "sha": sha,
                "message": format!("Release {tag}"), "tagger": {"name": "Release Bot", "email": "releases@example.com", "date": when.to_rfc3339()},
                "user": user, "team": "socorro", "platforms": ["prod"],
                "references": [format!("TICKET-{}", 100 + index)], "notes": [], "metadata": {"env": "prod"},
            });
            emit(rng, out, "release.create", when, created);
            when += rng.seconds(1.0, 10.0);
            emit(
                rng,
                out,
                "release.start",
                when,
                json!({"release_id": release_id}),
            );
            for package in 0..(1 + rng.below(3)) {
                let package_id = rng.uuid();
                let name = ["socorro", "breakpad", "crash-stats"][package as usize];
                let fields = json!({"release_id": release_id, "package_id": package_id, "name": name,
                                    "version": format!("{}.{}", 30 + index, package), "rollback": false,
                                    "diff_url": format!("https://example.com/compare/{tag}")});
                when += rng.seconds(1.0, 10.0);
                emit(rng, out, "package.start", when, fields.clone());
                when += rng.seconds(30.0, 600.0);
                let mut end = fields;
                end["success"] = json!(!rng.chance(20));
                emit(rng, out, "package.end", when, end);
                emit(
                    rng,
                    out,
                    "package.result",
                    when,
                    json!({"release_id": release_id, "package_id": package_id, "content": {"tests": "passed"}}),
                );
            }
            when += rng.seconds(1.0, 10.0);
            emit(
                rng,
                out,
                "release.end",
                when,
                json!({"release_id": release_id}),
            );
            emit(
                rng,
                out,
                "environment.deploy",
                when,
                json!({"environment": "prod", "revisions": {"socorro": sha, "breakpad": "1094"}}),
            );
            for sample in 0..6 {
                let at = when + TimeDelta::minutes(5 * sample);
                let (waiting, processors) = (rng.below(100), 1 + rng.below(4));
                let (wait, process) = (
                    rng.below(30_000) as f64 / 1000.0,
                    rng.below(2000) as f64 / 1000.0,
                );
                let status = json!({
                    "environment": "prod", "id": 410_000 + index as u64 * 10 + sample as u64, "date_created": at.to_rfc3339(),
                    "waiting_job_count": waiting, "processors_count": processors,
                    "avg_wait_sec": wait, "avg_process_sec": process,
                    "date_oldest_job_queued": (at - TimeDelta::minutes(1)).to_rfc3339(), "date_recently_completed": at.to_rfc3339(),
                });
                emit(rng, out, "environment.status", at, status);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn inner(message: &Message) -> Value {
        match message.body.get("oslo.message").and_then(Value::as_str) {
            Some(text) => serde_json::from_str(text).unwrap(),
            None => message.body.clone(),
        }
    }

    #[test]
    fn the_same_scenario_gives_the_same_stream() {
        let scenario = Scenario::default();
        assert_eq!(generate(&scenario), generate(&scenario));
        assert_ne!(
            generate(&scenario),
            generate(&Scenario {
                seed: 2,
                ..scenario
            })
        );
    }

    #[test]
    fn messages_look_like_their_publishers() {
        let messages = generate(&Scenario {
            instances: 60,
            images: 20,
            crashes: 100,
            ..Scenario::default()
        });
        let mut ids = BTreeSet::new();
        let mut event_types = BTreeSet::new();
        for message in &messages {
            let body = inner(message);
            for field in [
                "event_type",
                "message_id",
                "publisher_id",
                "timestamp",
                "payload",
            ] {
                assert!(body.get(field).is_some(), "{field} in {body}");
            }
            assert!(
                ids.insert(body["message_id"].as_str().unwrap().to_owned()),
                "unique message ids"
            );
            let timestamp = body["timestamp"].as_str().unwrap();
            assert!(
                chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S%.f").is_ok(),
                "{timestamp}"
            );
            if message.exchange == "glance" {
                assert!(body
                    .as_object()
                    .unwrap()
                    .keys()
                    .all(|key| !key.starts_with("_context_")));
            }
            event_types.insert(body["event_type"].as_str().unwrap().to_owned());
        }
        for expected in [
            "compute.instance.create.start",
            "compute.instance.create.end",
            "compute.instance.resize.prep.start",
            "compute.instance.finish_resize.end",
            "compute.instance.snapshot.start",
            "compute.instance.rebuild.end",
            "compute.instance.exists",
            "compute.instance.delete.end",
            "instance.create.start",
            "image.activate",
            "image.exists",
            "crash.processed",
            "product.version",
            "product.build",
            "release.create",
            "package.end",
            "environment.status",
        ] {
            assert!(event_types.contains(expected), "{expected} missing");
        }
        assert!(messages
            .iter()
            .any(|m| m.routing_key == "notifications.error" && m.exchange == "nova"));
        assert!(messages
            .iter()
            .any(|m| m.exchange == "glance" && inner(m)["payload"].is_string()));
        let hang_ids: Vec<&str> = messages
            .iter()
            .filter_map(|m| m.body["payload"]["hangid"].as_str())
            .collect();
        assert!(hang_ids.len() >= 2 && hang_ids.len() % 2 == 0, "hang pairs");
        assert!(messages.windows(2).all(|pair| pair[0].when <= pair[1].when));
    }
}
