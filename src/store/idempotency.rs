//! Idempotency records: written by `ansinh_append` in the same statement as the events they
//! answer for (either both are stored or neither is), read back to answer a retried request.
//! A key belongs to the user who sent it (the command's actor; the nil user for keys the system
//! derives, such as the importer's): two users' equal keys are two requests.

use uuid::Uuid;

pub(super) struct Record {
    pub request_digest: String,
    pub household_id: Uuid,
    pub first_sequence: i64,
    pub last_sequence: i64,
}

pub(super) async fn lookup(
    pool: &sqlx::PgPool,
    user_id: Uuid,
    key: &str,
) -> Result<Option<Record>, sqlx::Error> {
    let row: Option<(String, Uuid, i32, i32)> = sqlx::query_as(
        "SELECT request_digest, household_id, first_sequence, last_sequence FROM idempotency_keys
          WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(request_digest, household_id, first, last)| Record {
            request_digest,
            household_id,
            first_sequence: first.into(),
            last_sequence: last.into(),
        }),
    )
}
