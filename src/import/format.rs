//! The annual-review import format, shared by `ansinh import` and `ansinh generate`.
//!
//! A review file has one row per household and review period: the household's registration
//! facts (repeated on every row; the first row's are used), the survey, and the commune chair's
//! decision. Supports go in a second sheet named `supports` (XLSX) or a second file next to
//! the first named `<name>.supports.csv` (CSV). Headers may be the English names below or their
//! Vietnamese equivalents, with or without diacritics, in any case.

use serde::{Deserialize, Serialize};

/// A review row as text, in canonical column order. Empty cells are empty strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRow {
    /// Stable key of the household in the commune's register; the household's id derives
    /// from it, which makes a second import of the same file add nothing.
    pub household_key: String,
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    /// `rural` or `urban` (`nông thôn`, `thành thị`).
    pub area: String,
    /// `yes`/`no` (also `true`/`false`, `1`/`0`, `x`, `có`/`không`).
    pub ethnic_minority: String,
    pub merit_family: String,
    pub registered_on: String,
    /// Members separated by `;`, each `name/birth_year/sex/relation/id_number` (id optional).
    pub members: String,
    /// The review (`2022-annual`, `2023-06-regular`).
    pub period: String,
    pub survey_date: String,
    pub income_per_capita_vnd: String,
    /// Deprived indicators separated by `,` or `;` (names from the standards).
    pub deprivations: String,
    pub working_capacity: String,
    pub loan_demand: String,
    pub cause_of_poverty: String,
    pub surveyor: String,
    /// The decision (optional: a survey may await its decision).
    pub standard: String,
    pub category: String,
    pub decision_no: String,
    pub decided_on: String,
    /// Needed when the category differs from the survey's proposal.
    pub decision_reason: String,
    /// The village meeting's vote on the survey's proposal (optional; all five or none).
    pub meeting_held_on: String,
    pub meeting_attendees: String,
    pub meeting_votes_for: String,
    pub meeting_votes_against: String,
    pub meeting_minutes_no: String,
    /// When the commune posted the period's results (optional; the same on every row of a
    /// commune and period).
    pub posted_from: String,
    pub posted_to: String,
}

/// A support row as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportRow {
    pub household_key: String,
    pub policy: String,
    pub amount_vnd: String,
    pub in_kind: String,
    pub funding_source: String,
    pub fund_id: String,
    pub disbursed_on: String,
    pub disbursed_by: String,
    pub decision_no: String,
    pub recipient_member: String,
}

/// Canonical review columns and the Vietnamese headers accepted for them (folded: lowercase,
/// no diacritics, words joined by `_`).
pub const REVIEW_COLUMNS: &[(&str, &[&str])] = &[
    ("household_key", &["ma_ho", "ma_ho_gia_dinh"]),
    ("head_name", &["ho_ten_chu_ho", "chu_ho", "ten_chu_ho"]),
    ("unit_code", &["ma_xa", "ma_don_vi"]),
    ("hamlet", &["ap", "thon_ap", "ap_khu_pho", "khu_pho"]),
    ("area", &["khu_vuc"]),
    ("ethnic_minority", &["dan_toc_thieu_so", "dtts"]),
    ("merit_family", &["nguoi_co_cong", "gia_dinh_co_cong"]),
    ("registered_on", &["ngay_dang_ky"]),
    ("members", &["thanh_vien", "nhan_khau"]),
    ("period", &["ky_ra_soat", "dot_ra_soat"]),
    ("survey_date", &["ngay_ra_soat", "ngay_khao_sat"]),
    (
        "income_per_capita_vnd",
        &["thu_nhap_binh_quan", "thu_nhap_binh_quan_dau_nguoi"],
    ),
    ("deprivations", &["chi_so_thieu_hut", "thieu_hut"]),
    (
        "working_capacity",
        &["co_kha_nang_lao_dong", "kha_nang_lao_dong"],
    ),
    ("loan_demand", &["nhu_cau_vay", "nhu_cau_vay_von"]),
    ("cause_of_poverty", &["nguyen_nhan_ngheo"]),
    ("surveyor", &["ra_soat_vien", "nguoi_ra_soat"]),
    ("standard", &["chuan_ngheo"]),
    ("category", &["phan_loai", "ket_qua"]),
    ("decision_no", &["so_quyet_dinh"]),
    ("decided_on", &["ngay_quyet_dinh"]),
    ("decision_reason", &["ly_do"]),
    ("meeting_held_on", &["ngay_hop_dan", "ngay_hop"]),
    (
        "meeting_attendees",
        &["so_nguoi_du_hop", "so_nguoi_tham_du"],
    ),
    ("meeting_votes_for", &["so_phieu_dong_y", "dong_y"]),
    (
        "meeting_votes_against",
        &["so_phieu_khong_dong_y", "khong_dong_y"],
    ),
    ("meeting_minutes_no", &["so_bien_ban", "bien_ban_hop"]),
    ("posted_from", &["niem_yet_tu_ngay", "ngay_niem_yet"]),
    ("posted_to", &["niem_yet_den_ngay", "het_niem_yet"]),
];

