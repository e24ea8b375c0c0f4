//! The envelope every stored event carries inside its payload (esrs has no metadata column):
//! who recorded it, when, when it took effect, why, from where, and its place in the hash chain.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::policy_params::PolicyParameters;

/// Version of the payload layout; bump it when a stored shape changes and add an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// The person (or system account) on whose authority an event was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Uuid,
    pub name: String,
    pub role: String,
    /// Administrative unit code the actor acts for.
    pub unit: String,
}

impl Actor {
    /// The account used by command-line tools and the synthetic data generator.
    pub fn system(name: &str) -> Self {
        Actor {
            user_id: Uuid::nil(),
            name: name.to_owned(),
            role: "system".to_owned(),
            unit: String::new(),
        }
    }
}

/// Where an event entered the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Api,
    Cli,
    Import { batch_id: Uuid },
    Correction,
}

/// Everything about an event except the domain data itself. Stored as `meta` in the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub household_id: Uuid,
    /// 1-based position in the household's stream; part of the hashed content, so a moved or
    /// swapped event breaks the chain even if its row is renumbered.
    pub sequence: i64,
    pub schema_version: u32,
    pub actor: Actor,
    /// Server clock when the event was written.
    pub recorded_at: DateTime<Utc>,
    /// The day the fact happened in the world (a survey done on 20 Nov and entered on 2 Dec).
    pub effective_on: NaiveDate,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub decision_no: Option<String>,
    pub source: Source,
    /// Shared by every event written for one request.
    pub correlation_id: Uuid,
    pub idempotency: Option<Idempotency>,
    /// Hash of the previous event of this household (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and the canonical payload without this field; see `chain`.
    /// Left out of the JSON while empty, i.e. while the hash itself is being computed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

/// The client's idempotency key and a digest of the request it came with: a retry with the same
/// key and body returns the first result; the same key with another body is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idempotency {
    pub key: String,
    pub request_digest: String,
}

/// A domain event as stored: `{"type": ..., "data": {...}, "meta": {...}}`.
///
/// Read without `#[serde(flatten)]` (see [`read`]): flatten buffers the whole payload before
/// reading it again, which was most of the cost of every replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded<E> {
    #[serde(flatten)]
    pub event: E,
    pub meta: Envelope,
}

impl<'de, E: Deserialize<'de>> Deserialize<'de> for Recorded<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(read::RecordedVisitor(std::marker::PhantomData))
    }
}

/// Reading a stored event in one pass: the event is read from the payload's map with `meta`
/// taken out of it on the way, wherever it stands (jsonb orders keys `data`, `meta`, `type`).
mod read {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::value::MapAccessDeserializer;
    use serde::de::{self, DeserializeSeed, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
    use serde::Deserialize;

    use super::{Envelope, Recorded};

    pub(super) struct RecordedVisitor<E>(pub(super) PhantomData<E>);

    impl<'de, E: Deserialize<'de>> Visitor<'de> for RecordedVisitor<E> {
        type Value = Recorded<E>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a stored event (type, data and meta)")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut meta = None;
            let event = E::deserialize(MapAccessDeserializer::new(WithoutMeta {
                map: &mut map,
                meta: &mut meta,
            }))?;
            // What the event did not read (it may stop once it has its tag and content).
            while let Some(key) = map.next_key_seed(KeyOrMeta(PhantomData::<IgnoredAny>))? {
                match key {
                    Ok(_) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    Err(_) => meta = Some(map.next_value()?),
                }
            }
            let meta = meta.ok_or_else(|| de::Error::missing_field("meta"))?;
            Ok(Recorded { event, meta })
        }
    }

    /// The payload's map as the event sees it: every entry but `meta`, which goes aside.
    struct WithoutMeta<'a, A> {
        map: &'a mut A,
        meta: &'a mut Option<Envelope>,
    }

    impl<'de, A: MapAccess<'de>> MapAccess<'de> for WithoutMeta<'_, A> {
        type Error = A::Error;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            mut seed: K,
        ) -> Result<Option<K::Value>, A::Error> {
            loop {
                match self.map.next_key_seed(KeyOrMeta(seed))? {
                    None => return Ok(None),
                    Some(Ok(key)) => return Ok(Some(key)),
                    Some(Err(unused)) => {
                        *self.meta = Some(self.map.next_value()?);
                        seed = unused;
                    }
                }
            }
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, A::Error> {
            self.map.next_value_seed(seed)
        }
    }

    /// A key read by `K`, or `Err(K)` back unused when the key is `meta`.
    struct KeyOrMeta<K>(K);

    impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeyOrMeta<K> {
        type Value = Result<K::Value, K>;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for KeyOrMeta<K> {
        type Value = Result<K::Value, K>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
            if key == "meta" {
                return Ok(Err(self.0));
            }
            self.0.deserialize(key.into_deserializer()).map(Ok)
        }
    }
}

/// Facts about one event that the domain decides (they differ between the events of one
/// command: a decision's derived events share its number, a survey has its own date).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub effective_on: Option<NaiveDate>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    pub decision_no: Option<String>,
}

/// What the application knows about a request, handed to the pure domain with the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandContext {
    pub household_id: Uuid,
    pub actor: Actor,
    pub recorded_at: DateTime<Utc>,
    /// Today's date in Vietnam (UTC+7): effective dates after it are in the future.
    pub today: NaiveDate,
    pub source: Source,
    pub correlation_id: Uuid,
    pub idempotency: Option<Idempotency>,
    /// Dated policy parameters the rules consult (the plausible maximum of a support); the
    /// shipped ones unless the installation has its own.
    pub parameters: Arc<PolicyParameters>,
}

impl CommandContext {
    /// A context for a request at `recorded_at`, with today's date taken in Vietnam's time zone.
    pub fn new(
        household_id: Uuid,
        actor: Actor,
        source: Source,
        recorded_at: DateTime<Utc>,
    ) -> Self {
        let today = (recorded_at + chrono::Duration::hours(7)).date_naive();
        CommandContext {
            household_id,
            actor,
            recorded_at,
            today,
            source,
            correlation_id: Uuid::now_v7(),
            idempotency: None,
            parameters: PolicyParameters::shipped(),
        }
    }
}
