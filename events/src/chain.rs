//! The per-household hash chain that makes tampering provable.
//!
//! `hash = hex(SHA-256(prev_hash ‖ JCS(payload without meta.hash)))` where `prev_hash` is the
//! previous event's hash as 64 lowercase hex ASCII bytes (64 `0`s for the first event) and JCS
//! is the JSON Canonicalization Scheme of RFC 8785 (keys sorted by UTF-16 code units, no
//! whitespace, ES6 number form). The payload includes the household id and the sequence, so an
//! edited, deleted, inserted or swapped event breaks the chain at that point.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::envelope::{CommandContext, Envelope, Facts, Recorded, SCHEMA_VERSION};

/// `prev_hash` of a household's first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("the event could not be encoded as JSON: {0}")]
    Encode(String),
    #[error("the stored payload has no meta object")]
    NoMeta,
}

/// Where a household's chain stands: the last sequence written and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            sequence: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainHead {
    /// Moves the head past a recorded event.
    pub fn advance(&mut self, meta: &Envelope) {
        self.sequence = meta.sequence;
        self.hash.clone_from(&meta.hash);
    }
}

/// Hash of a stored payload (`{"type","data","meta"}`), ignoring any `meta.hash` it carries.
pub fn payload_hash(payload: &Value) -> Result<String, ChainError> {
    payload_hash_owned(payload.clone())
}

/// Like [`payload_hash`], consuming the payload instead of copying it.
pub fn payload_hash_owned(mut payload: Value) -> Result<String, ChainError> {
    let meta = payload
        .get_mut("meta")
        .and_then(Value::as_object_mut)
        .ok_or(ChainError::NoMeta)?;
    meta.remove("hash");
    let prev = meta
        .get("prev_hash")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    hash_canonical(&prev, &payload)
}

fn hash_canonical(prev_hash: &str, unhashed: &Value) -> Result<String, ChainError> {
    let canonical = serde_jcs::to_vec(unhashed).map_err(|e| ChainError::Encode(e.to_string()))?;
    Ok(hash_bytes(prev_hash, &canonical))
}

fn hash_bytes(prev_hash: &str, canonical: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical);
    hex::encode(hasher.finalize())
}

/// Wraps the events one command produced in envelopes and links them onto the chain.
pub fn seal<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
) -> Result<Vec<Recorded<E>>, ChainError> {
    seal_with(head, ctx, events, true)
}

/// Envelopes without hashes: for checking a whole file before anything is written, where
/// the events are thrown away and only the rules' verdict counts.
pub fn envelope_unhashed<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
) -> Result<Vec<Recorded<E>>, ChainError> {
    seal_with(head, ctx, events, false)
}

fn seal_with<E: Serialize>(
    head: &ChainHead,
    ctx: &CommandContext,
    events: Vec<(E, Facts)>,
    hash: bool,
) -> Result<Vec<Recorded<E>>, ChainError> {
    let mut head = head.clone();
    let mut sealed = Vec::with_capacity(events.len());
    for (event, facts) in events {
        let mut recorded = Recorded {
            event,
            meta: Envelope {
                household_id: ctx.household_id,
                sequence: head.sequence + 1,
                schema_version: SCHEMA_VERSION,
                actor: ctx.actor.clone(),
                recorded_at: ctx.recorded_at,
                effective_on: facts.effective_on.unwrap_or(ctx.today),
                reason: facts.reason,
                legal_basis: facts.legal_basis,
                decision_no: facts.decision_no,
                source: ctx.source.clone(),
                correlation_id: ctx.correlation_id,
                idempotency: ctx.idempotency.clone(),
                prev_hash: head.hash.clone(),
                hash: String::new(),
            },
        };
        // `meta.hash` is empty here, so serde leaves it out: this is the canonical form that
        // `payload_hash` recomputes from the stored JSON, made without a JSON tree in between.
        if hash {
            let canonical =
                serde_jcs::to_vec(&recorded).map_err(|e| ChainError::Encode(e.to_string()))?;
            recorded.meta.hash = hash_bytes(&recorded.meta.prev_hash, &canonical);
        }
        head.advance(&recorded.meta);
        sealed.push(recorded);
    }
    Ok(sealed)
}

/// Result of checking one household's events in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// Row sequence numbers are not 1, 2, 3, … (an event was deleted or inserted).
    Gap { expected: i64, found: i64 },
    /// The payload's own sequence or household differs from the row it sits in.
    Misplaced { sequence: i64 },
    /// `prev_hash` is not the previous event's hash.
    Unlinked { sequence: i64 },
    /// The recomputed hash differs from the stored one (the payload was edited).
    Altered { sequence: i64 },
}

impl ChainBreak {
    pub fn sequence(&self) -> i64 {
        match self {
            ChainBreak::Gap { expected, .. } => *expected,
            ChainBreak::Misplaced { sequence }
            | ChainBreak::Unlinked { sequence }
            | ChainBreak::Altered { sequence } => *sequence,
        }
    }
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::Gap { expected, found } => {
                write!(
                    f,
                    "event {expected} is missing (next stored event is {found})"
                )
            }
            ChainBreak::Misplaced { sequence } => {
                write!(f, "event {sequence} belongs to another place in the log")
            }
            ChainBreak::Unlinked { sequence } => {
                write!(f, "event {sequence} does not link to the event before it")
            }
            ChainBreak::Altered { sequence } => {
                write!(f, "event {sequence} was altered after it was written")
            }
        }
    }
}

/// Checks events fed in row order and remembers the first break.
#[derive(Debug)]
pub struct ChainVerifier {
    household_id: uuid::Uuid,
    head: ChainHead,
    first_break: Option<ChainBreak>,
}

