//! Safe wrappers over the two calls into glibc's allocator that Strongroom's
//! server makes: fixed thresholds at start-up ([`set_thresholds`]) and
//! giving the heaps' free pages back after a burst ([`trim`]). No crate
//! offers them, and the rest of the workspace forbids `unsafe`, so the two
//! foreign calls live here, each with what makes it sound. Elsewhere than
//! Linux with glibc both do nothing and say so.

/// Sets glibc's `M_MMAP_THRESHOLD` (blocks at least this large get a
/// mapping of their own, which goes back to the system when freed) and
/// `M_TRIM_THRESHOLD` (free memory at the top of a heap beyond this goes
/// back at once). Setting either turns off glibc's adaptive thresholds,
/// which otherwise grow up to 32 MiB as large blocks are freed.
///
/// glibc's `mallopt` is not safe while other threads allocate (it writes
/// settings they read without a lock), so this does it only while the
/// calling thread is the process's only one, before any runtime starts:
/// then no other thread can exist or appear during the call. Returns
/// whether both were set; `false` when other threads exist, a value does
/// not fit, or glibc refused it.
pub fn set_thresholds(mmap_bytes: u32, trim_bytes: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let (Ok(mmap), Ok(trim)) = (
            libc::c_int::try_from(mmap_bytes),
            libc::c_int::try_from(trim_bytes),
        ) else {
            return false;
        };
        if threads() != Some(1) {
            return false;
        }
        #[allow(unsafe_code)]
        // SAFETY: this thread is the only one (checked just above; only it
        // could start another), so no allocation runs concurrently with
        // mallopt(3), which glibc requires. mallopt takes plain integers and
        // refuses values it does not accept (returning 0).
        let accepted = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, mmap) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, trim) == 1
        };
        accepted
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (mmap_bytes, trim_bytes);
        false
    }
}

/// How many threads the process has (`Threads:` in /proc/self/status).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn threads() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// Gives every whole free page of every heap back to the system
/// (`malloc_trim(0)`). Returns whether any memory was released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: malloc_trim(3) is MT-Safe: it walks each arena's free
        // lists under that arena's lock and only releases pages no
        // allocation uses; it takes no pointer of ours.
        let released = unsafe { libc::malloc_trim(0) };
        released == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Whether these calls do anything here (Linux with glibc).
pub const SUPPORTED: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_refused_once_other_threads_exist() {
        // The test harness runs tests on threads of its own.
        assert!(!set_thresholds(128 * 1024, 128 * 1024));
    }

    #[test]
    fn thresholds_out_of_range_are_refused() {
        assert!(!set_thresholds(u32::MAX, 128 * 1024));
    }

    #[test]
    fn a_freed_burst_goes_back_to_the_system() {
        if !SUPPORTED {
            return;
        }
        // 80 MB of small blocks (below the mmap threshold, so in a heap);
        // the newest few stay in use, so the heap's top does too and only
        // malloc_trim can give back the freed space below them.
        let mut blocks: Vec<Vec<u8>> = (0..20_000u32).map(|i| vec![i as u8; 4000]).collect();
        let top = blocks.split_off(19_990);
        drop(blocks);
        assert!(
            trim(),
            "malloc_trim released nothing after 80 MB were freed"
        );
        assert_eq!(top.len(), 10);
    }
}
