//! Writing a batch of sealed events (and their import keys) with binary COPY, in the caller's
//! transaction: one round trip per table instead of one per row, and no text to escape on our
//! side or to parse (uuids, times, numbers) on the server's. The rows are encoded by the thread
//! that decides the batch, so the writer only sends them.

use ansinh_events::household::HouseholdEvent;
use ansinh_events::Recorded;
use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Signature, flags and header extension of the binary COPY format.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// jsonb's binary form: a version byte, then the JSON text.
const JSONB_VERSION: u8 = 1;

/// Rows in PostgreSQL's binary COPY format.
pub struct BinaryRows {
    buf: Vec<u8>,
    rows: u64,
}

impl BinaryRows {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes + HEADER.len() + 2);
        buf.extend_from_slice(HEADER);
        BinaryRows { buf, rows: 0 }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn row(&mut self, fields: i16) {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    fn field(&mut self, bytes: &[u8]) -> Result<(), sqlx::Error> {
        let len = i32::try_from(bytes.len())
            .map_err(|_| sqlx::Error::Protocol("a COPY field is over 2 GiB".into()))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn uuid(&mut self, id: Uuid) -> Result<(), sqlx::Error> {
        self.field(id.as_bytes())
    }

    fn text(&mut self, text: &str) -> Result<(), sqlx::Error> {
        self.field(text.as_bytes())
    }

    fn int4(&mut self, n: i64) -> Result<(), sqlx::Error> {
        let n = i32::try_from(n)
            .map_err(|_| sqlx::Error::Protocol(format!("{n} does not fit an integer column")))?;
        self.field(&n.to_be_bytes())
    }

    fn jsonb(&mut self, json: &[u8]) -> Result<(), sqlx::Error> {
        let len = i32::try_from(json.len() + 1)
            .map_err(|_| sqlx::Error::Protocol("an event is over 2 GiB".into()))?;
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.push(JSONB_VERSION);
        self.buf.extend_from_slice(json);
        Ok(())
    }

    /// Microseconds since 2000-01-01 UTC, truncated as sqlx binds a `DateTime` (so an import
    /// stores `occurred_on` as a command does).
    fn timestamptz(&mut self, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let epoch = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let micros = epoch
            .and_then(|epoch| (at - epoch).num_microseconds())
            .ok_or_else(|| sqlx::Error::Protocol(format!("{at} is out of range")))?;
        self.field(&micros.to_be_bytes())
    }

    /// The rows with the format's trailer, ready to send.
    fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
        self.buf
    }
}

/// Encodes an event row of `household_events`: `json` is the payload as stored (see
/// `ansinh_events::chain::link_into`).
pub fn push_event(
    rows: &mut BinaryRows,
    event: &Recorded<HouseholdEvent>,
    json: &[u8],
) -> Result<(), sqlx::Error> {
    rows.row(5);
    rows.uuid(Uuid::now_v7())?;
    rows.uuid(event.meta.household_id)?;
    rows.jsonb(json)?;
    rows.timestamptz(event.meta.recorded_at)?;
    rows.int4(event.meta.sequence)
}

/// COPYs encoded events into `household_events`; returns how many were written.
pub async fn copy_events(conn: &mut PgConnection, rows: BinaryRows) -> Result<u64, sqlx::Error> {
    send(
        conn,
        "COPY household_events (id, aggregate_id, payload, occurred_on, sequence_number) FROM STDIN (FORMAT binary)",
        rows,
    )
    .await
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

pub fn push_key(rows: &mut BinaryRows, k: &KeyRow) -> Result<(), sqlx::Error> {
    rows.row(5);
    rows.text(&k.key)?;
    rows.text(&k.digest)?;
    rows.uuid(k.household_id)?;
    rows.int4(k.first_sequence)?;
    rows.int4(k.last_sequence)
}

pub async fn copy_keys(conn: &mut PgConnection, rows: BinaryRows) -> Result<u64, sqlx::Error> {
    send(
        conn,
        "COPY idempotency_keys (key, request_digest, household_id, first_sequence, last_sequence) FROM STDIN (FORMAT binary)",
        rows,
    )
    .await
}

async fn send(
    conn: &mut PgConnection,
    statement: &str,
    rows: BinaryRows,
) -> Result<u64, sqlx::Error> {
    if rows.rows() == 0 {
        return Ok(0);
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(rows.finish()).await?;
    copy.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_rows_are_length_prefixed_big_endian_fields_between_header_and_trailer() {
        let mut rows = BinaryRows::with_capacity(0);
        rows.row(2);
        rows.int4(7).expect("int");
        rows.jsonb(b"{}").expect("json");
        assert_eq!(rows.rows(), 1);
        let bytes = rows.finish();
        let body = &bytes[HEADER.len()..];
        assert_eq!(
            body,
            [
                &[0, 2][..],
                &[0, 0, 0, 4, 0, 0, 0, 7],
                &[0, 0, 0, 3, 1, b'{', b'}'],
                &[0xff, 0xff]
            ]
            .concat()
        );
        assert!(BinaryRows::with_capacity(0).int4(i64::MAX).is_err());
    }

    #[test]
    fn times_count_microseconds_from_2000() {
        let mut rows = BinaryRows::with_capacity(0);
        let at: DateTime<Utc> = "2000-01-01T00:00:01.0000019Z".parse().expect("time");
        rows.timestamptz(at).expect("time");
        assert_eq!(
            &rows.buf[HEADER.len()..],
            [&[0, 0, 0, 8][..], &1_000_001_i64.to_be_bytes()].concat()
        );
    }
}
