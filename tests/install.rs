//! install-scripts/install.sh: manifest content, idempotence, --uninstall,
//! and a clear error when the binary is missing.

#[path = "common/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pretix_race_shared::protocol::{EXTENSION_ID, HOST_NAME};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../install-scripts/install.sh")
}

fn install(args: &[&str], home: &Path) -> (i32, String, String) {
    let out = process::run_within(
        Command::new("bash")
            .arg(script())
            .args(args)
            .env("HOME", home)
            .env_remove("XDG_CONFIG_HOME"),
        Duration::from_secs(60),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fake_binary(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("bin with space").join("pretix-race");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn writes_the_manifest_into_the_profile_dir_idempotently_and_uninstalls() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_binary(tmp.path());
    let profile = tmp.path().join("profile");
    let args = [
        "--binary",
        bin.to_str().unwrap(),
        "--profile-dir",
        profile.to_str().unwrap(),
    ];
    let (code, out, err) = install(&args, tmp.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Load unpacked"), "{out}");
    let manifest_path = profile
        .join("NativeMessagingHosts")
        .join(format!("{HOST_NAME}.json"));
    let first = std::fs::read_to_string(&manifest_path).unwrap();
    let m: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(m["name"], HOST_NAME);
    assert_eq!(m["type"], "stdio");
    assert_eq!(m["path"], bin.to_str().unwrap());
    assert!(Path::new(m["path"].as_str().unwrap()).is_absolute());
    assert_eq!(
        m["allowed_origins"],
        serde_json::json!([format!("chrome-extension://{EXTENSION_ID}/")])
    );

    let (code, _, _) = install(&args, tmp.path());
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(&manifest_path).unwrap(),
        first,
        "idempotent"
    );

    let (code, _, _) = install(
        &["--uninstall", "--profile-dir", profile.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(code, 0);
    assert!(!manifest_path.exists());
}

#[test]
fn browser_flag_picks_the_user_level_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_binary(tmp.path());
    for (browser, dir) in [
        ("chrome", ".config/google-chrome"),
        ("chromium", ".config/chromium"),
        ("brave", ".config/BraveSoftware/Brave-Browser"),
        ("edge", ".config/microsoft-edge"),
    ] {
        let (code, _, err) = install(
            &["--binary", bin.to_str().unwrap(), "--browser", browser],
            tmp.path(),
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            tmp.path()
                .join(dir)
                .join("NativeMessagingHosts")
                .join(format!("{HOST_NAME}.json"))
                .is_file(),
            "{browser}"
        );
    }
    let (code, _, err) = install(&["--browser", "netscape"], tmp.path());
    assert_eq!(code, 2);
    assert!(err.contains("unknown browser"));
}

#[test]
fn missing_binary_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err) = install(
        &[
            "--binary",
            "/nonexistent/pretix-race",
            "--profile-dir",
            tmp.path().to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("not found") && err.contains("cargo build --release -p pretix-race"),
        "{err}"
    );
    assert!(!tmp.path().join("NativeMessagingHosts").exists());
}

#[test]
fn scripts_and_extension_agree_on_the_ids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for f in ["install-scripts/install.sh", "install-scripts/install.ps1"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        assert!(text.contains(EXTENSION_ID), "{f}");
        assert!(text.contains(HOST_NAME), "{f}");
    }
}

/// The deadline every process-starting test relies on really fires: a child
/// that never ends is killed and the test fails with what it wrote.
#[test]
#[should_panic(expected = "still running after 1s, killed it; its stderr:\nabout to hang")]
fn a_hung_child_fails_the_test_with_its_stderr() {
    process::run_within(
        Command::new("bash").args(["-c", "echo 'about to hang' >&2; exec sleep 600"]),
        Duration::from_secs(1),
    );
}
