//! Nova instance lifecycles, following the captured request sequences in
//! samples/nova-legacy: a create (API update, scheduler, compute), then some
//! of resize (and its confirm), snapshot, rebuild, reboot and power off, the
//! `exists` audit of every audit period (daily, or hourly with
//! [`AuditPeriod::Hourly`]), and usually a delete. Every request shares one
//! `_context_request_id`; a few operations fail (`<op>.error` on
//! `notifications.error`, no `.end`) and a few never finish.

use std::rc::Rc;

use chrono::{DateTime, Days, DurationRound, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use super::context;
use super::envelope::{
    day_start, iso_seconds, nova_time, oslo_message, Context, Driver, Notification, Priority,
};
use super::instance::{nova_object, Flavor, Instance, PayloadClass, Style, Tenant, FLAVORS};
use super::payload::{object_of, set, Field, Members, Own, Payload, SharedPayload};
use super::rng::Rng;
use super::{AuditPeriod, Scenario, Timed};

/// Tenants the instances belong to, so per-tenant KPIs and usage have groups.
const TENANTS: usize = 40;

/// A new instance about every this many seconds.
const STAGGER_SECONDS: i64 = 20;

/// One step of an operation: `<name>.start` … `<name>.end`, and the task
/// states the instance goes through in between.
struct Step {
    name: &'static str,
    tasks: &'static [&'static str],
    seconds: (f64, f64),
}

/// An operation after create: its API task state, steps and end state.
struct Operation {
    name: &'static str,
    /// Chance in percent that an instance does it (beyond the one forced per instance).
    percent: u64,
    api_task: Option<&'static str>,
    /// Nova sends an `exists` for the period so far before resizing or rebuilding.
    exists_first: bool,
    steps: &'static [Step],
    end_state: &'static str,
}

const RESIZE: Operation = Operation {
    name: "resize",
    percent: 25,
    api_task: Some("resize_prep"),
    exists_first: true,
    steps: &[
        Step {
            name: "resize.prep",
            tasks: &["resize_prep"],
            seconds: (0.3, 3.0),
        },
        Step {
            name: "resize",
            tasks: &["resize_migrating", "resize_migrated"],
            seconds: (30.0, 1800.0),
        },
        Step {
            name: "finish_resize",
            tasks: &["resize_finish"],
            seconds: (10.0, 300.0),
        },
    ],
    end_state: "resized",
};

/// The user's confirm of a finished resize (nova's API sets no task for it).
const CONFIRM: Operation = Operation {
    name: "resize.confirm",
    percent: 70,
    api_task: None,
    exists_first: false,
    steps: &[Step {
        name: "resize.confirm",
        tasks: &["resize_confirming"],
        seconds: (0.5, 5.0),
    }],
    end_state: "active",
};

/// The operations an instance may do after create, in the order it does them.
const OPERATIONS: [Operation; 5] = [
    RESIZE,
    Operation {
        name: "snapshot",
        percent: 30,
        api_task: Some("image_snapshot_pending"),
        exists_first: false,
        steps: &[Step {
            name: "snapshot",
            tasks: &["image_snapshot", "image_pending_upload", "image_uploading"],
            seconds: (20.0, 900.0),
        }],
        end_state: "active",
    },
    Operation {
        name: "rebuild",
        percent: 15,
        api_task: Some("rebuilding"),
        exists_first: true,
        steps: &[Step {
            name: "rebuild",
            tasks: &[
                "rebuilding",
                "rebuild_block_device_mapping",
                "rebuild_spawning",
            ],
            seconds: (15.0, 600.0),
        }],
        end_state: "active",
    },
    Operation {
        name: "reboot",
        percent: 30,
        api_task: Some("rebooting"),
        exists_first: false,
        steps: &[Step {
            name: "reboot",
            tasks: &["rebooting"],
            seconds: (5.0, 120.0),
        }],
        end_state: "active",
    },
    Operation {
        name: "power_off",
        percent: 15,
        api_task: Some("powering-off"),
        exists_first: false,
        steps: &[Step {
            name: "power_off",
            tasks: &["powering-off"],
            seconds: (0.3, 30.0),
        }],
        end_state: "stopped",
    },
];

/// Error codes of failed operations (`payload.exception.kwargs.code`).
const ERROR_CODES: [(u64, u64); 4] = [(60, 500), (20, 409), (15, 404), (5, 400)];

