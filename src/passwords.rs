//! Passwords for the web pages: argon2id hashes (PHC strings), and signing in with a lock of
//! [`LOCK`] after [`FAILURES_TO_LOCK`] wrong passwords within [`LOCK`]. Every attempt is written
//! to `sign_in_events` (append-only), which auditors read.

use std::io::Read;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::users::{Role, User};

/// Fewest characters a password may have.
pub const MIN_LENGTH: usize = 8;
/// Most characters a password may have (hashing cost grows with the length).
pub const MAX_LENGTH: usize = 1000;
/// Wrong passwords within [`LOCK`] that lock an account.
pub const FAILURES_TO_LOCK: i64 = 5;
/// How long an account stays locked, and the window in which failures are counted.
pub const LOCK: chrono::Duration = chrono::Duration::minutes(15);
/// Characters of a typed username kept in the sign-in log.
const LOGGED_NAME: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must not be empty")]
    Empty,
    #[error("the password is {0} characters long; at least {MIN_LENGTH} are needed")]
    TooShort(usize),
    #[error("the password is {0} characters long; at most {MAX_LENGTH} are accepted")]
    TooLong(usize),
    #[error("the password could not be read from stdin: {0}")]
    Read(String),
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// Whether `password` may be set: 8 to 1000 characters.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length == 0 {
        Err(PasswordError::Empty)
    } else if length < MIN_LENGTH {
        Err(PasswordError::TooShort(length))
    } else if length > MAX_LENGTH {
        Err(PasswordError::TooLong(length))
    } else {
        Ok(())
    }
}

/// A password as given on stdin (`--password-stdin`): everything read, less one final line
/// end (`\n` or `\r\n`), checked with [`check`].
pub fn read(mut input: impl Read) -> Result<String, PasswordError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| PasswordError::Read(e.to_string()))?;
    let password = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    check(password)?;
    Ok(password.to_owned())
}

/// The argon2id hash of `password` (default parameters, random salt) as a PHC string.
/// Slow by design: call it off the async threads ([`hash_blocking`]).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// [`check`], then [`hash`] on a blocking thread.
pub async fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    check(password)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// Whether `password` matches the PHC string `hash` (a malformed hash matches nothing).
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

async fn verify_blocking(password: &str, hash: String) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify(&password, &hash))
        .await
        .unwrap_or(false)
}

/// A hash no password is checked against with success, so that an unknown username costs the
/// same time as a wrong password.
fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| hash("decoy password never set").unwrap_or_default())
        .clone()
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Success(User),
    /// Unknown username, wrong password, or a disabled user: one answer for all three.
    Wrong,
    /// Locked until then (by this attempt, or earlier ones); the password was not accepted.
    Locked {
        until: DateTime<Utc>,
    },
}

/// Checks `name` and `password` and records the attempt in `sign_in_events`, with the client's
/// address. Attempts on one account are serialized (a row lock on the user), so concurrent
/// guesses cannot slip past the lock.
pub async fn sign_in(
    pool: &PgPool,
    name: &str,
    password: &str,
    client: Option<&str>,
) -> Result<SignIn, sqlx::Error> {
    let name = name.trim();
    let logged_name: String = name.chars().take(LOGGED_NAME).collect();
    let mut tx = pool.begin().await?;
    let row: Option<(Uuid, String, String, String, bool)> = sqlx::query_as(
        "SELECT id, role, unit_code, password_hash, disabled_at IS NOT NULL FROM users
          WHERE name = $1 AND password_hash IS NOT NULL FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let record = |user: Option<Uuid>, outcome: &'static str| {
        sqlx::query(
            "INSERT INTO sign_in_events (user_id, user_name, outcome, client_address)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user)
        .bind(logged_name.clone())
        .bind(outcome)
        .bind(client.map(str::to_owned))
    };
    let Some((id, role, unit_code, hash, disabled)) = row else {
        verify_blocking(password, decoy_hash()).await;
        record(None, "failure").execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(SignIn::Wrong);
    };
    let locked_until: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT max(at) + $2 FROM sign_in_events WHERE user_id = $1 AND outcome = 'locked'
         HAVING max(at) + $2 > now()",
    )
    .bind(id)
    .bind(LOCK)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    if let Some(until) = locked_until {
        record(Some(id), "refused").execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(SignIn::Locked { until });
    }
    let right = verify_blocking(password, hash).await;
    let role = Role::parse(&role);
    if let (true, false, Some(role)) = (right, disabled, role) {
        record(Some(id), "success").execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(SignIn::Success(User {
            id,
            name: name.to_owned(),
            role,
            unit_code,
            unit_ended: None,
        }));
    }
    record(Some(id), "failure").execute(&mut *tx).await?;
    // Failures since the last success or lock, within the window (this one included).
    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sign_in_events
          WHERE user_id = $1 AND outcome = 'failure' AND at > now() - $2
            AND at > COALESCE((SELECT max(at) FROM sign_in_events
                                WHERE user_id = $1 AND outcome IN ('success', 'locked')),
                              '-infinity')",
    )
    .bind(id)
    .bind(LOCK)
    .fetch_one(&mut *tx)
    .await?;
    let outcome = if failures >= FAILURES_TO_LOCK {
        let until: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO sign_in_events (user_id, user_name, outcome, client_address)
             VALUES ($1, $2, 'locked', $3) RETURNING at + $4",
        )
        .bind(id)
        .bind(&logged_name)
        .bind(client)
        .bind(LOCK)
        .fetch_one(&mut *tx)
        .await?;
        SignIn::Locked { until }
    } else {
        SignIn::Wrong
    };
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_in_characters() {
        assert_eq!(check(""), Err(PasswordError::Empty));
        assert_eq!(check("mật khẩu"), Ok(()));
        assert_eq!(check("ngắn"), Err(PasswordError::TooShort(4)));
        assert_eq!(check(&"x".repeat(1001)), Err(PasswordError::TooLong(1001)));
    }

    #[test]
    fn stdin_loses_one_line_end_only() {
        assert_eq!(
            read(&b"correct horse\n"[..]).as_deref(),
            Ok("correct horse")
        );
        assert_eq!(
            read(&b"correct horse\r\n"[..]).as_deref(),
            Ok("correct horse")
        );
        assert_eq!(read(&b" spaced  \n\n"[..]).as_deref(), Ok(" spaced  \n"));
        assert_eq!(read(&b"\n"[..]), Err(PasswordError::Empty));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(hash("correct horse").expect("hash"), h, "salted");
    }
}
