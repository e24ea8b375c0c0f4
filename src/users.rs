//! Users of the HTTP API: a role, a unit scope and a bearer token stored only as its SHA-256.

pub mod moves;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ended_units::EndedUnit;
use sqlx::PgPool;
use uuid::Uuid;

/// What a user may do; see `api::auth::allows` for the whole matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CommuneOfficer,
    DistrictOfficer,
    ProvinceOfficer,
    Auditor,
    /// Fatherland Front supervision: registers and reports, never ID numbers or birth years.
    Monitor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::CommuneOfficer,
        Role::DistrictOfficer,
        Role::ProvinceOfficer,
        Role::Auditor,
        Role::Monitor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CommuneOfficer => "commune_officer",
            Role::DistrictOfficer => "district_officer",
            Role::ProvinceOfficer => "province_officer",
            Role::Auditor => "auditor",
            Role::Monitor => "monitor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    pub fn is_officer(self) -> bool {
        matches!(
            self,
            Role::CommuneOfficer | Role::DistrictOfficer | Role::ProvinceOfficer
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The administrative unit the user acts for; it covers itself and the units below it.
    pub unit_code: String,
    /// Set when `unit_code` has ended (no version of it is valid today): what every response
    /// and page tells the user. Filled in by [`UserCache`], so it is computed once per cached
    /// user, not per request; users read otherwise have `None`.
    #[serde(skip)]
    pub unit_ended: Option<Arc<EndedUnit>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unknown role {0:?}; roles are commune_officer, district_officer, province_officer, auditor, monitor, admin")]
    UnknownRole(String),
    #[error("no administrative unit has code {0:?}")]
    UnknownUnit(String),
    #[error("the name must not be empty")]
    EmptyName,
    #[error("the name is {0} characters long; at most {max} are accepted", max = ansinh_events::household::limits::NAME)]
    NameTooLong(usize),
    #[error("no user is named {0:?}")]
    UnknownUser(String),
    #[error("{count} users are named {name:?}; a password can be set only for a name that one user has (sign-in is by name)")]
    AmbiguousName { name: String, count: usize },
    #[error("{} users are named {name:?}; name the user by id instead: {}", ids.len(), ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    AmbiguousUser { name: String, ids: Vec<Uuid> },
    /// A user may only be moved into a unit that exists today.
    #[error("unit {unit} is not valid today ({today}): {why}")]
    UnitNotValidToday {
        unit: String,
        today: chrono::NaiveDate,
        why: String,
    },
    #[error("another user named {0:?} already has a password; users who sign in need names of their own")]
    NameTaken(String),
    #[error(transparent)]
    Password(#[from] crate::passwords::PasswordError),
    #[error("the system's random number source failed: {0}")]
    Random(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A new bearer token: 32 random bytes in lowercase hex (64 characters).
pub fn new_token() -> Result<String, UserError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| UserError::Random(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// What is stored in place of a token: its SHA-256 in lowercase hex.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new password for `ansinh demo`: 16 characters of `A–Z a–z 0–9 - _` (96 random bits).
pub fn new_password() -> Result<String, UserError> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| UserError::Random(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 63)]))
        .collect())
}

/// Creates a user for a known unit and returns it with its token, which is shown this once.
pub async fn create(
    pool: &PgPool,
    name: &str,
    role: Role,
    unit_code: &str,
) -> Result<(User, String), UserError> {
    create_with_password(pool, name, role, unit_code, None).await
}

/// [`create`], with a password for the web pages (checked, then stored as its argon2 hash).
pub async fn create_with_password(
    pool: &PgPool,
    name: &str,
    role: Role,
    unit_code: &str,
    password: Option<&str>,
) -> Result<(User, String), UserError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError::EmptyName);
    }
    let length = name.chars().count();
    if length > ansinh_events::household::limits::NAME {
        return Err(UserError::NameTooLong(length));
    }
    let unit_code = unit_code.trim();
    if ansinh_projections::units::by_code(pool, unit_code)
        .await?
        .is_empty()
    {
        return Err(UserError::UnknownUnit(unit_code.to_owned()));
    }
    let password_hash = match password {
        Some(password) => Some(crate::passwords::hash_blocking(password).await?),
        None => None,
    };
    let token = new_token()?;
    let user = User {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        role,
        unit_code: unit_code.to_owned(),
        unit_ended: None,
    };
    sqlx::query(
        "INSERT INTO users (id, name, role, unit_code, token_sha256, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id)
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&user.unit_code)
    .bind(token_digest(&token))
    .bind(password_hash)
    .execute(pool)
    .await
    .map_err(|e| name_taken(e, &user.name))?;
    Ok((user, token))
}

