//! One nova instance's attributes and its notification payloads, in both of
//! nova's forms: the unversioned payload StackTach reads (as in
//! samples/nova-legacy) and the versioned `nova_object` one (samples/nova-versioned).
//! The fields that rarely change are built once per instance and cloned per
//! event, which keeps generating 200,000 messages fast.

use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::envelope::{iso_seconds, nova_time, Driver};
use super::payload::{object_of, Field, Members, SharedPayload};
use super::rng::Rng;

/// A flavor (instance type), from the sizes in the captured sequences.
#[derive(Debug)]
pub struct Flavor {
    /// `instance_type_id`.
    pub id: u64,
    /// `instance_flavor_id`.
    pub flavorid: &'static str,
    /// `instance_type`.
    pub name: &'static str,
    /// `memory_mb`.
    pub memory_mb: u64,
    /// `vcpus`.
    pub vcpus: u64,
    /// `root_gb`.
    pub root_gb: u64,
    /// `ephemeral_gb`.
    pub ephemeral_gb: u64,
}

const fn flavor(id: u64, flavorid: &'static str, name: &'static str, sizes: [u64; 4]) -> Flavor {
    let [memory_mb, vcpus, root_gb, ephemeral_gb] = sizes;
    Flavor {
        id,
        flavorid,
        name,
        memory_mb,
        vcpus,
        root_gb,
        ephemeral_gb,
    }
}

/// Flavors, weighted towards the small ones as real fleets are.
pub const FLAVORS: [(u64, Flavor); 9] = [
    (
        30,
        flavor(2, "2", "512MB Standard Instance", [512, 1, 20, 0]),
    ),
    (
        20,
        flavor(3, "3", "1GB Standard Instance", [1024, 1, 40, 0]),
    ),
    (
        12,
        flavor(4, "4", "2GB Standard Instance", [2048, 2, 80, 0]),
    ),
    (
        8,
        flavor(5, "5", "4GB Standard Instance", [4096, 2, 160, 0]),
    ),
    (
        5,
        flavor(6, "6", "8GB Standard Instance", [8192, 4, 320, 0]),
    ),
    (
        3,
        flavor(7, "7", "15GB Standard Instance", [15360, 6, 620, 0]),
    ),
    (
        12,
        flavor(10, "performance1-1", "1 GB Performance", [1024, 1, 20, 0]),
    ),
    (
        7,
        flavor(11, "performance1-4", "4 GB Performance", [4096, 4, 40, 40]),
    ),
    (
        3,
        flavor(
            12,
            "performance2-15",
            "15 GB Performance",
            [15360, 4, 40, 150],
        ),
    ),
];

/// An image's operating system: `os_type`, `os_distro`, the
/// `org.openstack__1__os_distro` name and its version.
type Os = (&'static str, &'static str, &'static str, &'static str);

/// Operating systems: every `image_type` flag StackTach derives (linux,
/// windows, freebsd; ubuntu, debian, centos, rhel) and one it does not.
const OPERATING_SYSTEMS: [(u64, Os); 8] = [
    (30, ("linux", "ubuntu", "com.ubuntu", "14.04")),
    (10, ("linux", "ubuntu", "com.ubuntu", "12.04")),
    (15, ("linux", "debian", "org.debian", "7")),
    (15, ("linux", "centos", "org.centos", "6.5")),
    (8, ("linux", "rhel", "com.redhat", "6")),
    (5, ("linux", "fedora", "org.fedoraproject", "20")),
    (15, ("windows", "windows", "com.microsoft.server", "2012.0")),
    (2, ("freebsd", "freebsd", "org.freebsd", "10")),
];

/// `image_meta.image_type`: mostly base images, some snapshots, few imports.
const IMAGE_TYPES: [(u64, &str); 3] = [(75, "base"), (20, "snapshot"), (5, "import")];

/// A tenant and the user who acts for it.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// `tenant_id` / `_context_project_id`.
    pub id: String,
    /// `user_id` / `_context_user_id`.
    pub user_id: String,
}

impl Tenant {
    /// A tenant with Rackspace-style numeric ids, as in the captures.
    pub fn new(rng: &mut Rng) -> Tenant {
        Tenant {
            id: rng.between(100_000, 999_999).to_string(),
            user_id: rng.hex(32),
        }
    }
}

