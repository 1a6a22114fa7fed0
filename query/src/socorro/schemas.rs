//! The middleware's answers as OpenAPI documents them (render.rs writes
//! them; the schemathesis run checks every answer against these).

#![allow(dead_code)]

use utoipa::ToSchema;

/// `{"hits": [...], "total": n}`.
#[derive(ToSchema)]
pub struct Hits<T> {
    /// The rows.
    hits: Vec<T>,
    /// Their number, or the number matched when paged.
    total: i64,
}

/// A comment of `/crashes/comments`.
#[derive(ToSchema)]
pub struct Comment {
    /// `YYYY-MM-DD HH:MM:SS.ffffff`.
    date_processed: String,
    uuid: String,
    /// Only with TACH_READ_TOKEN when it is set.
    #[schema(required = false)]
    user_comments: Option<String>,
    /// Only with TACH_READ_TOKEN when it is set.
    #[schema(required = false)]
    email: Option<String>,
}

/// A crash of a hang pair.
#[derive(ToSchema)]
pub struct PairedUuid {
    uuid: String,
}

/// One top crasher; ranks of a signature new in the period are `"null"` and
/// its changes `"new"`, as Socorro sent them.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TopCrasher {
    signature: String,
    count: i64,
    current_rank: i64,
    #[schema(value_type = serde_json::Value)]
    previous_rank: serde_json::Value,
    #[schema(value_type = serde_json::Value)]
    change_in_rank: serde_json::Value,
    percent_of_total: f64,
    #[schema(value_type = serde_json::Value)]
    previous_percent_of_total: serde_json::Value,
    #[schema(value_type = serde_json::Value)]
    change_in_percent_of_total: serde_json::Value,
    #[schema(rename = "win_count")]
    win_count: i64,
    #[schema(rename = "mac_count")]
    mac_count: i64,
    #[schema(rename = "linux_count")]
    linux_count: i64,
    #[schema(rename = "hang_count")]
    hang_count: i64,
    #[schema(rename = "plugin_count")]
    plugin_count: i64,
    #[schema(rename = "content_count")]
    content_count: i64,
}

/// `/crashes/signatures`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TopCrashers {
    crashes: Vec<TopCrasher>,
    total_number_of_crashes: i64,
    total_percentage: f64,
    /// `YYYY-MM-DD HH:MM:SS`.
    #[schema(rename = "start_date")]
    start_date: String,
    #[schema(rename = "end_date")]
    end_date: String,
}

/// An extension of `/extensions`.
#[derive(ToSchema)]
pub struct Extension {
    report_id: i64,
    /// ISO 8601.
    date_processed: String,
    extension_key: i32,
    extension_id: String,
    extension_version: Option<String>,
}

/// A build of `/products/builds`.
#[derive(ToSchema)]
pub struct Build {
    product: String,
    version: String,
    platform: String,
    buildid: i64,
    build_type: Option<String>,
    beta_number: Option<String>,
    repository: Option<String>,
    /// `YYYY-MM-DD`.
    date: Option<String>,
}

/// A product version of `/products/versions`.
#[derive(ToSchema)]
pub struct ProductVersion {
    product: String,
    version: String,
    build_type: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    throttle: Option<f64>,
    is_featured: Option<bool>,
}

/// A signature of `/search/signatures`.
#[derive(ToSchema)]
pub struct Signature {
    signature: String,
    count: i64,
    is_windows: i64,
    is_mac: i64,
    is_linux: i64,
    numhang: i64,
    numplugin: i64,
}

/// A crash report of `/search/crashes` and `/report/list`.
#[derive(ToSchema)]
pub struct Report {
    uuid: String,
    date_processed: String,
    client_crash_date: Option<String>,
    product: Option<String>,
    version: Option<String>,
    build: Option<String>,
    release_channel: Option<String>,
    os_name: Option<String>,
    os_version: Option<String>,
    cpu_name: Option<String>,
    signature: Option<String>,
    reason: Option<String>,
    address: Option<String>,
    hangid: Option<String>,
    process_type: Option<String>,
    /// Only with TACH_READ_TOKEN when it is set.
    #[schema(required = false)]
    user_comments: Option<String>,
    /// Only with TACH_READ_TOKEN when it is set.
    #[schema(required = false)]
    email: Option<String>,
    /// Only with TACH_READ_TOKEN when it is set.
    #[schema(required = false)]
    url: Option<String>,
    uptime: Option<i64>,
    install_age: Option<i64>,
    #[schema(rename = "PluginName")]
    plugin_name: Option<String>,
    #[schema(rename = "PluginVersion")]
    plugin_version: Option<String>,
    #[schema(rename = "PluginFilename")]
    plugin_filename: Option<String>,
}

/// One `product:version` of `/util/versions_info`.
#[derive(ToSchema)]
pub struct VersionInfo {
    version_string: String,
    product_name: String,
    major_version: Option<String>,
    release_channel: Option<String>,
    build_id: Option<Vec<i64>>,
}