/// A unique violation of `users_name_signs_in` as [`UserError::NameTaken`].
fn name_taken(e: sqlx::Error, name: &str) -> UserError {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("users_name_signs_in") => {
            UserError::NameTaken(name.to_owned())
        }
        _ => UserError::Database(e),
    }
}

/// Sets the password of the user named `name`: the one of that name who already has a
/// password, else the only user of that name (several without one: [`UserError::AmbiguousName`]).
/// A disabled user's password is set too; it signs in once the user is enabled again.
pub async fn set_password(pool: &PgPool, name: &str, password: &str) -> Result<User, UserError> {
    let name = name.trim();
    let hash = crate::passwords::hash_blocking(password).await?;
    let candidates: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, password_hash IS NOT NULL FROM users WHERE name = $1 ORDER BY created_at",
    )
    .bind(name)
    .fetch_all(pool)
    .await?;
    let id = match candidates.iter().find(|(_, has)| *has) {
        Some((id, _)) => *id,
        None => match candidates[..] {
            [] => return Err(UserError::UnknownUser(name.to_owned())),
            [(id, _)] => id,
            _ => {
                return Err(UserError::AmbiguousName {
                    name: name.to_owned(),
                    count: candidates.len(),
                })
            }
        },
    };
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(pool)
        .await
        .map_err(|e| name_taken(e, name))?;
    by_id(pool, id)
        .await?
        .map(|account| account.user)
        .ok_or_else(|| UserError::UnknownUser(name.to_owned()))
}

/// The active user with this id (a signed-in session's user), if any.
pub async fn active_by_id(pool: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
    Ok(by_id(pool, id)
        .await?
        .filter(|account| !account.disabled)
        .map(|account| account.user))
}

/// The active user holding `token`, if any.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<User>, sqlx::Error> {
    active_by_digest(pool, &token_digest(token)).await
}

async fn active_by_digest(pool: &PgPool, digest: &str) -> Result<Option<User>, sqlx::Error> {
    let row: Option<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, name, role, unit_code FROM users
          WHERE token_sha256 = $1 AND disabled_at IS NULL",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(id, name, role, unit_code)| {
        Role::parse(&role).map(|role| User {
            id,
            name,
            role,
            unit_code,
            unit_ended: None,
        })
    }))
}

/// A user as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
}

/// The user with this id, active or not.
pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<(String, String, String, bool)> = sqlx::query_as(
        "SELECT name, role, unit_code, disabled_at IS NOT NULL FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(name, role, unit_code, disabled)| {
        Role::parse(&role).map(|role| Account {
            user: User {
                id,
                name,
                role,
                unit_code,
                unit_ended: None,
            },
            disabled,
        })
    }))
}

/// What an admin changes about a user; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub role: Option<Role>,
    pub unit_code: Option<String>,
    /// `true` refuses the user's token from now on; `false` accepts it again.
    pub disabled: Option<bool>,
}

/// Applies `changes` to the user with this id and returns it as it is now (`None`: no such
/// user). Callers that cache users must forget this one afterwards ([`UserCache::forget`]).
pub async fn update(
    pool: &PgPool,
    id: Uuid,
    changes: &Changes,
) -> Result<Option<Account>, UserError> {
    if let Some(unit) = &changes.unit_code {
        moves::require_valid(pool, unit, crate::verify::today()).await?;
    }
    let updated = sqlx::query(
        "UPDATE users SET
             role = COALESCE($2::text, role),
             unit_code = COALESCE($3::text, unit_code),
             disabled_at = CASE WHEN $4::bool IS NULL THEN disabled_at
                                WHEN $4::bool THEN COALESCE(disabled_at, now())
                                ELSE NULL END
          WHERE id = $1",
    )
    .bind(id)
    .bind(changes.role.map(Role::as_str))
    .bind(changes.unit_code.as_deref())
    .bind(changes.disabled)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(by_id(pool, id).await?)
}

