//! A release and its packages as a pure function of the release's deploy
//! events (DESIGN.md): whatever order the events arrive in, the same set
//! gives the same [`Release`]. Status rules are Orlo's, as API.md §3 fixes
//! them; start/stop times pair like any `.start`/`.end` (SPEC §4.4).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The `release.create` fields Observatory answers verbatim (the git tag object).
pub const TAG_FIELDS: [&str; 7] = ["tag", "ref", "sha", "message", "tagger", "url", "object"];

/// One stored deploy event of a release.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseEvent {
    /// `release.create`, `package.start`, ….
    pub event_type: String,
    /// The event's time.
    pub when: DateTime<Utc>,
    /// Its message id: breaks ties between events of the same time.
    pub message_id: String,
    /// The message's `payload` (an empty object when it had none).
    pub payload: Map<String, Value>,
}

/// A package's or a release's status (Orlo's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Never started.
    NotStarted,
    /// Started, not stopped.
    InProgress,
    /// Stopped with success.
    Successful,
    /// Stopped without success.
    Failed,
}

impl Status {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "NOT_STARTED",
            Status::InProgress => "IN_PROGRESS",
            Status::Successful => "SUCCESSFUL",
            Status::Failed => "FAILED",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::NotStarted,
            Status::InProgress,
            Status::Successful,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A derived package.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `package_id`.
    pub id: String,
    /// Latest name given.
    pub name: Option<String>,
    /// Latest version given.
    pub version: Option<String>,
    /// Latest rollback flag given (false when never given).
    pub rollback: bool,
    /// Latest diff URL given.
    pub diff_url: Option<String>,
    /// Status from its starts and stops.
    pub status: Status,
    /// First start.
    pub stime: Option<DateTime<Utc>>,
    /// Last stop.
    pub ftime: Option<DateTime<Utc>>,
    /// `ftime − stime` in whole seconds.
    pub duration: Option<i64>,
    /// The `content` of each `package.result`, in time order.
    pub results: Vec<Value>,
    starts: Vec<DateTime<Utc>>,
    stops: Vec<(DateTime<Utc>, bool)>,
}

/// A derived release.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    /// The release id.
    pub id: String,
    /// The tag fields of `release.create` present in it.
    pub tag_fields: Map<String, Value>,
    /// `user`.
    pub user: Option<String>,
    /// `team`.
    pub team: Option<String>,
    /// `platforms` (a string becomes a one-item list).
    pub platforms: Vec<Value>,
    /// `references`.
    pub references: Vec<Value>,
    /// The notes of `release.create`, then each `release.note`'s text.
    pub notes: Vec<Value>,
    /// `metadata`, merged with each `release.metadata` in time order.
    pub metadata: Map<String, Value>,
    /// First `release.start`.
    pub stime: Option<DateTime<Utc>>,
    /// Last `release.end`.
    pub ftime: Option<DateTime<Utc>>,
    /// `ftime − stime` in whole seconds.
    pub duration: Option<i64>,
    /// Status from the packages (API.md §3).
    pub status: Status,
    /// True when any package is a rollback.
    pub rollback: bool,
    /// Time of the release's first event.
    pub first_seen: DateTime<Utc>,
    /// Packages in the order of their first event.
    pub packages: Vec<Package>,
}

impl Release {
    /// The tag name, when the release has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag_fields.get("tag").and_then(Value::as_str)
    }
}

/// Orlo's reading of a package stop's `success`: true, `"true"`, `"True"`
/// and `"1"` mean success; anything else, missing included, failure.
pub fn is_success(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(text)) => matches!(text.as_str(), "true" | "True" | "1"),
        Some(Value::Number(number)) => number.as_i64() == Some(1),
        _ => false,
    }
}

/// Derives release `id` from its events; `None` when there are none.
pub fn derive(id: &str, events: &[ReleaseEvent]) -> Option<Release> {
    let mut ordered: Vec<&ReleaseEvent> = events.iter().collect();
    ordered.sort_by(|a, b| (a.when, &a.message_id).cmp(&(b.when, &b.message_id)));
    let mut release = empty_release(id, ordered.first()?.when);
    let mut later = Later::default();
    for event in ordered {
        apply_event(&mut release, &mut later, event);
    }
    release.notes = later.created_notes.into_iter().chain(later.notes).collect();
    for fields in later.metadata {
        release.metadata.extend(fields);
    }
    release.duration = seconds_between(release.stime, release.ftime);
    for package in &mut release.packages {
        finish_package(package);
    }
    release.rollback = release.packages.iter().any(|package| package.rollback);
    release.status = release_status(&release.packages, release.ftime.is_some());
    Some(release)
}

/// What the events add on top of `release.create`, applied after all of
/// them: notes append to the created ones, metadata merges over it.
#[derive(Default)]
struct Later {
    created_notes: Vec<Value>,
    notes: Vec<Value>,
    metadata: Vec<Map<String, Value>>,
}