impl ChainVerifier {
    pub fn new(household_id: uuid::Uuid) -> Self {
        ChainVerifier {
            household_id,
            head: ChainHead::default(),
            first_break: None,
        }
    }

    /// Feeds the next stored row: its sequence column and its payload.
    pub fn push(&mut self, row_sequence: i64, payload: &Value) {
        self.push_owned(row_sequence, payload.clone());
    }

    /// Like [`ChainVerifier::push`], consuming the payload (no copy on the hot path).
    pub fn push_owned(&mut self, row_sequence: i64, payload: Value) {
        if self.first_break.is_some() {
            return;
        }
        let expected = self.head.sequence + 1;
        if row_sequence != expected {
            self.first_break = Some(ChainBreak::Gap {
                expected,
                found: row_sequence,
            });
            return;
        }
        let meta = payload.get("meta");
        let field = |name: &str| meta.and_then(|m| m.get(name));
        let stored_hash = field("hash")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let in_place = field("sequence").and_then(Value::as_i64) == Some(row_sequence)
            && field("household_id").and_then(Value::as_str)
                == Some(self.household_id.to_string().as_str());
        let linked = field("prev_hash").and_then(Value::as_str) == Some(self.head.hash.as_str());
        self.first_break = if !in_place {
            Some(ChainBreak::Misplaced {
                sequence: row_sequence,
            })
        } else if !linked {
            Some(ChainBreak::Unlinked {
                sequence: row_sequence,
            })
        } else if payload_hash_owned(payload).ok() != Some(stored_hash.clone()) {
            Some(ChainBreak::Altered {
                sequence: row_sequence,
            })
        } else {
            None
        };
        self.head = ChainHead {
            sequence: row_sequence,
            hash: stored_hash,
        };
    }

    /// The head after the last event fed, or the first break found.
    pub fn finish(self) -> Result<ChainHead, ChainBreak> {
        match self.first_break {
            Some(b) => Err(b),
            None => Ok(self.head),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Actor, Source};
    use serde_json::json;

    fn ctx() -> CommandContext {
        CommandContext::new(
            uuid::Uuid::from_u128(7),
            Actor::system("test"),
            Source::Cli,
            "2024-05-01T03:00:00Z".parse().expect("time"),
        )
    }

    fn sealed(n: usize) -> Vec<Value> {
        let events = (0..n)
            .map(|i| {
                (
                    json!({"type": "note", "data": {"n": i, "text": "Tây Ninh"}}),
                    Facts::default(),
                )
            })
            .collect();
        seal(&ChainHead::default(), &ctx(), events)
            .expect("seal")
            .iter()
            .map(|r| serde_json::to_value(r).expect("json"))
            .collect()
    }

    fn check(events: &[Value]) -> Result<ChainHead, ChainBreak> {
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(7));
        for e in events {
            v.push(e["meta"]["sequence"].as_i64().unwrap_or(0), e);
        }
        v.finish()
    }

    #[test]
    fn a_sealed_chain_verifies_and_links_from_genesis() {
        let events = sealed(4);
        assert_eq!(events[0]["meta"]["prev_hash"], GENESIS_HASH);
        assert_eq!(events[1]["meta"]["prev_hash"], events[0]["meta"]["hash"]);
        let head = check(&events).expect("intact");
        assert_eq!(head.sequence, 4);
        assert_eq!(json!(head.hash), events[3]["meta"]["hash"]);
    }

    #[test]
    fn the_hash_is_sha256_of_prev_hash_and_the_rfc8785_form() {
        let events = sealed(1);
        let mut unhashed = events[0].clone();
        unhashed["meta"]
            .as_object_mut()
            .expect("meta")
            .remove("hash");
        // RFC 8785: sorted keys, no whitespace; non-ASCII stays as UTF-8.
        let canonical = serde_jcs::to_string(&unhashed).expect("jcs");
        assert!(canonical.starts_with("{\"data\":{\"n\":0,\"text\":\"Tây Ninh\"},\"meta\":{"));
        let expected = hex::encode(Sha256::digest(format!("{GENESIS_HASH}{canonical}")));
        assert_eq!(events[0]["meta"]["hash"], expected.as_str());
    }

    #[test]
    fn key_order_and_whitespace_of_the_stored_json_do_not_matter() {
        let events = sealed(2);
        let reparsed: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(&serde_json::to_string_pretty(e).expect("s")).expect("p"))
            .collect();
        assert!(check(&reparsed).is_ok());
    }

    #[test]
    fn an_edited_payload_is_altered() {
        let mut events = sealed(3);
        events[1]["data"]["n"] = json!(99);
        assert_eq!(check(&events), Err(ChainBreak::Altered { sequence: 2 }));
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut events = sealed(3);
        events[1]["data"]["n"] = json!(99);
        let rehash = payload_hash(&events[1]).expect("hash");
        events[1]["meta"]["hash"] = json!(rehash);
        assert_eq!(check(&events), Err(ChainBreak::Unlinked { sequence: 3 }));
    }

    #[test]
    fn a_deleted_event_is_a_gap() {
        let mut events = sealed(3);
        events.remove(1);
        assert_eq!(
            check(&events),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
    }

    #[test]
    fn swapped_payloads_are_misplaced() {
        let events = sealed(3);
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(7));
        v.push(1, &events[0]);
        v.push(2, &events[2]);
        v.push(3, &events[1]);
        assert_eq!(v.finish(), Err(ChainBreak::Misplaced { sequence: 2 }));
    }

    #[test]
    fn an_event_moved_from_another_household_is_misplaced() {
        let events = sealed(1);
        let mut v = ChainVerifier::new(uuid::Uuid::from_u128(8));
        v.push(1, &events[0]);
        assert_eq!(v.finish(), Err(ChainBreak::Misplaced { sequence: 1 }));
    }
}
