//! Moving users to another unit (`ansinh users set-unit` and `ansinh users move`): after the
//! 2025 reform the users of ended units (old districts, merged communes, old provinces) are
//! moved to the units that replaced them. A user is only ever moved into a unit valid today.

use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use super::{by_id, Account, Role, UserError};
use crate::ended_units;

/// The user named by `who`: its id, or a name only one user has.
pub async fn find(pool: &PgPool, who: &str) -> Result<Account, UserError> {
    let who = who.trim();
    if let Ok(id) = who.parse::<Uuid>() {
        return by_id(pool, id)
            .await?
            .ok_or_else(|| UserError::UnknownUser(who.to_owned()));
    }
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE name = $1 ORDER BY id")
        .bind(who)
        .fetch_all(pool)
        .await?;
    match ids[..] {
        [] => Err(UserError::UnknownUser(who.to_owned())),
        [id] => by_id(pool, id)
            .await?
            .ok_or_else(|| UserError::UnknownUser(who.to_owned())),
        _ => Err(UserError::AmbiguousUser {
            name: who.to_owned(),
            ids,
        }),
    }
}

/// Refuses a unit that no version of is valid on `today`, saying why: unknown, ended (and what
/// replaced it), or not begun yet.
pub async fn require_valid(pool: &PgPool, unit: &str, today: NaiveDate) -> Result<(), UserError> {
    let versions = ansinh_projections::units::by_code(pool, unit).await?;
    if versions.is_empty() {
        return Err(UserError::UnknownUnit(unit.to_owned()));
    }
    if versions.iter().any(|u| u.valid_on(today)) {
        return Ok(());
    }
    let why = match ended_units::ended_by(pool, unit, today).await? {
        Some(ended) => match &ended.replaced_by {
            Some(_) => format!("{}; move the user there instead", ended.sentence()),
            None => ended.sentence(),
        },
        None => {
            let begins = versions
                .iter()
                .map(|u| u.valid_from)
                .filter(|from| *from > today)
                .min();
            match begins {
                Some(from) => format!("unit {unit} begins on {from}"),
                None => format!("no version of unit {unit} is valid on {today}"),
            }
        }
    };
    Err(UserError::UnitNotValidToday {
        unit: unit.to_owned(),
        today,
        why,
    })
}

/// A user's move: who, and the unit before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub from: String,
    pub to: String,
}

impl std::fmt::Display for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}{}): unit {} → {}",
            self.name,
            self.id,
            self.role,
            if self.disabled { ", disabled" } else { "" },
            self.from,
            self.to
        )
    }
}

/// Moves the user `who` (id or name) to `unit`, which must be valid `today`.
pub async fn set_unit(
    pool: &PgPool,
    who: &str,
    unit: &str,
    today: NaiveDate,
) -> Result<Moved, UserError> {
    let unit = unit.trim();
    require_valid(pool, unit, today).await?;
    let account = find(pool, who).await?;
    sqlx::query("UPDATE users SET unit_code = $2 WHERE id = $1")
        .bind(account.user.id)
        .bind(unit)
        .execute(pool)
        .await?;
    Ok(moved(account, unit))
}

/// Moves every user of unit `from` (disabled ones too) to `to`, which must be valid `today`;
/// with `dry_run`, only says whom it would move. In one statement, so a user added meanwhile is
/// either moved and listed or not touched.
pub async fn move_all(
    pool: &PgPool,
    from: &str,
    to: &str,
    today: NaiveDate,
    dry_run: bool,
) -> Result<Vec<Moved>, UserError> {
    let (from, to) = (from.trim(), to.trim());
    if ansinh_projections::units::by_code(pool, from)
        .await?
        .is_empty()
    {
        return Err(UserError::UnknownUnit(from.to_owned()));
    }
    require_valid(pool, to, today).await?;
    let sql = if dry_run {
        "SELECT id, name, role, disabled_at IS NOT NULL FROM users
          WHERE unit_code = $1 AND $2::text IS NOT NULL ORDER BY name, id"
    } else {
        "UPDATE users SET unit_code = $2 WHERE unit_code = $1
         RETURNING id, name, role, disabled_at IS NOT NULL"
    };
    let rows: Vec<(Uuid, String, String, bool)> = sqlx::query_as(sql)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    let mut moved: Vec<Moved> = rows
        .into_iter()
        .filter_map(|(id, name, role, disabled)| {
            Role::parse(&role).map(|role| Moved {
                id,
                name,
                role,
                disabled,
                from: from.to_owned(),
                to: to.to_owned(),
            })
        })
        .collect();
    moved.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    Ok(moved)
}

fn moved(account: Account, to: &str) -> Moved {
    Moved {
        id: account.user.id,
        name: account.user.name,
        role: account.user.role,
        disabled: account.disabled,
        from: account.user.unit_code,
        to: to.to_owned(),
    }
}