/// Which form of notification an instance's compute service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unversioned notifications (`compute.instance.*`), by this driver.
    Legacy(Driver),
    /// Versioned notifications (`instance.*`, `nova_object` payloads), always v2.
    Versioned,
}

/// The versioned payload class of an event: `nova_object.name` and version.
pub type PayloadClass = (&'static str, &'static str);

/// One instance: what stays the same across its events, and its payloads.
pub struct Instance {
    /// The instance uuid.
    pub uuid: String,
    /// Owner.
    pub tenant: Tenant,
    /// Notification form.
    pub style: Style,
    /// Its compute host.
    pub compute_host: String,
    /// The API host its requests arrive at.
    pub api_host: String,
    /// The scheduler host that places it.
    pub scheduler_host: String,
    /// Current flavor.
    pub flavor: &'static Flavor,
    /// Current `vm_state`.
    pub state: &'static str,
    /// The payload members every event of the instance shares (versioned:
    /// of `nova_object.data`) that never change.
    fixed: Rc<Members>,
    /// The shared members that change on resize, launch and delete.
    changing: Rc<Members>,
}

impl Instance {
    /// A new instance of `tenant`, created at `created_at` on a random host.
    pub fn new(rng: &mut Rng, tenant: Tenant, created_at: DateTime<Utc>) -> Instance {
        // Mostly the v2 driver; some deployments still run the v1 one.
        let style = match rng.below(100) {
            0..=9 => Style::Versioned,
            10..=19 => Style::Legacy(Driver::V1),
            _ => Style::Legacy(Driver::V2),
        };
        let mut instance = Instance {
            uuid: rng.uuid().to_string(),
            tenant,
            style,
            compute_host: format!("compute-{:02}", rng.between(1, 99)),
            api_host: format!("api-{:02}", rng.between(1, 3)),
            scheduler_host: format!("scheduler-{:02}", rng.between(1, 2)),
            flavor: rng.weighted(&FLAVORS),
            state: "building",
            fixed: Rc::default(),
            changing: Rc::default(),
        };
        let (fixed, changing) = match style {
            Style::Legacy(_) => instance.legacy_base(rng, created_at),
            Style::Versioned => instance.versioned_base(rng, created_at),
        };
        instance.fixed = Rc::new(fixed);
        instance.changing = Rc::new(changing);
        instance
    }

    /// True for the versioned form.
    pub fn versioned(&self) -> bool {
        self.style == Style::Versioned
    }

    /// The event type of a compute step (`create.start`, `resize.prep.end`, …)
    /// in this instance's form.
    pub fn event_type(&self, step: &str) -> String {
        if !self.versioned() {
            return format!("compute.instance.{step}");
        }
        // The versioned names of the steps whose unversioned names differ.
        let versioned_step = step
            .replace("resize.prep", "resize_prep")
            .replace("finish_resize", "resize_finish")
            .replace("resize.confirm", "resize_confirm");
        format!("instance.{versioned_step}")
    }

    /// `publisher_id` of the compute service.
    pub fn compute_publisher(&self) -> String {
        match self.style {
            Style::Versioned => format!("nova-compute:{}", self.compute_host),
            Style::Legacy(_) => format!("compute.{}", self.compute_host),
        }
    }

    /// `publisher_id` of the API service (its service name contains `api`:
    /// that starts StackTach's KPI clock, SPEC §4.5).
    pub fn api_publisher(&self) -> String {
        match self.style {
            Style::Versioned => format!("nova-api:{}", self.api_host),
            Style::Legacy(_) => format!("api.{}", self.api_host),
        }
    }

    /// Records the flavor a resize moved the instance to.
    pub fn set_flavor(&mut self, flavor: &'static Flavor) {
        self.flavor = flavor;
        let versioned = self.versioned();
        self.members().update(|base| {
            if versioned {
                base.insert("flavor".into(), flavor_payload(flavor));
            } else {
                insert_legacy_flavor(base, flavor);
            }
        });
    }

    /// Records a (re)launch: create.end and rebuild.end set `launched_at`.
    pub fn set_launched_at(&mut self, when: DateTime<Utc>) {
        let value = match self.style {
            Style::Versioned => iso_seconds(when),
            Style::Legacy(_) => nova_time(when),
        };
        self.members().update(|base| {
            base.insert("launched_at".into(), Value::String(value));
        });
    }