fn empty_release(id: &str, first_seen: DateTime<Utc>) -> Release {
    Release {
        id: id.to_owned(),
        tag_fields: Map::new(),
        user: None,
        team: None,
        platforms: Vec::new(),
        references: Vec::new(),
        notes: Vec::new(),
        metadata: Map::new(),
        stime: None,
        ftime: None,
        duration: None,
        status: Status::NotStarted,
        rollback: false,
        first_seen,
        packages: Vec::new(),
    }
}

/// Applies one event; they come in time order, so the first start and the
/// last end win.
fn apply_event(release: &mut Release, later: &mut Later, event: &ReleaseEvent) {
    let payload = &event.payload;
    match event.event_type.as_str() {
        "release.create" => {
            apply_create(release, payload);
            later.created_notes = list(payload.get("notes").or_else(|| payload.get("note")));
        }
        "release.start" => release.stime = release.stime.or(Some(event.when)),
        "release.end" => release.ftime = Some(event.when),
        "release.note" => later.notes.extend(list(payload.get("text"))),
        "release.metadata" => {
            if let Some(Value::Object(fields)) = payload.get("metadata") {
                later.metadata.push(fields.clone());
            }
        }
        kind if kind.starts_with("package.") => apply_package(release, event),
        _ => {}
    }
}

fn apply_create(release: &mut Release, payload: &Map<String, Value>) {
    release.tag_fields = TAG_FIELDS
        .iter()
        .filter_map(|field| Some(((*field).to_owned(), payload.get(*field)?.clone())))
        .collect();
    release.user = text(payload.get("user"));
    release.team = text(payload.get("team"));
    release.platforms = list(payload.get("platforms"));
    release.references = list(payload.get("references"));
    release.metadata = match payload.get("metadata") {
        Some(Value::Object(fields)) => fields.clone(),
        _ => Map::new(),
    };
}

fn apply_package(release: &mut Release, event: &ReleaseEvent) {
    let payload = &event.payload;
    let Some(package_id) = text(payload.get("package_id")) else {
        return;
    };
    let index = match release.packages.iter().position(|p| p.id == package_id) {
        Some(index) => index,
        None => {
            release.packages.push(new_package(package_id));
            release.packages.len() - 1
        }
    };
    let package = &mut release.packages[index];
    if let Some(name) = text(payload.get("name")) {
        package.name = Some(name);
    }
    if let Some(version) = text(payload.get("version")) {
        package.version = Some(version);
    }
    if let Some(rollback) = payload.get("rollback").and_then(Value::as_bool) {
        package.rollback = rollback;
    }
    if let Some(diff_url) = text(payload.get("diff_url")) {
        package.diff_url = Some(diff_url);
    }
    match event.event_type.as_str() {
        "package.start" => package.starts.push(event.when),
        "package.end" => package
            .stops
            .push((event.when, is_success(payload.get("success")))),
        "package.result" => package
            .results
            .push(payload.get("content").cloned().unwrap_or(Value::Null)),
        _ => {}
    }
}

fn new_package(id: String) -> Package {
    Package {
        id,
        name: None,
        version: None,
        rollback: false,
        diff_url: None,
        status: Status::NotStarted,
        stime: None,
        ftime: None,
        duration: None,
        results: Vec::new(),
        starts: Vec::new(),
        stops: Vec::new(),
    }
}

/// The events came in time order, so the last stop decides the outcome.
fn finish_package(package: &mut Package) {
    package.stime = package.starts.first().copied();
    package.ftime = package.stops.last().map(|(when, _)| *when);
    package.status = match (package.stops.last(), package.starts.is_empty()) {
        (Some((_, true)), _) => Status::Successful,
        (Some((_, false)), _) => Status::Failed,
        (None, false) => Status::InProgress,
        (None, true) => Status::NotStarted,
    };
    package.duration = seconds_between(package.stime, package.ftime);
}

/// API.md §3: FAILED if any package failed; else IN_PROGRESS if any is in
/// progress or finished and unstarted ones are mixed; SUCCESSFUL when all
/// succeeded; NOT_STARTED when none started. Without packages: NOT_STARTED
/// until the release stops, then SUCCESSFUL.
pub fn release_status(packages: &[Package], stopped: bool) -> Status {
    let count = |status: Status| packages.iter().filter(|p| p.status == status).count();
    if packages.is_empty() {
        return if stopped {
            Status::Successful
        } else {
            Status::NotStarted
        };
    }
    if count(Status::Failed) > 0 {
        Status::Failed
    } else if count(Status::Successful) == packages.len() {
        Status::Successful
    } else if count(Status::NotStarted) == packages.len() {
        Status::NotStarted
    } else {
        Status::InProgress
    }
}

fn seconds_between(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<i64> {
    Some((end? - start?).num_seconds())
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A list field: an array as is, a lone value as a one-item list, null as empty.
fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

#[cfg(test)]
mod tests;
