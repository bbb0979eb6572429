//! `set_thresholds` from a process's only thread: this test binary has no
//! harness (Cargo.toml: `harness = false`), so `main` runs alone.

fn main() {
    if !strongroom_malloc::SUPPORTED {
        return;
    }
    assert!(
        strongroom_malloc::set_thresholds(128 * 1024, 128 * 1024),
        "the only thread may set the thresholds"
    );
    std::thread::spawn(|| ()).join().unwrap();
    // A thread has come and gone: the process is single-threaded again.
    assert!(strongroom_malloc::set_thresholds(256 * 1024, 256 * 1024));
    let worker = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)));
    assert!(
        !strongroom_malloc::set_thresholds(128 * 1024, 128 * 1024),
        "refused while another thread runs"
    );
    worker.join().unwrap();
    println!("single_thread: ok");
}
