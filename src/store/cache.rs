//! Households this process has recently loaded or written, so a command is decided without
//! reading the household's history again.
//!
//! The cache is only ever a guess at the newest version: an append decided on a stale entry
//! (another process wrote meanwhile) fails on the stream's unique index like any lost race,
//! and the entry is dropped and reloaded. Bounded by the number of events held.

use std::sync::Arc;

use ansinh_projections::changes::HouseholdRows;
use ansinh_projections::HouseholdLog;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use uuid::Uuid;

/// Events held across all cached households (about 1–2 KB each in memory).
pub const DEFAULT_CAPACITY_EVENTS: u64 = 100_000;

/// A household's history as stored, its folded state and its inline read-model rows.
#[derive(Debug)]
pub struct Cached {
    pub log: HouseholdLog,
    pub rows: HouseholdRows,
}

impl Cached {
    pub fn new(log: HouseholdLog) -> Self {
        let rows = HouseholdRows::of(&log);
        Cached { log, rows }
    }

    pub fn version(&self) -> i64 {
        self.log.version()
    }
}

#[derive(Clone)]
struct ByEvents;

impl Weighter<Uuid, Arc<Cached>> for ByEvents {
    fn weight(&self, _: &Uuid, value: &Arc<Cached>) -> u64 {
        value.log.events.len() as u64 + 1
    }
}

#[derive(Clone)]
pub struct HouseholdCache(Arc<Cache<Uuid, Arc<Cached>, ByEvents>>);

impl HouseholdCache {
    pub fn new(capacity_events: u64) -> Self {
        let households = usize::try_from(capacity_events / 10).unwrap_or(usize::MAX);
        HouseholdCache(Arc::new(Cache::with_weighter(
            households.max(16),
            capacity_events.max(1),
            ByEvents,
        )))
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<Cached>> {
        self.0.get(id)
    }

    /// Keeps `value` unless a newer version is already held (appends can finish out of order).
    pub fn offer(&self, value: Arc<Cached>) {
        let id = value.log.household_id;
        if self
            .0
            .peek(&id)
            .is_some_and(|held| held.version() >= value.version())
        {
            return;
        }
        self.0.insert(id, value);
    }

    pub fn forget(&self, id: &Uuid) {
        self.0.remove(id);
    }
}
