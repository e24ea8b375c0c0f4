//! `ansinh users add` prints the token alone on stdout, and the token works.

use tokio::process::Command;

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
        .await
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
            .await
            .expect("run ansinh users add");
        assert_eq!(out.status.code(), Some(2), "{role} {unit}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
}

/// Runs `ansinh users ARGS` on `db` with `stdin`; exit code, stdout, stderr.
async fn users_cli(
    db: &common::TestDb,
    args: &[&str],
    stdin: &str,
) -> (Option<i32>, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ansinh"))
        .arg("users")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run ansinh users");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().await.expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn signs_in(db: &common::TestDb, name: &str, password: &str) -> bool {
    matches!(
        ansinh::passwords::sign_in(&db.pool, name, password, None)
            .await
            .expect("sign in"),
        ansinh::passwords::SignIn::Success(_)
    )
}

#[tokio::test]
async fn passwords_are_set_from_stdin_and_then_sign_in() {
    let db = common::migrated_db().await;
    let add = [
        "add",
        "--name",
        "Ngô Văn Ba",
        "--role",
        "auditor",
        "--unit",
        "72",
    ];
    let mut with_password = add.to_vec();
    with_password.push("--password-stdin");
    let (code, stdout, stderr) = users_cli(&db, &with_password, "mật khẩu đầu tiên\n").await;
    assert_eq!(code, Some(0), "{stderr}");
    let token = stdout.strip_suffix('\n').expect("one line");
    assert_eq!(token.len(), 64, "the token is still printed: {stdout:?}");
    assert!(ansinh::users::authenticate(&db.pool, token)
        .await
        .expect("query")
        .is_some());
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE name = $1")
        .bind("Ngô Văn Ba")
        .fetch_one(&db.pool)
        .await
        .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("mật khẩu"));
    assert!(signs_in(&db, "Ngô Văn Ba", "mật khẩu đầu tiên").await);

    let (code, _, stderr) = users_cli(
        &db,
        &["set-password", "--name", "Ngô Văn Ba", "--password-stdin"],
        "mật khẩu thứ hai\r\n",
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!signs_in(&db, "Ngô Văn Ba", "mật khẩu đầu tiên").await);
    assert!(signs_in(&db, "Ngô Văn Ba", "mật khẩu thứ hai").await);

    // Another user of that name cannot be given a password: sign-in is by name.
    let (code, stdout, stderr) = users_cli(&db, &with_password, "một mật khẩu khác\n").await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("already has a password"), "{stderr}");
}

#[tokio::test]
async fn bad_passwords_and_unknown_or_ambiguous_names_exit_2_and_change_nothing() {
    let db = common::migrated_db().await;
    for (stdin, words) in [
        ("", "must not be empty"),
        ("\n", "must not be empty"),
        ("ngắn\n", "4 characters long; at least 8"),
    ] {
        let (code, stdout, stderr) = users_cli(
            &db,
            &[
                "add",
                "--name",
                "Lò Văn Hai",
                "--role",
                "monitor",
                "--unit",
                "72",
                "--password-stdin",
            ],
            stdin,
        )
        .await;
        assert_eq!(code, Some(2), "{stdin:?}: {stderr}");
        assert!(stdout.is_empty());
        assert!(
            stderr.contains("password") && stderr.contains(words),
            "{stderr}"
        );
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(users, 0, "no user was created");

    let set = |name: &'static str| ["set-password", "--name", name, "--password-stdin"];
    let (code, _, stderr) = users_cli(&db, &set("Không Có Ai"), "đủ dài rồi đấy\n").await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no user is named \"Không Có Ai\""),
        "{stderr}"
    );

    for _ in 0..2 {
        ansinh::users::create(&db.pool, "Trùng Tên", ansinh::users::Role::Monitor, "72")
            .await
            .expect("create");
    }
    let (code, _, stderr) = users_cli(&db, &set("Trùng Tên"), "đủ dài rồi đấy\n").await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("2 users are named \"Trùng Tên\""),
        "{stderr}"
    );

    let (code, _, stderr) = users_cli(&db, &["set-password", "--name", "Trùng Tên"], "").await;
    assert_eq!(code, Some(2), "--password-stdin is required");
    assert!(stderr.contains("--password-stdin"), "{stderr}");
}
