// Without this, cargo does not notice a new file in migrations/ and the
// embedded MIGRATOR silently misses it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
