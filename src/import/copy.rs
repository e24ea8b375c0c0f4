//! Writing a batch of sealed events (and their import keys) with COPY, in the caller's
//! transaction: one round trip per table instead of one per row.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::Recorded;
use sqlx::PgConnection;
use uuid::Uuid;

/// Appends `text` to `buf` escaped for COPY's text format (backslash, tab, newline, CR).
fn escape_into(buf: &mut Vec<u8>, text: &str) {
    for b in text.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// COPYs events into `household_events`; returns how many were written.
pub async fn copy_events(
    conn: &mut PgConnection,
    events: &[Recorded<HouseholdEvent>],
) -> Result<u64, sqlx::Error> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut buf = Vec::with_capacity(events.len() * 1_500);
    for event in events {
        let payload =
            serde_json::to_string(event).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let meta = &event.meta;
        buf.extend_from_slice(Uuid::now_v7().to_string().as_bytes());
        buf.push(b'\t');
        buf.extend_from_slice(meta.household_id.to_string().as_bytes());
        buf.push(b'\t');
        escape_into(&mut buf, &payload);
        buf.push(b'\t');
        buf.extend_from_slice(meta.recorded_at.to_rfc3339().as_bytes());
        buf.push(b'\t');
        buf.extend_from_slice(meta.sequence.to_string().as_bytes());
        buf.push(b'\n');
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY household_events (id, aggregate_id, payload, occurred_on, sequence_number) FROM STDIN",
        )
        .await?;
    copy.send(buf).await?;
    copy.finish().await
}

/// One import key: which household and sequence range a row of the file became.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub key: String,
    pub digest: String,
    pub household_id: Uuid,
    pub first_sequence: i64,
    pub last_sequence: i64,
}

pub async fn copy_keys(conn: &mut PgConnection, keys: &[KeyRow]) -> Result<u64, sqlx::Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let mut buf = Vec::with_capacity(keys.len() * 160);
    for k in keys {
        escape_into(&mut buf, &k.key);
        buf.push(b'\t');
        escape_into(&mut buf, &k.digest);
        buf.push(b'\t');
        buf.extend_from_slice(
            format!(
                "{}\t{}\t{}\n",
                k.household_id, k.first_sequence, k.last_sequence
            )
            .as_bytes(),
        );
    }
    let mut copy = conn
        .copy_in_raw(
            "COPY idempotency_keys (key, request_digest, household_id, first_sequence, last_sequence) FROM STDIN",
        )
        .await?;
    copy.send(buf).await?;
    copy.finish().await
}

#[cfg(test)]
mod tests {
    use super::escape_into;

    #[test]
    fn copy_text_escapes_backslashes_and_control_characters() {
        let mut buf = Vec::new();
        escape_into(&mut buf, "a\\\"b\tc\nd");
        assert_eq!(buf, b"a\\\\\"b\\tc\\nd");
    }
}