    /// Records the delete: `terminated_at` and `deleted_at`.
    pub fn set_deleted_at(&mut self, when: DateTime<Utc>) {
        let value = match self.style {
            Style::Versioned => iso_seconds(when),
            Style::Legacy(_) => nova_time(when),
        };
        self.members().update(|base| {
            base.insert("terminated_at".into(), Value::String(value.clone()));
            base.insert("deleted_at".into(), Value::String(value));
        });
    }

    /// The shared members, to change them (no payload holds them then).
    fn members(&mut self) -> &mut Members {
        Rc::make_mut(&mut self.changing)
    }

    /// An unversioned payload: `state`, and the task in `state_description`;
    /// callers add their event's members to `own`.
    pub fn legacy_payload(&self, state: &'static str, task: Option<&'static str>) -> SharedPayload {
        let own = vec![
            ("state", Field::plain(state)),
            ("state_description", Field::plain(task.unwrap_or(""))),
        ];
        SharedPayload {
            shared: [Rc::clone(&self.fixed), Rc::clone(&self.changing)],
            own,
            class: None,
        }
    }

    /// A versioned payload of `class`: `state`, `task_state`, `power_state`,
    /// `request_id` and no `fault`; callers add their event's members to `own`.
    pub fn versioned_payload(
        &self,
        class: PayloadClass,
        state: &'static str,
        task: Option<&'static str>,
        request_id: &str,
    ) -> SharedPayload {
        let own = vec![
            ("fault", Field::Json(Value::Null)),
            ("power_state", Field::plain(power_state(state))),
            ("request_id", Field::plain(request_id.to_owned())),
            ("state", Field::plain(state)),
            ("task_state", Field::Maybe(task)),
        ];
        SharedPayload {
            shared: [Rc::clone(&self.fixed), Rc::clone(&self.changing)],
            own,
            class: Some(class),
        }
    }

    /// The unversioned payload's fixed and changing shared members.
    fn legacy_base(&self, rng: &mut Rng, created_at: DateTime<Utc>) -> (Members, Members) {
        let number = rng.between(100_000, 999_999);
        let image_id = rng.uuid().to_string();
        let os = *rng.weighted(&OPERATING_SYSTEMS);
        let image_meta = image_meta(rng, &image_id, os, self.flavor);
        let mut base = Map::new();
        base.insert(
            "access_ip_v4".into(),
            json!(format!("198.51.100.{}", rng.between(2, 254))),
        );
        base.insert(
            "access_ip_v6".into(),
            json!(format!("2001:db8::{:x}", rng.between(2, 0xfffe))),
        );
        base.insert("architecture".into(), json!("x64"));
        base.insert("availability_zone".into(), Value::Null);
        base.insert("created_at".into(), json!(nova_time(created_at)));
        base.insert("display_name".into(), json!(format!("Instance_{number}")));
        base.insert("host".into(), json!(self.compute_host));
        base.insert("hostname".into(), json!(format!("server-{number}")));
        base.insert("image_meta".into(), image_meta);
        base.insert(
            "image_ref_url".into(),
            json!(format!(
                "http://198.51.100.{}:9292/images/{image_id}",
                rng.between(10, 14)
            )),
        );
        base.insert("instance_id".into(), json!(self.uuid));
        base.insert("kernel_id".into(), json!(""));
        base.insert("metadata".into(), json!({}));
        base.insert("node".into(), json!(format!("node-{number}")));
        base.insert("os_type".into(), json!(os.0));
        base.insert("ramdisk_id".into(), json!(""));
        base.insert("reservation_id".into(), json!(format!("r-{number}")));
        base.insert("tenant_id".into(), json!(self.tenant.id));
        base.insert("user_id".into(), json!(self.tenant.user_id));
        let mut changing = Map::new();
        changing.insert("launched_at".into(), json!(""));
        changing.insert("terminated_at".into(), json!(""));
        changing.insert("deleted_at".into(), json!(""));
        insert_legacy_flavor(&mut changing, self.flavor);
        (Members::new(base), Members::new(changing))
    }

