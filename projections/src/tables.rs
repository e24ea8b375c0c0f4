//! The read-model tables that more than one path writes, each described once: its columns in
//! the table's order, its key, and what guards its rows' version.
//!
//! A command's rows reach them through `ansinh_append`, as JSON objects read with
//! `jsonb_populate_record(set)`, where a key that does not name a column (a renamed serde
//! field) would silently become NULL; the batch writers of import and rebuild build their
//! column lists and upserts from these descriptions. tests/read_models.rs checks each
//! description against the migrated schema (columns, primary key, lock order) and the JSON
//! rows the command path sends against the columns, so a schema change fails there, once.

use crate::locking::LOCK_ORDER;

/// One read-model table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// Every column, in the table's order (a batch writer's UNNEST follows it).
    pub columns: &'static [&'static str],
    /// The primary key.
    pub key: &'static [&'static str],
    /// What keeps a slower writer from overwriting newer rows: a `version` column of the row,
    /// or a per-household guard table taken before the rows (see [`crate::locking`]).
    pub guard: Guard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Upserts only where the stored row's `version` is older.
    VersionColumn,
    /// The household's row in this table says which version its rows stand at.
    Table(&'static str),
    /// Rows are only ever added for an event (a correction link); a repeat changes nothing.
    InsertOnly,
}

impl Table {
    /// The column list, for `INSERT INTO t (…)`.
    pub fn column_list(&self) -> String {
        self.columns.join(", ")
    }

    /// `c = EXCLUDED.c` for every column outside the key, for `ON CONFLICT … DO UPDATE SET`.
    pub fn update_all(&self) -> String {
        self.columns
            .iter()
            .filter(|c| !self.key.contains(c))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Where the table stands in [`LOCK_ORDER`] (its guard table comes before it).
    pub fn lock_rank(&self) -> Option<usize> {
        LOCK_ORDER.iter().position(|t| *t == self.name)
    }
}

pub const HOUSEHOLD_STATUS: Table = Table {
    name: "household_status",
    columns: &[
        "household_id",
        "version",
        "head_name",
        "head_name_folded",
        "unit_code",
        "hamlet",
        "area",
        "member_count",
        "ethnic_minority",
        "merit_family",
        "no_working_capacity",
        "registered_on",
        "closed_on",
        "last_recorded_at",
        "placed_on",
    ],
    key: &["household_id"],
    guard: Guard::VersionColumn,
};

pub const HOUSEHOLD_STANDARD_STATUS: Table = Table {
    name: "household_standard_status",
    columns: &[
        "household_id",
        "standard",
        "category",
        "since",
        "decision_no",
        "last_decided_on",
        "last_decision_no",
        "exited_poverty_on",
        "exited_near_poverty_on",
    ],
    key: &["household_id", "standard"],
    guard: Guard::Table("household_status"),
};

pub const HISTORY_CORRECTIONS: Table = Table {
    name: "history_corrections",
    columns: &[
        "household_id",
        "correction_sequence",
        "corrects_sequence",
        "original_sequence",
        "corrects_type",
        "voids",
    ],
    key: &["household_id", "correction_sequence"],
    guard: Guard::InsertOnly,
};

pub const DISBURSEMENTS: Table = Table {
    name: "disbursements",
    columns: &[
        "household_id",
        "sequence",
        "head_name",
        "unit_code",
        "policy",
        "amount_vnd",
        "in_kind",
        "funding_source",
        "fund_id",
        "disbursed_on",
        "disbursed_by",
        "decision_no",
        "recipient_member",
        "recorded_at",
        "original_amount_vnd",
        "corrected_by",
        "correction_reason",
        "voided",
        "override_reason",
    ],
    key: &["household_id", "sequence"],
    guard: Guard::Table("disbursement_households"),
};

pub const RE_POVERTY: Table = Table {
    name: "re_poverty",
    columns: &[
        "household_id",
        "sequence",
        "standard",
        "category",
        "unit_code",
        "head_name",
        "exited_on",
        "exit_decision_no",
        "exited_to",
        "fell_back_on",
        "fell_back_decision_no",
        "fell_back_from",
        "supports_between",
        "supports_between_vnd",
        "cause",
    ],
    key: &["household_id", "sequence"],
    guard: Guard::Table("re_poverty_households"),
};

/// Every described table.
pub const DESCRIBED: [Table; 5] = [
    HOUSEHOLD_STATUS,
    HOUSEHOLD_STANDARD_STATUS,
    HISTORY_CORRECTIONS,
    DISBURSEMENTS,
    RE_POVERTY,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_and_its_guard_table_have_a_lock_rank_guard_first() {
        for t in DESCRIBED {
            let rank = t
                .lock_rank()
                .unwrap_or_else(|| panic!("{} in LOCK_ORDER", t.name));
            if let Guard::Table(guard) = t.guard {
                let g = LOCK_ORDER.iter().position(|o| *o == guard);
                assert!(g.is_some_and(|g| g < rank), "{guard} before {}", t.name);
            }
            for k in t.key {
                assert!(t.columns.contains(k), "{}: key {k} is a column", t.name);
            }
        }
    }

    #[test]
    fn the_upsert_sets_every_column_but_the_key() {
        assert_eq!(
            HISTORY_CORRECTIONS.update_all(),
            "corrects_sequence = EXCLUDED.corrects_sequence, \
             original_sequence = EXCLUDED.original_sequence, \
             corrects_type = EXCLUDED.corrects_type, voids = EXCLUDED.voids"
        );
    }
}