/// Active users by the SHA-256 of their token (or by id, for sessions), kept for `ttl`, so a request costs no query to
/// authenticate. Only users found are kept (a bad token asks the database every time, so a user
/// created by another process is accepted at once). Changes made through this process are
/// seen at once ([`UserCache::forget`]); changes made by another process (another `serve`, SQL
/// by hand) within `ttl`.
pub struct UserCache {
    users: quick_cache::sync::Cache<String, (User, Instant)>,
    /// Whether each user's unit has ended, by unit code, kept for [`Self::UNITS_TTL`]: units are
    /// reference data, so the users of one unit share one lookup.
    units: quick_cache::sync::Cache<String, (Option<Arc<EndedUnit>>, Instant)>,
    /// Moves on at every `forget`, so a lookup that raced with it does not keep what it read.
    generation: AtomicU64,
    ttl: Duration,
}

impl UserCache {
    /// How long a user is trusted without asking the database again.
    pub const TTL: Duration = Duration::from_secs(5);
    /// Users kept at most (least recently used go first).
    const CAPACITY: usize = 10_000;
    /// How long whether a unit has ended is trusted (as the unit closure is, see
    /// `ansinh_projections::units::Coverage::TTL`).
    pub const UNITS_TTL: Duration = Duration::from_secs(60);

    pub fn new(ttl: Duration) -> Self {
        UserCache {
            users: quick_cache::sync::Cache::new(Self::CAPACITY),
            units: quick_cache::sync::Cache::new(Self::CAPACITY),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    /// The active user holding `token`, if any: from memory while fresh, else from the database.
    pub async fn authenticate(
        &self,
        pool: &PgPool,
        token: &str,
    ) -> Result<Option<User>, sqlx::Error> {
        let digest = token_digest(token);
        self.cached(pool, digest.clone(), active_by_digest(pool, &digest))
            .await
    }

    /// The active user with this id (a signed-in session's user), kept like a token's user so
    /// a page costs no query to say who is signed in.
    pub async fn by_id(&self, pool: &PgPool, id: Uuid) -> Result<Option<User>, sqlx::Error> {
        self.cached(pool, format!("id:{id}"), active_by_id(pool, id))
            .await
    }

    async fn cached(
        &self,
        pool: &PgPool,
        key: String,
        read: impl std::future::Future<Output = Result<Option<User>, sqlx::Error>>,
    ) -> Result<Option<User>, sqlx::Error> {
        if let Some((user, read_at)) = self.users.get(&key) {
            if read_at.elapsed() < self.ttl {
                return Ok(Some(user));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let read_at = Instant::now();
        let mut user = read.await?;
        if let Some(user) = &mut user {
            user.unit_ended = self.unit_ended(pool, &user.unit_code).await?;
        }
        match &user {
            Some(user) => {
                self.users.insert(key.clone(), (user.clone(), read_at));
                // A `forget` since the read may have come before or after this insert; either
                // way what was read is stale, so it is not kept.
                if self.generation.load(Ordering::Acquire) != generation {
                    self.users.remove(&key);
                }
            }
            None => {
                self.users.remove(&key);
            }
        }
        Ok(user)
    }

    /// Whether `code` has ended by today, and what replaced it: from memory while fresh.
    async fn unit_ended(
        &self,
        pool: &PgPool,
        code: &str,
    ) -> Result<Option<Arc<EndedUnit>>, sqlx::Error> {
        if let Some((ended, read_at)) = self.units.get(code) {
            if read_at.elapsed() < Self::UNITS_TTL {
                return Ok(ended);
            }
        }
        let read_at = Instant::now();
        let ended = crate::ended_units::ended_by(pool, code, crate::verify::today())
            .await?
            .map(Arc::new);
        self.units.insert(code.to_owned(), (ended.clone(), read_at));
        Ok(ended)
    }

    /// Forgets which units have ended: call it after units were imported (after the commit).
    pub fn forget_units(&self) {
        self.units.clear();
    }

    /// Forgets a user whose role, unit or status changed: its next request asks the database.
    /// Call it after the change is committed.
    pub fn forget(&self, user_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.users.retain(|_, (user, _)| user.id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_characters_and_differ() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_ne!(token_digest(&a), a);
        assert_eq!(token_digest(&a).len(), 64);
    }

    #[test]
    fn demo_passwords_are_16_url_safe_characters_and_differ() {
        let a = new_password().expect("password");
        assert_eq!(a.len(), 16);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, new_password().expect("password"));
    }

    #[test]
    fn every_role_parses_from_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("superuser"), None);
    }
}
