//! The HTTP layer reaches no command-line code: a request never goes through `cli::Failure`,
//! `ansinh rebuild` or `ansinh report`'s one-shot catch-up; and only the command line (`src/cli/`,
//! `src/main.rs`) prints: the library returns results (issue 13). And no test here blocks its
//! runtime waiting for a child process.

use std::path::Path;

/// The command-line modules, as a `use` or a path names them.
const CLI: [&str; 1] = ["crate::cli"];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_of_the_api_or_the_pages_or_the_report_uses_the_command_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for dir in ["api", "web", "export"] {
        sources(&root.join(dir), &mut files);
    }
    for file in [
        "movement_report.rs",
        "projection_runner.rs",
        "reform/worklist.rs",
    ] {
        files.push(root.join(file));
    }
    assert!(files.len() > 20, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for name in CLI {
            assert!(!text.contains(name), "{} uses {name}", file.display());
        }
    }
}

#[test]
fn only_the_command_line_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "projections/src", "events/src"] {
        sources(&root.join(dir), &mut files);
    }
    let cli = root.join("src/cli");
    let printing: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&cli) && !f.ends_with("src/main.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            ["println!", "eprintln!", "print!(", "eprint!("]
                .iter()
                .any(|m| text.contains(m))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(files.len() > 50, "{files:?}");
    assert!(
        printing.is_empty(),
        "these print outside the command line: {printing:?}"
    );
}

/// Most tests here run a server on their test's runtime, most of them single-threaded: a test
/// that waits for a child process with `std::process` stops that server mid-transaction, and a child
/// that needs its locks (`ansinh report`'s catch-up waits on the runner's checkpoint rows) then
/// waits forever; CI hung so. Children are awaited with `tokio::process`.
#[test]
fn no_test_here_blocks_its_runtime_on_a_child_process() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("tests/api"), &mut files);
    assert!(files.len() > 20, "{files:?}");
    let blocking: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests/api/layers.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            [
                "std::process::Command",
                "process::{Command",
                "Command as Process",
                "common::ansinh(",
            ]
            .iter()
            .any(|m| text.contains(m))
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(blocking.is_empty(), "{blocking:?}");
}
