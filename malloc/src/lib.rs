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
/// which otherwise grow up to 32 MiB as large blocks are freed. Returns
/// whether both were accepted.
pub fn set_thresholds(mmap_bytes: u32, trim_bytes: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let (Ok(mmap), Ok(trim)) = (
            libc::c_int::try_from(mmap_bytes),
            libc::c_int::try_from(trim_bytes),
        ) else {
            return false;
        };
        #[allow(unsafe_code)]
        // SAFETY: mallopt(3) only sets the allocator's parameters, under
        // the allocator's own lock; it reads no memory of ours and may be
        // called at any time from any thread. Invalid values are refused
        // (it returns 0), not undefined.
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

/// Gives every whole free page of every heap back to the system
/// (`malloc_trim(0)`). Returns whether any memory was released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        #[allow(unsafe_code)]
        // SAFETY: malloc_trim(3) walks the allocator's own free lists under
        // each arena's lock and only releases pages no allocation uses; it
        // takes no pointer of ours and may be called at any time from any
        // thread.
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
    fn a_freed_burst_goes_back_to_the_system() {
        if !SUPPORTED {
            return;
        }
        assert!(set_thresholds(128 * 1024, 128 * 1024));
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

    #[test]
    fn thresholds_out_of_range_are_refused() {
        assert!(!set_thresholds(u32::MAX, 128 * 1024));
    }
}
