//! A trial thread's own descriptor table.
//!
//! Every spawn copies the spawning thread's descriptor table into the child and `execve`
//! then closes each close-on-exec entry one by one (`dup_fd`, `do_close_on_exec`,
//! `filp_flush`, and `dnotify_flush` for each directory). Threads share their process's
//! table, so with N trials in flight every agent spawn paid for the ~4 N descriptors
//! the other trials held (pipes, pidfds, log directories): at 500 trials in flight a
//! fifth of the worker threads' CPU. A trial thread that owns its table pays only for
//! its own few.
//!
//! Such a thread opens, uses and closes its files itself and never hands a descriptor
//! to another thread: what it opens exists only in its table, and it sees none of the
//! process's descriptors but stdin, stdout and stderr (log lines still reach stderr).

/// Gives the calling thread a descriptor table of its own holding only descriptors
/// 0-2, without copying the others (`close_range(3, ~0, CLOSE_RANGE_UNSHARE)`, Linux
/// 5.9+). Returns whether it did; on failure (an older kernel) the thread keeps sharing
/// the process's table, which is correct, only slower.
pub fn private_fd_table() -> bool {
    // SAFETY: close_range takes plain integers; with CLOSE_RANGE_UNSHARE it affects only
    // the calling thread's (new, unshared) table, so no other thread's descriptors are
    // closed. The caller owns no descriptor >= 3 in this thread (it is a fresh thread).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_UNSHARE,
        )
    };
    rc == 0
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    /// A descriptor opened before stays open for the process; the private thread does
    /// not see it, and what the thread opens is not in the process's table.
    #[test]
    fn a_private_table_is_the_threads_own() {
        let shared = std::fs::File::open("/dev/null").unwrap();
        let fd = shared.as_raw_fd();
        let (seen, own_fd) = std::thread::spawn(move || {
            assert!(
                super::private_fd_table(),
                "close_range(CLOSE_RANGE_UNSHARE) failed"
            );
            // SAFETY: fcntl(F_GETFD) only queries a descriptor number.
            let seen = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
            let own = std::fs::File::open("/dev/zero").unwrap();
            let own_fd = own.as_raw_fd();
            std::mem::forget(own); // stays in the thread's table until it exits
            (seen, own_fd)
        })
        .join()
        .unwrap();
        assert!(!seen, "the private table has no copy of descriptor {fd}");
        // SAFETY: fcntl(F_GETFD) only queries a descriptor number.
        let open_here = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
        assert!(open_here, "still open here");
        let here = std::fs::read_link(format!("/proc/self/fd/{own_fd}"));
        assert!(
            here.map_or(true, |p| p != std::path::Path::new("/dev/zero")),
            "the thread's file is not in the process's table"
        );
        drop(shared);
    }
}