/// How an operation ends.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Finished,
    /// `<step>.error` instead of that step's `.end`; the operation stops.
    Failed {
        step: usize,
    },
    /// The step's `.start` is the last thing heard.
    Unfinished {
        step: usize,
    },
}

impl Outcome {
    /// 6 % fail and 4 % never finish, at a random step.
    fn draw(rng: &mut Rng, steps: usize) -> Outcome {
        let roll = rng.below(100);
        let step = rng.below(steps as u64) as usize;
        match roll {
            0..=5 => Outcome::Failed { step },
            6..=9 => Outcome::Unfinished { step },
            _ => Outcome::Finished,
        }
    }
}

/// Every instance's lifecycle, staggered from the scenario's start.
pub(super) fn instances(scenario: &Scenario, out: &mut Vec<Timed>) {
    let mut part = Rng::for_part(scenario.seed, "nova");
    let tenants: Vec<Tenant> = (0..TENANTS).map(|_| Tenant::new(&mut part)).collect();
    // Hourly audits go on for instances left running until a day after the
    // last instance was created (daily ones stop with the last request).
    let last_start = TimeDelta::seconds(scenario.instances as i64 * STAGGER_SECONDS);
    let audits_end = scenario.start + last_start + TimeDelta::days(1);
    for index in 0..scenario.instances {
        let mut rng = part.fork();
        let start = scenario.start + stagger(&mut rng, index);
        // A few tenants own most instances, as in real clouds.
        let popular = rng.below(TENANTS as u64) + 1;
        let tenant = tenants[rng.below(popular) as usize].clone();
        let created_at = start - rng.seconds(0.1, 1.0);
        let instance = Instance::new(&mut rng, tenant, created_at);
        let mut life = Life {
            rng: &mut rng,
            out,
            instance,
            when: start,
            launched: None,
            next_flavor: None,
            audit_period: scenario.audit_period,
            audited_to: None,
        };
        life.run(index);
        if scenario.audit_period == AuditPeriod::Hourly {
            life.audit_until(audits_end);
        }
    }
}

/// When instance `index` starts, after the scenario's start; the first at it exactly.
fn stagger(rng: &mut Rng, index: usize) -> TimeDelta {
    if index == 0 {
        return TimeDelta::zero();
    }
    TimeDelta::seconds(index as i64 * STAGGER_SECONDS) + rng.seconds(0.0, 15.0)
}

/// One instance living its life: the clock, and where its messages go.
struct Life<'a> {
    rng: &'a mut Rng,
    out: &'a mut Vec<Timed>,
    instance: Instance,
    when: DateTime<Utc>,
    /// When it was (last) launched; the exists audit covers launched instances only.
    launched: Option<DateTime<Utc>>,
    /// The flavor a resize in progress moves to (announced at `resize.prep.end`).
    next_flavor: Option<&'static Flavor>,
    /// How often the usage audit runs.
    audit_period: AuditPeriod,
    /// The end of the last hourly period audited.
    audited_to: Option<DateTime<Utc>>,
}

/// One API request: its id and the request context its messages carry.
struct Request {
    id: String,
    /// The `_context_*` members, built once for all the request's messages.
    context: Context,
}

