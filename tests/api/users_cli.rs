//! `ansinh users add` prints the token alone on stdout, and the token works.

use std::process::Command;

use crate::common;

#[tokio::test]
async fn users_add_prints_only_a_token_that_then_authenticates() {
    let db = common::migrated_db().await;
    let out = Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .args([
            "users",
            "add",
            "--name",
            "Lê Thị Hoa",
            "--role",
            "monitor",
            "--unit",
            "703",
        ])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run ansinh users add");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let token = stdout.strip_suffix('\n').expect("one line");
    assert_eq!(token.len(), 64, "{stdout:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let user = ansinh::users::authenticate(&db.pool, token)
        .await
        .expect("query")
        .expect("the token authenticates");
    assert_eq!(user.name, "Lê Thị Hoa");
    assert_eq!(user.role, ansinh::users::Role::Monitor);
    assert_eq!(user.unit_code, "703");
}

#[tokio::test]
async fn users_add_with_an_unknown_role_or_unit_exits_2_and_prints_nothing() {
    let db = common::migrated_db().await;
    for (role, unit) in [("king", "703"), ("monitor", "99999")] {
        let out = Command::new(env!("CARGO_BIN_EXE_ansinh"))
            .args([
                "users", "add", "--name", "X", "--role", role, "--unit", unit,
            ])
            .env("DATABASE_URL", &db.url)
            .output()
            .expect("run ansinh users add");
        assert_eq!(out.status.code(), Some(2), "{role} {unit}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
}
