//! Runs the real `ncodec` binary on committed inputs.

use std::io::Write;
use std::process::{Command, Stdio};

fn ncodec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ncodec"))
}

fn golden() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/golden-v1.ncx")
}

#[test]
fn help_lists_subcommands() {
    let out = ncodec().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for cmd in ["info", "models"] {
        assert!(text.contains(cmd), "{cmd} missing from --help");
    }
}

#[test]
fn models_json_is_a_list() {
    let out = ncodec().args(["models", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_array());
}

#[test]
fn info_on_golden_file() {
    let out = ncodec().arg("info").arg(golden()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("golden-test"), "{text}");
    assert!(text.contains("8x6"), "{text}");
    assert!(text.contains("YHAT"), "{text}");

    let out = ncodec()
        .arg("info")
        .arg("--json")
        .arg(golden())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["header"]["model_id"], "golden-test");
    assert_eq!(v["header"]["media"]["width"], 8);
    let bytes = std::fs::metadata(golden()).unwrap().len();
    assert_eq!(v["file_bytes"], bytes);
    let bpp = v["bits_per_pixel"].as_f64().unwrap();
    assert!((bpp - bytes as f64 * 8.0 / 48.0).abs() < 1e-9);
}

#[test]
fn info_reads_stdin() {
    let mut child = ncodec()
        .args(["info", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let data = std::fs::read(golden()).unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("golden-test")
    );
}

#[test]
fn bad_input_fails_with_cause_chain() {
    let dir = std::env::temp_dir().join(format!("ncodec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.ncx");
    let mut data = std::fs::read(golden()).unwrap();
    let n = data.len();
    data.truncate(n - 5);
    std::fs::write(&bad, &data).unwrap();
    let out = ncodec().arg("info").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read") && err.contains("caused by: truncated"),
        "{err}"
    );

    let out = ncodec()
        .arg("info")
        .arg(dir.join("missing.ncx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot open")
    );
    std::fs::remove_dir_all(&dir).ok();
}