impl Life<'_> {
    /// Create, some operations (each instance does at least the one its
    /// index picks, so small scenarios have every kind), usually a delete.
    fn run(&mut self, index: usize) {
        if !self.create() {
            if self.instance.state == "error" && self.rng.chance(50) {
                self.pause(60.0, 3600.0);
                self.delete();
            }
            return;
        }
        for (position, operation) in OPERATIONS.iter().enumerate() {
            let forced = index % OPERATIONS.len() == position;
            if forced || self.rng.chance(operation.percent) {
                self.pause(300.0, 7200.0);
                self.operate(operation);
            }
            let resized = self.instance.state == RESIZE.end_state;
            if operation.name == RESIZE.name && resized && self.rng.chance(CONFIRM.percent) {
                self.pause(60.0, 1800.0);
                self.operate(&CONFIRM);
            }
        }
        if self.rng.chance(75) {
            self.pause(600.0, 14_400.0);
            self.delete();
        }
    }

    /// The boot request; false when the instance never became active.
    fn create(&mut self) -> bool {
        let outcome = Outcome::draw(self.rng, 1);
        let request = self.request();
        self.api_update(&request, None, Some("scheduling"));
        self.schedule(&request);
        self.wait(0.1, 0.5);
        self.update(&request, Some("building"), Some("scheduling"), None);
        self.wait(0.1, 0.5);
        self.step(&request, "create.start", None, Own::new());
        self.spawn(&request);
        match outcome {
            Outcome::Failed { .. } => {
                self.error(&request, "create");
                self.wait(0.01, 0.2);
                self.instance.state = "error";
                self.update(&request, Some("building"), Some("spawning"), None);
                return false;
            }
            Outcome::Unfinished { .. } => return false,
            Outcome::Finished => {}
        }
        self.wait(0.1, 0.6);
        self.instance.state = "active";
        self.update(&request, Some("building"), Some("spawning"), None);
        self.wait(0.01, 0.1);
        self.instance.set_launched_at(self.when);
        self.launched = Some(self.when);
        let success = vec![("message", Field::plain("Success"))];
        self.step(&request, "create.end", None, success);
        true
    }

    /// The scheduler's placement (unversioned nova only); its three
    /// messages share the `request_spec`.
    fn schedule(&mut self, request: &Request) {
        if self.instance.versioned() {
            return;
        }
        let publisher = format!("scheduler.{}", self.instance.scheduler_host);
        let mut spec = Map::new();
        spec.insert("request_spec".into(), self.request_spec());
        let spec = Rc::new(Members::new(spec));
        for event_type in [
            "scheduler.run_instance.start",
            "scheduler.run_instance.scheduled",
            "scheduler.run_instance.end",
        ] {
            self.wait(0.1, 0.4);
            let mut own = Own::new();
            if event_type.ends_with("scheduled") {
                let host = json!({"host": self.instance.compute_host, "weight": 120.0});
                own.push(("instance_id", Field::plain(self.instance.uuid.clone())));
                own.push(("weighted_host", Field::Json(host)));
            }
            let payload = SharedPayload {
                shared: [Rc::clone(&spec), Rc::default()],
                own,
                class: None,
            };
            self.emit(request, event_type, &publisher, Priority::Info, payload);
        }
    }

    /// The compute host's progress through networking, block devices and spawning.
    fn spawn(&mut self, request: &Request) {
        let tasks = [
            None,
            Some("networking"),
            Some("block_device_mapping"),
            Some("spawning"),
        ];
        for pair in tasks.windows(2) {
            self.wait(0.1, 0.3);
            self.update(request, Some("building"), pair[0], pair[1]);
        }
        for _ in 0..self.rng.between(1, 3) {
            self.wait(2.0, 40.0);
            self.update(request, None, None, Some("spawning"));
        }
    }

    /// One operation after create, as its table entry describes it.
    fn operate(&mut self, operation: &Operation) {
        let outcome = Outcome::draw(self.rng, operation.steps.len());
        let request = self.request();
        let state = Some(self.instance.state);
        self.api_update(&request, state, operation.api_task);
        self.wait(0.05, 0.8);
        self.update(&request, state, None, operation.api_task);
        if operation.exists_first {
            self.wait(0.2, 1.0);
            self.exists_so_far(&request);
        }
        for (index, step) in operation.steps.iter().enumerate() {
            self.wait(0.02, 0.6);
            let task = step.tasks.first().copied();
            self.step(&request, &format!("{}.start", step.name), task, Own::new());
            self.progress(&request, step);
            match outcome {
                Outcome::Unfinished { step: at } if at == index => return,
                Outcome::Failed { step: at } if at == index => {
                    self.error(&request, step.name);
                    self.wait(0.01, 0.2);
                    self.update(&request, state, step.tasks.last().copied(), None);
                    return;
                }
                _ => {}
            }
            let last = index + 1 == operation.steps.len();
            self.finish_step(&request, operation, step, last);
        }
    }

    /// Task-state updates inside a step, with the step's time spread across them.
    fn progress(&mut self, request: &Request, step: &Step) {
        let state = Some(self.instance.state);
        let (low, high) = step.seconds;
        let share = step.tasks.len() as f64;
        for pair in step.tasks.windows(2) {
            self.wait(low / share, high / share);
            self.update(request, state, Some(pair[0]), Some(pair[1]));
        }
        self.wait(low / share, high / share);
    }

    /// The update that ends a step's task, then its `.end` (the last step's
    /// in the operation's end state).
    fn finish_step(&mut self, request: &Request, operation: &Operation, step: &Step, last: bool) {
        let before = Some(self.instance.state);
        if last {
            self.instance.state = operation.end_state;
        }
        self.update(request, before, step.tasks.last().copied(), None);
        self.wait(0.01, 0.1);
        let extra = self.step_effects(step.name);
        self.step(request, &format!("{}.end", step.name), None, extra);
    }

    /// What finishing a step changes on the instance, and the fields its
    /// `.end` adds for that.
    fn step_effects(&mut self, step: &str) -> Own {
        match step {
            "resize.prep" => {
                let flavor = self.other_flavor();
                self.next_flavor = Some(flavor);
                vec![
                    ("new_instance_type", Field::plain(flavor.name)),
                    ("new_instance_type_id", Field::Number(flavor.id)),
                ]
            }
            "resize" => {
                if let Some(flavor) = self.next_flavor.take() {
                    self.instance.set_flavor(flavor);
                }
                Own::new()
            }
            "rebuild" => {
                self.instance.set_launched_at(self.when);
                self.launched = Some(self.when);
                Own::new()
            }
            _ => Own::new(),
        }
    }

    /// A flavor other than the current one.
    fn other_flavor(&mut self) -> &'static Flavor {
        let flavor = &self.rng.weighted(&FLAVORS);
        if flavor.id != self.instance.flavor.id {
            return flavor;
        }
        let position = FLAVORS
            .iter()
            .position(|(_, candidate)| candidate.id == flavor.id)
            .unwrap_or(0);
        &FLAVORS[(position + 1) % FLAVORS.len()].1
    }

    /// The delete request: an exists for the period so far, shutdown, and
    /// `delete.end` with `terminated_at` and `deleted_at`.
    fn delete(&mut self) {
        let outcome = Outcome::draw(self.rng, 1);
        let request = self.request();
        let state = Some(self.instance.state);
        self.api_update(&request, state, Some("deleting"));
        self.wait(0.1, 3.0);
        self.update(&request, state, None, Some("deleting"));
        if self.launched.is_some() {
            self.wait(0.1, 0.5);
            self.exists_so_far(&request);
        }
        self.wait(0.1, 3.0);
        self.step(&request, "delete.start", Some("deleting"), Own::new());
        self.wait(0.01, 0.1);
        self.step(&request, "shutdown.start", Some("deleting"), Own::new());
        match outcome {
            Outcome::Unfinished { .. } => return,
            Outcome::Failed { .. } => {
                self.wait(0.1, 2.0);
                self.error(&request, "delete");
                return;
            }
            Outcome::Finished => {}
        }
        self.wait(1.0, 30.0);
        self.step(&request, "shutdown.end", Some("deleting"), Own::new());
        self.wait(0.1, 0.3);
        self.instance.state = "deleted";
        self.instance.set_deleted_at(self.when);
        self.update(&request, state, Some("deleting"), None);
        self.wait(0.05, 0.3);
        self.step(&request, "delete.end", None, Own::new());
        self.launched = None;
    }

    /// Lets time pass between requests, with the usage audits that fall in it.
    fn pause(&mut self, low_seconds: f64, high_seconds: f64) {
        let until = self.when + self.rng.seconds(low_seconds, high_seconds);
        self.audit_until(until);
        self.when = until;
    }

    /// The usage audits due by `until`, each sent some minutes after its
    /// period ends.
    fn audit_until(&mut self, until: DateTime<Utc>) {
        match self.audit_period {
            AuditPeriod::Daily => self.audit_days_until(until),
            AuditPeriod::Hourly => self.audit_hours_until(until),
        }
    }

    /// Daily audits, as the first streams had them: the midnights of this
    /// pause (at most two) while launched, none that would land after
    /// `until`. Leaves the clock at the last midnight or audit.
    fn audit_days_until(&mut self, until: DateTime<Utc>) {
        let period = AuditPeriod::Daily;
        let mut audits = 0;
        while let Some(end) = period.next_end(self.when).filter(|end| *end < until) {
            let audit_at = end + self.rng.seconds(30.0, 900.0);
            if self.launched.is_some() && audit_at < until && audits < 2 {
                self.when = audit_at;
                let request = self.request();
                self.exists(&request, end - period.length(), end);
                audits += 1;
            }
            self.when = end.max(self.when);
        }
    }

    /// Hourly audits of every hour that ended since the last one audited
    /// (or the launch) and before `until`, hours that ended amid a request
    /// included. Each is sent at its own time — the stream is sorted by
    /// time at the end — so the clock does not move.
    fn audit_hours_until(&mut self, until: DateTime<Utc>) {
        let Some(launched) = self.launched else {
            return;
        };
        let period = AuditPeriod::Hourly;
        let resume = self.when;
        let mut from = self.audited_to.unwrap_or(launched);
        while let Some(end) = period.next_end(from).filter(|end| *end < until) {
            self.when = end + self.rng.seconds(30.0, 900.0);
            let request = self.request();
            self.exists(&request, end - period.length(), end);
            from = end;
            self.audited_to = Some(end);
        }
        self.when = resume;
    }

    /// The exists nova sends before a resize, rebuild or delete: the period so far.
    fn exists_so_far(&mut self, request: &Request) {
        let beginning = self.audit_period.start(self.when);
        self.exists(request, beginning, self.when);
    }

    /// A new request: its id and context (`_context_*`, as oslo serializes
    /// nova's RequestContext).
    fn request(&mut self) -> Request {
        let id = format!("req-{}", self.rng.uuid());
        let auth_token = self.rng.hex(32);
        let remote_address = format!("198.51.100.{}", self.rng.between(2, 254));
        let timestamp = nova_time(self.when);
        let fields = context::Fields {
            id: &id,
            tenant: &self.instance.tenant,
            auth_token: &auth_token,
            remote_address: &remote_address,
            timestamp: &timestamp,
        };
        let context = match self.instance.style {
            Style::Versioned => context::modern(&fields, Driver::V2),
            Style::Legacy(driver) => context::legacy(&fields, driver),
        };
        Request { id, context }
    }

    /// The scheduler's `request_spec`, cut down from the captured one.
    fn request_spec(&self) -> Value {
        let flavor = self.instance.flavor;
        json!({
            "block_device_mapping": [],
            "instance_properties": {
                "host": null,
                "instance_type_id": flavor.id,
                "memory_mb": flavor.memory_mb,
                "project_id": self.instance.tenant.id,
                "root_gb": flavor.root_gb,
                "user_id": self.instance.tenant.user_id,
                "uuid": self.instance.uuid,
                "vcpus": flavor.vcpus,
            },
            "instance_type": {
                "ephemeral_gb": flavor.ephemeral_gb,
                "flavorid": flavor.flavorid,
                "id": flavor.id,
                "memory_mb": flavor.memory_mb,
                "name": flavor.name,
                "root_gb": flavor.root_gb,
                "vcpus": flavor.vcpus,
            },
            "instance_uuids": [self.instance.uuid],
            "num_instances": 1,
            "security_group": ["default"],
        })
    }

    /// The API's `compute.instance.update` that opens a request (and
    /// StackTach's KPI clock).
    fn api_update(
        &mut self,
        request: &Request,
        old_state: Option<&'static str>,
        new_task: Option<&'static str>,
    ) {
        let publisher = self.instance.api_publisher();
        let payload = update_payload(
            &self.instance,
            self.audit_period.start(self.when),
            self.when,
            request,
            [old_state, None, new_task],
        );
        let event_type = self.instance.event_type("update");
        self.emit(request, &event_type, &publisher, Priority::Info, payload);
    }

    /// A compute host's `compute.instance.update` (a state or task change).
    fn update(
        &mut self,
        request: &Request,
        old_state: Option<&'static str>,
        old_task: Option<&'static str>,
        new_task: Option<&'static str>,
    ) {
        let publisher = self.instance.compute_publisher();
        let change = [old_state, old_task, new_task];
        let beginning = self.audit_period.start(self.when);
        let payload = update_payload(&self.instance, beginning, self.when, request, change);
        let event_type = self.instance.event_type("update");
        self.emit(request, &event_type, &publisher, Priority::Info, payload);
    }

    /// A compute step's event (`create.start`, `resize.prep.end`, …).
    fn step(&mut self, request: &Request, step: &str, task: Option<&'static str>, extra: Own) {
        let state = self.instance.state;
        let mut payload = match self.instance.versioned() {
            true => self
                .instance
                .versioned_payload(payload_class(step), state, task, &request.id),
            false => self.instance.legacy_payload(state, task),
        };
        payload.own.extend(extra);
        let publisher = self.instance.compute_publisher();
        let event_type = self.instance.event_type(step);
        self.emit(request, &event_type, &publisher, Priority::Info, payload);
    }

    /// `<step>.error` with priority ERROR (routed `notifications.error`):
    /// unversioned nova puts the code in `exception.kwargs`, versioned nova
    /// an ExceptionPayload in `fault`.
    fn error(&mut self, request: &Request, step: &str) {
        let code = *self.rng.weighted(&ERROR_CODES);
        let (exception, reason) = failure(step, code);
        let state = self.instance.state;
        let mut payload;
        if self.instance.versioned() {
            let class = payload_class(step);
            payload = self
                .instance
                .versioned_payload(class, state, None, &request.id);
            let fault = json!({
                "exception": exception,
                "exception_message": reason,
                "function_name": format!("_{}", step.replace('.', "_")),
                "module_name": "nova.compute.manager",
                "traceback": "Traceback (most recent call last):\n  File \"nova/compute/manager.py\", line ...",
            });
            let fault = versioned("ExceptionPayload", "1.1", fault);
            set(&mut payload.own, "fault", Field::Json(fault));
        } else {
            payload = self.instance.legacy_payload(state, None);
            let uuid = &self.instance.uuid;
            let kwargs = json!({"code": code, "instance_uuid": uuid, "reason": reason});
            payload.own.push(("code", Field::Number(code)));
            let exception = json!({ "kwargs": kwargs });
            payload.own.push(("exception", Field::Json(exception)));
            payload.own.push(("message", Field::plain(reason)));
        }
        let publisher = self.instance.compute_publisher();
        let event_type = self.instance.event_type(&format!("{step}.error"));
        self.emit(request, &event_type, &publisher, Priority::Error, payload);
    }

    /// `compute.instance.exists`: usage for the audit period
    /// `[beginning, ending)`.
    fn exists(&mut self, request: &Request, beginning: DateTime<Utc>, ending: DateTime<Utc>) {
        let state = self.instance.state;
        let bandwidth_in = self.rng.below(5_000_000_000);
        let bandwidth_out = self.rng.below(500_000_000);
        let mut payload;
        if self.instance.versioned() {
            let class = ("InstanceExistsPayload", "2.1");
            payload = self
                .instance
                .versioned_payload(class, state, None, &request.id);
            let period = audit_period(beginning, ending);
            payload.own.push(("audit_period", Field::Json(period)));
            payload.own.push(("bandwidth", Field::Json(json!([]))));
        } else {
            payload = self.instance.legacy_payload(state, None);
            let own = &mut payload.own;
            own.push(("audit_period_beginning", Field::plain(nova_time(beginning))));
            own.push(("audit_period_ending", Field::plain(nova_time(ending))));
            let bandwidth = json!({
                "private": {"bw_in": bandwidth_in / 3, "bw_out": bandwidth_out / 3},
                "public": {"bw_in": bandwidth_in, "bw_out": bandwidth_out},
            });
            own.push(("bandwidth", Field::Json(bandwidth)));
        }
        let publisher = self.instance.compute_publisher();
        let event_type = self.instance.event_type("exists");
        self.emit(request, &event_type, &publisher, Priority::Info, payload);
    }

    /// Wraps and queues one message of `request` at the current time.
    fn emit(
        &mut self,
        request: &Request,
        event_type: &str,
        publisher_id: &str,
        priority: Priority,
        payload: SharedPayload,
    ) {
        let notification = Notification {
            event_type,
            publisher_id,
            priority,
            when: self.when,
            payload: Payload::Shared(payload),
        };
        let context = Some(&request.context);
        let timed = oslo_message(self.rng, "nova", self.driver(), notification, context);
        self.out.push(timed);
    }

    /// The oslo.messaging driver the instance's services use.
    fn driver(&self) -> Driver {
        match self.instance.style {
            Style::Legacy(driver) => driver,
            Style::Versioned => Driver::V2,
        }
    }

    /// Advances the clock by a random time in `[low, high)` seconds.
    fn wait(&mut self, low_seconds: f64, high_seconds: f64) {
        self.when += self.rng.seconds(low_seconds, high_seconds);
    }
}