/// Canonical support columns and their Vietnamese headers.
pub const SUPPORT_COLUMNS: &[(&str, &[&str])] = &[
    ("household_key", &["ma_ho", "ma_ho_gia_dinh"]),
    ("policy", &["chinh_sach"]),
    ("amount_vnd", &["so_tien", "so_tien_vnd"]),
    ("in_kind", &["hien_vat"]),
    ("funding_source", &["nguon_von", "nguon_kinh_phi"]),
    ("fund_id", &["quy", "ma_quy"]),
    ("disbursed_on", &["ngay_chi", "ngay_giai_ngan"]),
    ("disbursed_by", &["don_vi_chi", "don_vi_giai_ngan"]),
    ("decision_no", &["so_quyet_dinh", "so_chung_tu"]),
    ("recipient_member", &["nguoi_nhan"]),
];

/// The canonical column a header names, if any.
pub fn canonical_header(header: &str, columns: &[(&'static str, &[&str])]) -> Option<&'static str> {
    let folded = ansinh_events::text::fold(header).replace([' ', '-', '.', '/'], "_");
    let folded = folded.trim_matches('_');
    columns
        .iter()
        .find(|(name, aliases)| *name == folded || aliases.contains(&folded))
        .map(|(name, _)| *name)
}

impl ReviewRow {
    /// Cells in canonical column order, for writers.
    pub fn cells(&self) -> [&str; 29] {
        [
            &self.household_key,
            &self.head_name,
            &self.unit_code,
            &self.hamlet,
            &self.area,
            &self.ethnic_minority,
            &self.merit_family,
            &self.registered_on,
            &self.members,
            &self.period,
            &self.survey_date,
            &self.income_per_capita_vnd,
            &self.deprivations,
            &self.working_capacity,
            &self.loan_demand,
            &self.cause_of_poverty,
            &self.surveyor,
            &self.standard,
            &self.category,
            &self.decision_no,
            &self.decided_on,
            &self.decision_reason,
            &self.meeting_held_on,
            &self.meeting_attendees,
            &self.meeting_votes_for,
            &self.meeting_votes_against,
            &self.meeting_minutes_no,
            &self.posted_from,
            &self.posted_to,
        ]
    }
}

impl SupportRow {
    pub fn cells(&self) -> [&str; 10] {
        [
            &self.household_key,
            &self.policy,
            &self.amount_vnd,
            &self.in_kind,
            &self.funding_source,
            &self.fund_id,
            &self.disbursed_on,
            &self.disbursed_by,
            &self.decision_no,
            &self.recipient_member,
        ]
    }
}

/// A row's digest over the fields it names: `fields` as they were first digested (each value
/// then a unit separator, in this order, empty ones too), then `later` (fields added since:
/// `name=value`, only when not empty). A column added to the file or to the row types, or a
/// reordering of either, leaves an unchanged row's digest as it was, so a file imported before
/// is still recognised as imported (and a support's key, made from its digest, found again).
fn named_digest(fields: &[&str], later: &[(&str, &str)]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for value in fields {
        h.update(value.as_bytes());
        h.update([0x1f]);
    }
    for (name, value) in later.iter().filter(|(_, v)| !v.is_empty()) {
        h.update(name.as_bytes());
        h.update(b"=");
        h.update(value.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

impl ReviewRow {
    /// The registration facts' digest.
    pub fn registration_digest(&self) -> String {
        named_digest(
            &[
                &self.head_name,
                &self.unit_code,
                &self.hamlet,
                &self.area,
                &self.ethnic_minority,
                &self.merit_family,
                &self.registered_on,
                &self.members,
            ],
            &[],
        )
    }

    /// The survey's digest.
    pub fn survey_digest(&self) -> String {
        named_digest(
            &[
                &self.period,
                &self.survey_date,
                &self.income_per_capita_vnd,
                &self.deprivations,
                &self.working_capacity,
                &self.loan_demand,
                &self.cause_of_poverty,
                &self.surveyor,
            ],
            &[],
        )
    }

    /// The decision's digest.
    pub fn decision_digest(&self) -> String {
        named_digest(
            &[
                &self.standard,
                &self.category,
                &self.decision_no,
                &self.decided_on,
                &self.decision_reason,
            ],
            &[],
        )
    }

    /// The village meeting's digest.
    pub fn meeting_digest(&self) -> String {
        named_digest(
            &[
                &self.meeting_held_on,
                &self.meeting_attendees,
                &self.meeting_votes_for,
                &self.meeting_votes_against,
                &self.meeting_minutes_no,
            ],
            &[],
        )
    }
}

impl SupportRow {
    /// The support's digest (its import key is made from it: two equal rows are one support).
    pub fn digest(&self) -> String {
        named_digest(
            &[
                &self.household_key,
                &self.policy,
                &self.amount_vnd,
                &self.in_kind,
                &self.funding_source,
                &self.fund_id,
                &self.disbursed_on,
                &self.disbursed_by,
                &self.decision_no,
                &self.recipient_member,
            ],
            &[],
        )
    }
}

/// The supports file that goes with a CSV review file: `x.csv` → `x.supports.csv`.
pub fn supports_path(reviews: &std::path::Path) -> std::path::PathBuf {
    let stem = reviews
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    reviews.with_file_name(format!("{stem}.supports.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review() -> ReviewRow {
        let mut cells = (0..29).map(|i| format!("c{i}"));
        let mut next = || cells.next().unwrap_or_default();
        ReviewRow {
            household_key: next(),
            head_name: next(),
            unit_code: next(),
            hamlet: next(),
            area: next(),
            ethnic_minority: next(),
            merit_family: next(),
            registered_on: next(),
            members: next(),
            period: next(),
            survey_date: next(),
            income_per_capita_vnd: next(),
            deprivations: next(),
            working_capacity: next(),
            loan_demand: next(),
            cause_of_poverty: next(),
            surveyor: next(),
            standard: next(),
            category: next(),
            decision_no: next(),
            decided_on: next(),
            decision_reason: next(),
            meeting_held_on: next(),
            meeting_attendees: next(),
            meeting_votes_for: next(),
            meeting_votes_against: next(),
            meeting_minutes_no: next(),
            posted_from: next(),
            posted_to: next(),
        }
    }

    /// How the digests were taken before they named their fields (by position in the row's
    /// cells): files imported then must still be recognised.
    fn positional(cells: &[&str]) -> String {
        named_digest(cells, &[])
    }

    #[test]
    fn row_digests_are_those_files_were_imported_with() {
        let r = review();
        let cells = r.cells();
        assert_eq!(r.registration_digest(), positional(&cells[1..9]));
        assert_eq!(r.survey_digest(), positional(&cells[9..17]));
        assert_eq!(r.decision_digest(), positional(&cells[17..22]));
        assert_eq!(r.meeting_digest(), positional(&cells[22..27]));
        let s = SupportRow {
            household_key: "HK-1".into(),
            policy: "emergency_aid".into(),
            amount_vnd: "2000000".into(),
            funding_source: "mobilized".into(),
            disbursed_on: "2025-01-15".into(),
            ..SupportRow::default()
        };
        assert_eq!(s.digest(), positional(&s.cells()));
        // Pinned (SHA-256 of "c9␟c10␟…c16␟"): a change of algorithm or field list would make
        // every imported file look new.
        assert_eq!(
            r.survey_digest(),
            "83b43a95c3aab1b7448fe4c818f9cce2fdf8fb77cac0beda24ffb28642743a1f"
        );
    }

    #[test]
    fn a_later_field_changes_the_digest_only_when_it_is_filled() {
        let before = named_digest(&["a", "b"], &[]);
        assert_eq!(named_digest(&["a", "b"], &[("new_column", "")]), before);
        assert_ne!(named_digest(&["a", "b"], &[("new_column", "x")]), before);
        assert_ne!(
            named_digest(&["a", "b"], &[("one", "x")]),
            named_digest(&["a", "b"], &[("other", "x")]),
            "a later field counts by its name, not its place"
        );
    }

    #[test]
    fn vietnamese_headers_with_or_without_diacritics_are_accepted() {
        assert_eq!(
            canonical_header("Mã hộ", REVIEW_COLUMNS),
            Some("household_key")
        );
        assert_eq!(
            canonical_header("HO TEN CHU HO", REVIEW_COLUMNS),
            Some("head_name")
        );
        assert_eq!(
            canonical_header("Thu nhập bình quân", REVIEW_COLUMNS),
            Some("income_per_capita_vnd")
        );
        assert_eq!(
            canonical_header("income_per_capita_vnd", REVIEW_COLUMNS),
            Some("income_per_capita_vnd")
        );
        assert_eq!(
            canonical_header("Số tiền", SUPPORT_COLUMNS),
            Some("amount_vnd")
        );
        assert_eq!(canonical_header("ghi chú", REVIEW_COLUMNS), None);
    }

    #[test]
    fn the_supports_file_sits_next_to_the_reviews() {
        assert_eq!(
            supports_path(std::path::Path::new("/d/tay-ninh-2024.csv")),
            std::path::PathBuf::from("/d/tay-ninh-2024.supports.csv")
        );
    }
}
