//! Users of the HTTP API: a role, a unit scope and a bearer token stored only as its SHA-256.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("unknown role {0:?}; roles are commune_officer, district_officer, province_officer, auditor, monitor, admin")]
    UnknownRole(String),
    #[error("no administrative unit has code {0:?}")]
    UnknownUnit(String),
    #[error("the name must not be empty")]
    EmptyName,
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

/// Creates a user for a known unit and returns it with its token, which is shown this once.
pub async fn create(
    pool: &PgPool,
    name: &str,
    role: Role,
    unit_code: &str,
) -> Result<(User, String), UserError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError::EmptyName);
    }
    let unit_code = unit_code.trim();
    if ansinh_projections::units::by_code(pool, unit_code)
        .await?
        .is_empty()
    {
        return Err(UserError::UnknownUnit(unit_code.to_owned()));
    }
    let token = new_token()?;
    let user = User {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        role,
        unit_code: unit_code.to_owned(),
    };
    sqlx::query(
        "INSERT INTO users (id, name, role, unit_code, token_sha256) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user.id)
    .bind(&user.name)
    .bind(user.role.as_str())
    .bind(&user.unit_code)
    .bind(token_digest(&token))
    .execute(pool)
    .await?;
    Ok((user, token))
}

/// The active user holding `token`, if any.
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Option<User>, sqlx::Error> {
    let row: Option<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT id, name, role, unit_code FROM users
          WHERE token_sha256 = $1 AND disabled_at IS NULL",
    )
    .bind(token_digest(token))
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(id, name, role, unit_code)| {
        Role::parse(&role).map(|role| User {
            id,
            name,
            role,
            unit_code,
        })
    }))
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
    fn every_role_parses_from_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("superuser"), None);
    }
}
