//! The envelope every stored event carries inside its payload (esrs has no metadata column):
//! who recorded it, when, when it took effect, why, from where, and its place in the hash chain.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
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

impl<'de, E: DeserializeOwned> Deserialize<'de> for Recorded<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(read::RecordedVisitor(std::marker::PhantomData))
    }
}

/// Reading a stored event in one pass. jsonb orders keys `data`, `meta`, `type`: an adjacently
/// tagged enum that meets its content before its tag buffers the content as a tree of values
/// and reads it again. So `data` is kept as the JSON text it is (a copy of a slice), `meta` read,
/// and the event then read from `type` followed by that text, in one pass.
mod read {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::value::{MapAccessDeserializer, StrDeserializer};
    use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    use serde::Deserialize;
    use serde_json::value::RawValue;

    use super::{Envelope, Recorded};

    pub(super) struct RecordedVisitor<E>(pub(super) PhantomData<E>);

    impl<'de, E: DeserializeOwned> Visitor<'de> for RecordedVisitor<E> {
        type Value = Recorded<E>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a stored event (type, data and meta)")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut type_name, mut data, mut meta) = (None, None, None);
            while let Some(key) = map.next_key::<Key>()? {
                match key {
                    Key::Type => type_name = Some(map.next_value::<String>()?),
                    Key::Data => data = Some(map.next_value::<Box<RawValue>>()?),
                    Key::Meta => meta = Some(map.next_value::<Envelope>()?),
                    Key::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            let meta = meta.ok_or_else(|| de::Error::missing_field("meta"))?;
            let tagged = TypeFirst {
                type_name,
                data: data.as_deref(),
            };
            let event =
                E::deserialize(MapAccessDeserializer::new(tagged)).map_err(de::Error::custom)?;
            Ok(Recorded { event, meta })
        }
    }

    /// The payload's keys.
    enum Key {
        Type,
        Data,
        Meta,
        Other,
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl Visitor<'_> for KeyVisitor {
        type Value = Key;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
            Ok(match key {
                "type" => Key::Type,
                "data" => Key::Data,
                "meta" => Key::Meta,
                _ => Key::Other,
            })
        }
    }

    /// The event's map as its derived reader wants it: `type`, then `data` (when there is one).
    struct TypeFirst<'a> {
        type_name: Option<String>,
        data: Option<&'a RawValue>,
    }

    impl<'a> MapAccess<'a> for TypeFirst<'a> {
        type Error = serde_json::Error;

        fn next_key_seed<K: DeserializeSeed<'a>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Self::Error> {
            let key = if self.type_name.is_some() {
                "type"
            } else if self.data.is_some() {
                "data"
            } else {
                return Ok(None);
            };
            seed.deserialize(StrDeserializer::new(key)).map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'a>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, Self::Error> {
            if let Some(type_name) = self.type_name.take() {
                return seed.deserialize(StrDeserializer::new(&type_name));
            }
            match self.data.take() {
                Some(data) => seed.deserialize(data),
                None => Err(de::Error::custom("a value without a key")),
            }
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
