//! A server's access-log journal: one file of JSON lines, `<journal id>.jsonl`, locked by the
//! server that writes it, and what ships such a file to the `access_log` table.
//!
//! Lines are numbered. A batch of lines goes to the table in one transaction together with
//! `access_journals.shipped_through`, so a journal found after a crash is shipped from the
//! line after that mark, and no row is shipped twice.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::AccessLogEntry;

/// One row of the access log as the journal holds it (`at` is when the read was answered).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// 1, 2, … within its journal.
    pub seq: i64,
    #[serde(flatten)]
    pub row: AccessLogEntry,
}

/// The journal this server writes; its file stays locked while it is open.
pub struct Journal {
    pub id: Uuid,
    path: PathBuf,
    file: File,
    /// The file's length after its last whole line.
    len: u64,
    next_seq: i64,
}

impl Journal {
    /// Creates and locks a new journal in `dir`, registered in the database first: a journal
    /// found after a crash is shipped only to the database that knows it.
    pub async fn open(dir: &Path, conn: &mut PgConnection) -> Result<Journal, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("the access-log journal folder {}: {e}", dir.display()))?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO access_journals (journal) VALUES ($1)")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(|e| format!("registering the access-log journal: {e}"))?;
        let path = dir.join(format!("{id}.jsonl"));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("the access-log journal {}: {e}", path.display()))?;
        file.try_lock()
            .map_err(|e| format!("locking the access-log journal {}: {e}", path.display()))?;
        Ok(Journal {
            id,
            path,
            file,
            len: 0,
            next_seq: 1,
        })
    }

    /// Numbers `lines` and writes them; they are the journal's when this returns `Ok`. On an
    /// error the file is cut back to its last whole line, so a later write starts clean.
    pub fn append(&mut self, lines: &mut [Line]) -> std::io::Result<()> {
        let mut buffer = Vec::with_capacity(lines.len() * 320);
        for (i, line) in lines.iter_mut().enumerate() {
            line.seq = self.next_seq + i as i64;
            serde_json::to_writer(&mut buffer, line)?;
            buffer.push(b'\n');
        }
        if let Err(e) = self.file.write_all(&buffer) {
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += buffer.len() as u64;
        self.next_seq += lines.len() as i64;
        Ok(())
    }

    /// Empties the file once every line in it is in the table (the mark says so too).
    pub fn all_shipped(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        Ok(())
    }

    /// Removes the file of a journal closed with everything shipped.
    pub async fn close(self, conn: &mut PgConnection) {
        mark_closed(conn, self.id).await;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Says in the database that the journal is shipped whole and its file goes (for whoever
/// looks at `access_journals`; nothing depends on it).
async fn mark_closed(conn: &mut PgConnection, journal: Uuid) {
    let _ = sqlx::query("UPDATE access_journals SET closed_at = now() WHERE journal = $1")
        .bind(journal)
        .execute(&mut *conn)
        .await;
}

/// Puts `lines` in the table and moves the journal's mark to the last of them, in one
/// transaction; lines at or below the mark are already there (a commit whose answer was lost)
/// and are skipped. Committed with a flush to disk whatever the session says: the journal's
/// file is emptied once this returns.
pub async fn ship(conn: &mut PgConnection, journal: Uuid, lines: &[Line]) -> sqlx::Result<()> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("SET LOCAL synchronous_commit TO on")
        .execute(&mut *tx)
        .await?;
    let mark: i64 = sqlx::query_scalar(
        "SELECT shipped_through FROM access_journals WHERE journal = $1 FOR UPDATE",
    )
    .bind(journal)
    .fetch_one(&mut *tx)
    .await?;
    let lines: Vec<&Line> = lines.iter().filter(|l| l.seq > mark).collect();
    let Some(last) = lines.last() else {
        return Ok(());
    };
    let rows: Vec<&AccessLogEntry> = lines.iter().map(|l| &l.row).collect();
    let column = |f: fn(&AccessLogEntry) -> String| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO access_log (at, user_id, user_name, role, user_unit, household_id,
                                 unit_code, endpoint, request_id)
         SELECT * FROM UNNEST($1::timestamptz[], $2::uuid[], $3::text[], $4::text[], $5::text[],
                              $6::uuid[], $7::text[], $8::text[], $9::text[])",
    )
    .bind(rows.iter().map(|r| r.at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(column(|r| r.user_name.clone()))
    .bind(column(|r| r.role.clone()))
    .bind(column(|r| r.user_unit.clone()))
    .bind(rows.iter().map(|r| r.household_id).collect::<Vec<_>>())
    .bind(column(|r| r.unit_code.clone()))
    .bind(column(|r| r.endpoint.clone()))
    .bind(
        rows.iter()
            .map(|r| r.request_id.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE access_journals SET shipped_through = $2 WHERE journal = $1")
        .bind(journal)
        .bind(last.seq)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Ships and removes the journals in `dir` that servers of this database left behind (a
/// crash, a kill): those whose file no live server holds locked and that this database
/// registered. Journals of other databases are left for them. Returns the rows shipped.
pub async fn recover(dir: &Path, conn: &mut PgConnection) -> Result<usize, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(format!(
                "the access-log journal folder {}: {e}",
                dir.display()
            ))
        }
    };
    let mut shipped = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(|n| n.parse::<Uuid>().ok());
        if let Some(id) = id {
            shipped += recover_one(&path, id, conn).await?;
        }
    }
    Ok(shipped)
}

async fn recover_one(path: &Path, id: Uuid, conn: &mut PgConnection) -> Result<usize, String> {
    let failed =
        |e: &dyn std::fmt::Display| format!("the access-log journal {}: {e}", path.display());
    let file = match File::open(path) {
        Ok(file) => file,
        // Shipped and removed by another server meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(failed(&e)),
    };
    match file.try_lock() {
        Ok(()) => {}
        // A live server's own journal.
        Err(TryLockError::WouldBlock) => return Ok(0),
        Err(TryLockError::Error(e)) => return Err(failed(&e)),
    }
    let known: Option<i64> =
        sqlx::query_scalar("SELECT shipped_through FROM access_journals WHERE journal = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| failed(&e))?;
    let Some(mark) = known else {
        return Ok(0);
    };
    let mut lines = Vec::new();
    for text in BufReader::new(&file).lines() {
        let text = text.map_err(|e| failed(&e))?;
        // A line cut short by the crash was never answered: nothing after it was written.
        let Ok(line) = serde_json::from_str::<Line>(&text) else {
            break;
        };
        if line.seq > mark {
            lines.push(line);
        }
    }
    ship(conn, id, &lines).await.map_err(|e| failed(&e))?;
    mark_closed(conn, id).await;
    std::fs::remove_file(path).map_err(|e| failed(&e))?;
    tracing::warn!(
        journal = %id,
        rows = lines.len(),
        "shipped the access-log journal a stopped server left behind"
    );
    Ok(lines.len())
}
