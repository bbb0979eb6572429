//! The project's own scripts say true things: `scripts/dev`'s closing hint
//! names the local stack's real kubectl (it once printed an empty path).

mod common;

use common::Stack;

#[test]
fn the_dev_hint_names_the_stacks_kubectl_and_it_runs() {
    let stack = Stack::get();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("source scripts/lib.sh && dev_hint http://127.0.0.1:3000")
        .current_dir(&root)
        .env(
            "STRONGROOM_STACK_DIR",
            std::env::var("STRONGROOM_STACK_DIR").unwrap(),
        )
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hint = String::from_utf8(out.stdout).unwrap();
    let kubectl = stack.var("KUBECTL");
    assert!(!kubectl.is_empty());
    let line = hint
        .lines()
        .find(|l| l.contains("--kubeconfig"))
        .expect("a kubectl line");
    let command: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        command[0], kubectl,
        "the hint names the stack's kubectl: {line}"
    );
    // The printed command works as printed.
    let run = std::process::Command::new(command[0])
        .args(&command[1..])
        .output()
        .expect("the printed kubectl runs");
    assert!(
        run.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}
