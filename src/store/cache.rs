//! Households this process has recently loaded or written, so a command is decided without
//! reading the household again.
//!
//! An entry is the household's folded state and its inline read-model rows, never its event
//! list: a command moves both on with its own events alone. The cache is only ever a guess at
//! the newest version: an append decided on a stale entry (another process wrote meanwhile)
//! fails on the stream's unique index like any lost race, and the entry is dropped and
//! reloaded. Bounded by the number of events the held states stand for.

use std::sync::Arc;

use ansinh_events::household::HouseholdState;
use ansinh_projections::changes::HouseholdRows;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use uuid::Uuid;

/// Events the cached states stand for, across all households.
pub const DEFAULT_CAPACITY_EVENTS: u64 = 100_000;

/// A household's folded state and its inline read-model rows.
#[derive(Debug, Clone)]
pub struct Cached {
    pub household_id: Uuid,
    pub state: HouseholdState,
    pub rows: HouseholdRows,
    /// The sequence of the newest snapshot of the household this process knows of (0: none).
    pub snapshot_at: i64,
}

impl Cached {
    pub fn version(&self) -> i64 {
        self.state.version()
    }
}

#[derive(Clone)]
struct ByEvents;

impl Weighter<Uuid, Arc<Cached>> for ByEvents {
    fn weight(&self, _: &Uuid, value: &Arc<Cached>) -> u64 {
        u64::try_from(value.version()).unwrap_or(0) + 1
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
        let id = value.household_id;
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

    /// How full the cache is, for an operator sizing `--cache-events`.
    pub fn fill(&self) -> Fill {
        Fill {
            households: self.0.len(),
            events: self.0.weight(),
            capacity_events: self.0.capacity(),
        }
    }
}

/// How full the cache is: households held, the events they stand for (each household also
/// weighs one), and the most it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Fill {
    pub households: usize,
    pub events: u64,
    pub capacity_events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn household(events: i64) -> Arc<Cached> {
        let mut state = HouseholdState::default();
        state.chain.sequence = events;
        Arc::new(Cached {
            household_id: Uuid::now_v7(),
            state,
            rows: HouseholdRows::default(),
            snapshot_at: 0,
        })
    }

    /// Households of 10 events offered to a cache: how many it still holds.
    fn held_of(capacity_events: u64, households: usize) -> usize {
        let cache = HouseholdCache::new(capacity_events);
        let ids: Vec<Uuid> = (0..households)
            .map(|_| {
                let h = household(10);
                cache.offer(Arc::clone(&h));
                h.household_id
            })
            .collect();
        ids.iter().filter(|id| cache.get(id).is_some()).count()
    }

    #[test]
    fn the_capacity_in_events_bounds_the_households_held() {
        // 3,000 events offered: a capacity of 10,000 keeps them all, one of 1,000 about a
        // third (11 weight units each: the events and the household itself).
        assert_eq!(held_of(10_000, 300), 300);
        let held = held_of(1_000, 300);
        assert!((50..=100).contains(&held), "{held} households held");
    }
}
