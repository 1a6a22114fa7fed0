//! StackTach's image type bit flags, derived from an image's metadata, so
//! reports can group by base/snapshot image and operating system.

use serde_json::{Map, Value};

/// A base image.
pub const BASE_IMAGE: i32 = 0x1;
/// A snapshot of an instance.
pub const SNAPSHOT_IMAGE: i32 = 0x2;
/// An imported image (StackTach's value, which overlaps base | snapshot).
pub const IMPORT_IMAGE: i32 = 0x3;
/// Linux.
pub const LINUX_IMAGE: i32 = 0x10;
/// Windows.
pub const WINDOWS_IMAGE: i32 = 0x20;
/// FreeBSD.
pub const FREEBSD_IMAGE: i32 = 0x40;
/// Ubuntu.
pub const OS_UBUNTU: i32 = 0x100;
/// Debian.
pub const OS_DEBIAN: i32 = 0x200;
/// CentOS.
pub const OS_CENTOS: i32 = 0x400;
/// Red Hat Enterprise Linux.
pub const OS_RHEL: i32 = 0x800;

/// The flags of `meta` (nova's `image_meta`, glance's `properties`);
/// `fallback_os_type` is the payload's own `os_type`, which nova also sends.
pub fn flags(meta: Option<&Map<String, Value>>, fallback_os_type: Option<&str>) -> i32 {
    let text = |key: &str| meta.and_then(|meta| meta.get(key)).and_then(Value::as_str);
    let image_type = match text("image_type") {
        Some("base") => BASE_IMAGE,
        Some("snapshot") => SNAPSHOT_IMAGE,
        Some("import") => IMPORT_IMAGE,
        _ => 0,
    };
    let os_type = match text("os_type").or(fallback_os_type) {
        Some("linux") => LINUX_IMAGE,
        Some("windows") => WINDOWS_IMAGE,
        Some("freebsd") => FREEBSD_IMAGE,
        _ => 0,
    };
    let os_distro = match text("os_distro") {
        Some("ubuntu") => OS_UBUNTU,
        Some("debian") => OS_DEBIAN,
        Some("centos") => OS_CENTOS,
        Some("rhel") => OS_RHEL,
        _ => 0,
    };
    image_type | os_type | os_distro
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn combines_type_os_and_distro() {
        let meta = json!({"image_type": "snapshot", "os_type": "linux", "os_distro": "ubuntu"});
        assert_eq!(
            flags(meta.as_object(), None),
            SNAPSHOT_IMAGE | LINUX_IMAGE | OS_UBUNTU
        );
    }

    #[test]
    fn falls_back_to_the_payload_os_type() {
        let meta = json!({"image_type": "base"});
        assert_eq!(
            flags(meta.as_object(), Some("windows")),
            BASE_IMAGE | WINDOWS_IMAGE
        );
        assert_eq!(flags(None, None), 0);
    }
}