/// An update's payload: the state change (`[old_state, old_task_state,
/// new_task_state]`) and the audit period so far (from `beginning`).
fn update_payload(
    instance: &Instance,
    beginning: DateTime<Utc>,
    when: DateTime<Utc>,
    request: &Request,
    [old_state, old_task, new_task]: [Option<&'static str>; 3],
) -> SharedPayload {
    let state = instance.state;
    if instance.versioned() {
        let class = ("InstanceUpdatePayload", "2.1");
        let mut payload = instance.versioned_payload(class, state, new_task, &request.id);
        let state_update = json!({
            "new_task_state": new_task,
            "old_state": old_state,
            "old_task_state": old_task,
            "state": state,
        });
        let state_update = versioned("InstanceStateUpdatePayload", "1.0", state_update);
        payload
            .own
            .push(("state_update", Field::Json(state_update)));
        let period = audit_period(beginning, when);
        payload.own.push(("audit_period", Field::Json(period)));
        return payload;
    }
    let mut payload = instance.legacy_payload(state, new_task);
    let own = &mut payload.own;
    own.push(("old_state", Field::Maybe(old_state)));
    own.push(("old_task_state", Field::Maybe(old_task)));
    own.push(("new_task_state", Field::Maybe(new_task)));
    own.push(("audit_period_beginning", Field::plain(nova_time(beginning))));
    own.push(("audit_period_ending", Field::plain(nova_time(when))));
    own.push(("bandwidth", Field::Json(Value::Object(Map::new()))));
    payload
}

/// Nova's exception class and message for a failed `step` with `code`.
fn failure(step: &str, code: u64) -> (&'static str, &'static str) {
    let operation = step.split('.').next().unwrap_or(step);
    match (code, operation) {
        (500, "create") => (
            "NoValidHost",
            "No valid host was found. There are not enough hosts available.",
        ),
        (500, "resize" | "finish_resize") => (
            "ResizeError",
            "Resize error: VDI too big for requested resize up.",
        ),
        (500, "snapshot") => (
            "ImageNotAuthorized",
            "Not authorized for image: upload to glance failed.",
        ),
        (500, _) => (
            "ProcessExecutionError",
            "Unexpected error while running command.",
        ),
        (409, _) => (
            "InstanceInvalidState",
            "Instance is in an invalid state for this operation.",
        ),
        (404, "create" | "rebuild" | "snapshot") => ("ImageNotFound", "Image could not be found."),
        (404, _) => ("InstanceNotFound", "Instance could not be found."),
        _ => (
            "FlavorDiskTooSmall",
            "Flavor's disk is too small for requested image.",
        ),
    }
}

/// The versioned payload class of an unversioned step name.
fn payload_class(step: &str) -> PayloadClass {
    let operation = step.split('.').next().unwrap_or(step);
    match (operation, step.starts_with("resize.prep")) {
        ("create", _) => ("InstanceCreatePayload", "1.13"),
        ("rebuild", _) => ("InstanceActionRebuildPayload", "1.10"),
        ("snapshot", _) => ("InstanceActionSnapshotPayload", "1.10"),
        (_, true) => ("InstanceActionResizePrepPayload", "1.4"),
        _ => ("InstanceActionPayload", "1.9"),
    }
}

/// A nested versioned object of `name` and `version`.
fn versioned(name: &'static str, version: &'static str, data: Value) -> Value {
    Value::Object(nova_object((name, version), object_of(data)))
}

/// A versioned `AuditPeriodPayload`.
fn audit_period(beginning: DateTime<Utc>, ending: DateTime<Utc>) -> Value {
    let data = json!({
        "audit_period_beginning": iso_seconds(beginning),
        "audit_period_ending": iso_seconds(ending),
    });
    versioned("AuditPeriodPayload", "1.0", data)
}

impl AuditPeriod {
    /// The length of one period.
    fn length(self) -> TimeDelta {
        match self {
            AuditPeriod::Daily => TimeDelta::days(1),
            AuditPeriod::Hourly => TimeDelta::hours(1),
        }
    }

    /// The start of the period `when` falls in.
    fn start(self, when: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            AuditPeriod::Daily => day_start(when),
            AuditPeriod::Hourly => when.duration_trunc(TimeDelta::hours(1)).unwrap_or(when),
        }
    }

    /// The end of the period `when` falls in (the first boundary after it).
    fn next_end(self, when: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            AuditPeriod::Daily => day_start(when).checked_add_days(Days::new(1)),
            AuditPeriod::Hourly => self.start(when).checked_add_signed(self.length()),
        }
    }
}
