//! The allocator setting both services start with. glibc's malloc gives
//! each thread that contends for it an arena of its own, up to eight per
//! core, and memory freed into one arena is not reused by the others; tokio
//! moves tasks between worker threads, so a batch parsed on one thread and
//! dropped on another left its pages behind. One arena made tach-ingest's
//! peak RSS 50 MiB instead of 80, and tach-query's 87 MiB instead of 104
//! (`tach-bench footprint --instances 1000`, one run each; mimalloc, tried
//! too, gave 109 and 125).

/// Limits glibc's malloc to one arena. Call first thing in `main`, before
/// any other thread starts; elsewhere than glibc it does nothing.
#[allow(unsafe_code)]
pub fn use_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable and is called before any
    // other thread exists, so no allocation races with it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