    /// The versioned `nova_object.data`'s fixed and changing shared members.
    fn versioned_base(&self, rng: &mut Rng, created_at: DateTime<Utc>) -> (Members, Members) {
        let number = rng.between(1, 0xffff);
        let (os_type, _, _, _) = *rng.weighted(&OPERATING_SYSTEMS);
        let created = iso_seconds(created_at);
        let data = json!({
            "action_initiator_project": self.tenant.id,
            "action_initiator_user": self.tenant.user_id,
            "architecture": "x86_64",
            "auto_disk_config": "MANUAL",
            "availability_zone": "nova",
            "block_devices": [],
            "created_at": created,
            "display_description": format!("server-{number}"),
            "display_name": format!("server-{number}"),
            "host": self.compute_host,
            "host_name": format!("server-{number}"),
            "image_uuid": rng.uuid().to_string(),
            "ip_addresses": [],
            "kernel_id": "",
            "key_name": "my-key",
            "locked": false,
            "locked_reason": null,
            "metadata": {},
            "node": self.compute_host,
            "os_type": os_type,
            "progress": 0,
            "ramdisk_id": "",
            "reservation_id": format!("r-{}", rng.hex(8)),
            "shares": [],
            "tags": [],
            "tenant_id": self.tenant.id,
            "updated_at": created,
            "user_id": self.tenant.user_id,
            "uuid": self.uuid,
        });
        let changing = json!({
            "deleted_at": null,
            "flavor": flavor_payload(self.flavor),
            "launched_at": null,
            "terminated_at": null,
        });
        (
            Members::new(object_of(data)),
            Members::new(object_of(changing)),
        )
    }
}

/// The unversioned payload's flavor fields.
fn insert_legacy_flavor(base: &mut Map<String, Value>, flavor: &Flavor) {
    base.insert(
        "disk_gb".into(),
        json!(flavor.root_gb + flavor.ephemeral_gb),
    );
    base.insert("ephemeral_gb".into(), json!(flavor.ephemeral_gb));
    base.insert("instance_flavor_id".into(), json!(flavor.flavorid));
    base.insert("instance_type".into(), json!(flavor.name));
    base.insert("instance_type_id".into(), json!(flavor.id));
    base.insert("memory_mb".into(), json!(flavor.memory_mb));
    base.insert("root_gb".into(), json!(flavor.root_gb));
    base.insert("vcpus".into(), json!(flavor.vcpus));
}

/// `image_meta` as the captured sequences carry it.
fn image_meta(rng: &mut Rng, image_id: &str, os: Os, flavor: &Flavor) -> Value {
    let (os_type, os_distro, org_distro, os_version) = os;
    let image_type = *rng.weighted(&IMAGE_TYPES);
    json!({
        "auto_disk_config": if rng.chance(50) { "True" } else { "disabled" },
        "base_image_ref": image_id,
        "cache_in_nova": "True",
        "container_format": "ovf",
        "disk_format": "vhd",
        "image_type": image_type,
        "min_disk": flavor.root_gb.to_string(),
        "min_ram": "512",
        "org.openstack__1__architecture": "x64",
        "org.openstack__1__os_distro": org_distro,
        "org.openstack__1__os_version": os_version,
        "os_distro": os_distro,
        "os_type": os_type,
        "vm_mode": if os_type == "windows" { "xen" } else { "hvm" },
    })
}

/// A versioned `FlavorPayload`.
fn flavor_payload(flavor: &Flavor) -> Value {
    json!({
        "nova_object.data": {
            "description": null,
            "disabled": false,
            "ephemeral_gb": flavor.ephemeral_gb,
            "extra_specs": {"hw:watchdog_action": "disabled"},
            "flavorid": flavor.flavorid,
            "is_public": true,
            "memory_mb": flavor.memory_mb,
            "name": flavor.name,
            "projects": null,
            "root_gb": flavor.root_gb,
            "rxtx_factor": 1.0,
            "swap": 0,
            "vcpu_weight": 0,
            "vcpus": flavor.vcpus,
        },
        "nova_object.name": "FlavorPayload",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.4",
    })
}

/// Wraps versioned `data` as a `nova_object` of `class`.
pub fn nova_object(class: PayloadClass, data: Map<String, Value>) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("nova_object.data".into(), Value::Object(data));
    object.insert("nova_object.name".into(), json!(class.0));
    object.insert("nova_object.namespace".into(), json!("nova"));
    object.insert("nova_object.version".into(), json!(class.1));
    object
}

/// The versioned `power_state` that goes with a `vm_state`.
fn power_state(state: &str) -> &'static str {
    match state {
        "building" => "pending",
        "stopped" | "deleted" => "shutdown",
        _ => "running",
    }
}
