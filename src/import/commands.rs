//! From a household's rows to the commands of the pure aggregate: the one place that parses the
//! text cells of the import format, used by `ansinh import` and by the tests of
//! `ansinh generate`.
//!
//! Order of the commands: `Register` (from the household's first row in the file), then every
//! review row sorted by survey date (stable, so rows of one date keep their file order): its
//! `Survey`, followed at once by its `Decide` when the row carries a decision. Supports are
//! merged in by date: a support goes before the first review row surveyed after its
//! disbursement date, so a support dated the same day as a survey or a decision goes after
//! that row's survey and decision.
//!
//! Cells: dates `YYYY-MM-DD` (also `DD/MM/YYYY`, `D/M/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`, and an ISO
//! date-time whose date is taken); booleans `yes`/`no`, `true`/`false`, `1`/`0`, `x`,
//! `có`/`không` (empty: `ethnic_minority`, `merit_family`, `loan_demand` are no,
//! `working_capacity` is yes); area `rural`/`urban` (`nông thôn`/`thành thị`); amounts whole
//! VND, optionally grouped by thousands (`1,450,000`, `1.450.000`, `1 450 000`); deprivations
//! split on `,` or `;`; members as [`super::format::ReviewRow::members`] says. An empty
//! `registered_on` is the household's earliest survey date. A decision needs `category` and
//! `decided_on`; `standard` may be left empty when exactly one standard is in force on the
//! survey date.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use ansinh_events::household::{
    placement, DecisionInput, FundingSource, HouseholdCommand, HouseholdError, HouseholdRegistered,
    MeetingInput, Member, Policy, Sex, SupportReceived, SurveyInput, UnitValidity,
};
use ansinh_events::standards::{Category, Standards};
use ansinh_events::text::fold;
use ansinh_events::{Area, Vnd};
use chrono::{Datelike, NaiveDate};

use super::format::{ReviewRow, SupportRow};

/// Sheet name of review rows in errors.
pub const REVIEWS: &str = "reviews";
/// Sheet name of support rows in errors.
pub const SUPPORTS: &str = "supports";

/// A bad cell: the sheet, the spreadsheet line (header = line 1), the canonical column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{sheet} line {line}: {field}: {problem}")]
pub struct RowError {
    pub sheet: &'static str,
    pub line: u64,
    pub field: &'static str,
    pub problem: String,
}

impl RowError {
    fn new(
        sheet: &'static str,
        line: u64,
        field: &'static str,
        problem: impl Into<String>,
    ) -> Self {
        RowError {
            sheet,
            line,
            field,
            problem: problem.into(),
        }
    }

    /// A command of `row` refused by the aggregate, named by the row and the column the
    /// domain's field stands for.
    pub fn from_domain(row: &RowCommand, error: &HouseholdError) -> RowError {
        RowError::refused(row.sheet, row.line, error)
    }

    /// Like [`RowError::from_domain`], for a command already handed over.
    pub fn refused(sheet: &'static str, line: u64, error: &HouseholdError) -> RowError {
        let field = match error.field() {
            Some("effective_on") => "registered_on",
            Some("reason") if sheet == REVIEWS => "decision_reason",
            Some("held_on") => "meeting_held_on",
            Some("attendees") => "meeting_attendees",
            Some("votes_for") => "meeting_votes_for",
            Some("votes_against") => "meeting_votes_against",
            Some("minutes_no") => "meeting_minutes_no",
            Some("added" | "removed" | "new_head_name") => "members",
            Some("measures") => "deprivations",
            Some(field) => canonical_field(sheet, field),
            None => "row",
        };
        RowError::new(sheet, line, field, error.to_string())
    }
}

/// The canonical column a domain field name stands for (the names mostly agree).
fn canonical_field(sheet: &'static str, field: &'static str) -> &'static str {
    let columns = if sheet == REVIEWS {
        super::format::REVIEW_COLUMNS
    } else {
        super::format::SUPPORT_COLUMNS
    };
    columns
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == field)
        .unwrap_or("row")
}

/// A command and the row it came from, so a refusal by the aggregate can name the row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCommand {
    pub sheet: &'static str,
    pub line: u64,
    pub command: HouseholdCommand,
}

/// The commands for one household's rows (each with its spreadsheet line), in the order of the
/// module docs. `unit_validity(code, date)` gives the unit record valid on `date` (else the
/// code's latest record; `None` when the code is unknown), as the domain's
/// [`UnitValidity`] says. Stops at the first bad cell; see [`row_commands`] for every error and
/// the line of each command.
pub fn commands_for<R, S, U>(
    reviews: &[(u64, R)],
    supports: &[(u64, S)],
    standards: &Standards,
    unit_validity: U,
) -> Result<Vec<HouseholdCommand>, RowError>
where
    R: Borrow<ReviewRow>,
    S: Borrow<SupportRow>,
    U: Fn(&str, NaiveDate) -> Option<UnitValidity>,
{
    match row_commands(reviews, supports, standards, unit_validity) {
        Ok(commands) => Ok(commands.into_iter().map(|c| c.command).collect()),
        Err(mut errors) => Err(errors.swap_remove(0)),
    }
}

/// Like [`commands_for`], with the line of every command, and every bad cell of the household
/// reported (in line order; never empty on `Err`).
pub fn row_commands<R, S, U>(
    reviews: &[(u64, R)],
    supports: &[(u64, S)],
    standards: &Standards,
    unit_validity: U,
) -> Result<Vec<RowCommand>, Vec<RowError>>
where
    R: Borrow<ReviewRow>,
    S: Borrow<SupportRow>,
    U: Fn(&str, NaiveDate) -> Option<UnitValidity>,
{
    let mut errors = Vec::new();
    let Some((first_line, first)) = reviews.iter().min_by_key(|(line, _)| *line) else {
        let line = supports.iter().map(|(l, _)| *l).min().unwrap_or(0);
        return Err(vec![RowError::new(
            SUPPORTS,
            line,
            "household_key",
            "supports for a household that has no review row",
        )]);
    };
    let first: &ReviewRow = first.borrow();
    let key = first.household_key.trim();
    if key.is_empty() {
        errors.push(RowError::new(
            REVIEWS,
            *first_line,
            "household_key",
            "must not be empty",
        ));
    }
    for (line, row) in reviews {
        let row: &ReviewRow = row.borrow();
        if row.household_key.trim() != key {
            errors.push(RowError::new(
                REVIEWS,
                *line,
                "household_key",
                format!(
                    "{:?} is not the household {key:?} of the other rows",
                    row.household_key
                ),
            ));
        }
    }
    for (line, row) in supports {
        let row: &SupportRow = row.borrow();
        if row.household_key.trim() != key {
            errors.push(RowError::new(
                SUPPORTS,
                *line,
                "household_key",
                format!(
                    "{:?} is not the household {key:?} of its review rows",
                    row.household_key
                ),
            ));
        }
    }

    // Review rows, each a survey and maybe a decision.
    let mut parsed_reviews: Vec<(u64, NaiveDate, Vec<HouseholdCommand>)> = Vec::new();
    for (line, row) in reviews {
        let mut cells = Cells::new(REVIEWS, *line, &mut errors);
        if let Some((date, commands)) = review_commands(row.borrow(), standards, &mut cells) {
            parsed_reviews.push((*line, date, commands));
        }
    }
    parsed_reviews.sort_by_key(|(line, date, _)| (*date, *line));

    let register = {
        let mut cells = Cells::new(REVIEWS, *first_line, &mut errors);
        let earliest = parsed_reviews.first().map(|(_, date, _)| *date);
        register_command(first, earliest, &unit_validity, &mut cells)
    };

    let mut parsed_supports: Vec<(u64, NaiveDate, HouseholdCommand)> = Vec::new();
    for (line, row) in supports {
        let mut cells = Cells::new(SUPPORTS, *line, &mut errors);
        if let Some(support) = support_command(row.borrow(), &mut cells) {
            let on = support.disbursed_on;
            parsed_supports.push((*line, on, HouseholdCommand::RecordSupport(support)));
        }
    }
    parsed_supports.sort_by_key(|(line, date, _)| (*date, *line));

    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.sheet != REVIEWS, e.line));
        return Err(errors);
    }
    let Some(register) = register else {
        return Err(vec![RowError::new(
            REVIEWS,
            *first_line,
            "row",
            "cannot be registered",
        )]);
    };
    let mut out = Vec::with_capacity(1 + parsed_reviews.len() * 2 + parsed_supports.len());
    out.push(RowCommand {
        sheet: REVIEWS,
        line: *first_line,
        command: register,
    });
    let mut pending = parsed_supports.into_iter().peekable();
    for (line, survey_date, commands) in parsed_reviews {
        while let Some((support_line, _, command)) =
            pending.next_if(|(_, disbursed_on, _)| *disbursed_on < survey_date)
        {
            out.push(RowCommand {
                sheet: SUPPORTS,
                line: support_line,
                command,
            });
        }
        out.extend(commands.into_iter().map(|command| RowCommand {
            sheet: REVIEWS,
            line,
            command,
        }));
    }
    out.extend(pending.map(|(line, _, command)| RowCommand {
        sheet: SUPPORTS,
        line,
        command,
    }));
    Ok(out)
}

/// Parses cells of one row, collecting errors.
struct Cells<'e> {
    sheet: &'static str,
    line: u64,
    errors: &'e mut Vec<RowError>,
}

impl<'e> Cells<'e> {
    fn new(sheet: &'static str, line: u64, errors: &'e mut Vec<RowError>) -> Self {
        Cells {
            sheet,
            line,
            errors,
        }
    }

    fn bad<T>(&mut self, field: &'static str, problem: impl Into<String>) -> Option<T> {
        self.errors
            .push(RowError::new(self.sheet, self.line, field, problem));
        None
    }

    fn required(&mut self, field: &'static str, value: &str) -> Option<String> {
        let value = value.trim();
        if value.is_empty() {
            self.bad(field, "must not be empty")
        } else {
            Some(value.to_owned())
        }
    }

    fn date(&mut self, field: &'static str, value: &str) -> Option<NaiveDate> {
        let value = value.trim();
        if value.is_empty() {
            return self.bad(field, "must not be empty (a date, YYYY-MM-DD)");
        }
        match parse_date(value) {
            Some(date) => Some(date),
            None => self.bad(
                field,
                format!("{value:?} is not a date (YYYY-MM-DD or DD/MM/YYYY)"),
            ),
        }
    }

    fn flag(&mut self, field: &'static str, value: &str, empty: bool) -> Option<bool> {
        if value.trim().is_empty() {
            return Some(empty);
        }
        match parse_bool(value) {
            Some(b) => Some(b),
            None => self.bad(field, format!("{value:?} is not yes or no")),
        }
    }

    fn vnd(&mut self, field: &'static str, value: &str) -> Option<Vnd> {
        match parse_vnd(value) {
            Some(v) => Some(v),
            None => self.bad(
                field,
                format!("{value:?} is not a whole amount of VND of at least 0"),
            ),
        }
    }
}

/// A date as spreadsheets write it: `YYYY-MM-DD`, `DD/MM/YYYY` (also with `-` or `.`, and one-
/// digit days and months), or an ISO date-time.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    // chrono takes short years ("22" as the year 22); a review date has four digits.
    let four_digit_year = |d: &NaiveDate| (1000..=9999).contains(&d.year());
    for format in ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(value, format) {
            return Some(date).filter(four_digit_year);
        }
    }
    // `2022-10-05T00:00:00`, `2022-10-05 00:00:00`.
    let head = value.get(..10)?;
    let rest = value.get(10..)?;
    if rest.starts_with(['T', ' ']) {
        return NaiveDate::parse_from_str(head, "%Y-%m-%d")
            .ok()
            .filter(four_digit_year);
    }
    None
}

/// `yes`/`no`, `true`/`false`, `1`/`0`, `x` (yes), `có`/`không` (and `c`/`k`), any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match fold(value).as_str() {
        "yes" | "y" | "true" | "1" | "x" | "co" | "c" => Some(true),
        "no" | "n" | "false" | "0" | "khong" | "k" => Some(false),
        _ => None,
    }
}

/// `rural`/`urban`, `nông thôn`/`thành thị`.
pub fn parse_area(value: &str) -> Option<Area> {
    match fold(value).replace(['-', '_'], " ").as_str() {
        "rural" | "nong thon" => Some(Area::Rural),
        "urban" | "thanh thi" => Some(Area::Urban),
        _ => None,
    }
}

/// A whole amount of VND: digits, optionally grouped by thousands with `,` `.` or spaces.
pub fn parse_vnd(value: &str) -> Option<Vnd> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let grouped: Vec<&str> = value.split([',', '.', ' ', '\u{a0}', '_']).collect();
    let digits = if grouped.len() == 1 {
        value.to_owned()
    } else {
        let well_grouped = grouped.iter().enumerate().all(|(i, g)| {
            if i == 0 {
                (1..=3).contains(&g.len())
            } else {
                g.len() == 3
            }
        });
        if !well_grouped {
            return None;
        }
        grouped.concat()
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: i64 = digits.parse().ok()?;
    Vnd::new(amount).ok()
}

/// `poor`, `near_poor`, `middle_income`, `not_poor` (any case, `-` or space for `_`), or the
/// Vietnamese names (`hộ nghèo`, `cận nghèo`, `mức sống trung bình`, `không nghèo`).
pub fn parse_category(value: &str) -> Option<Category> {
    let folded = fold(value).replace(['-', ' '], "_");
    if let Some(category) = Category::parse(&folded) {
        return Some(category);
    }
    let folded = folded.strip_prefix("ho_").unwrap_or(&folded);
    let folded = folded.strip_prefix("co_").unwrap_or(folded);
    match folded {
        "ngheo" => Some(Category::Poor),
        "can_ngheo" => Some(Category::NearPoor),
        "trung_binh" | "muc_song_trung_binh" => Some(Category::MiddleIncome),
        "khong_ngheo" => Some(Category::NotPoor),
        _ => None,
    }
}

fn parse_sex(value: &str) -> Option<Sex> {
    match fold(value).as_str() {
        "male" | "m" | "nam" => Some(Sex::Male),
        "female" | "f" | "nu" => Some(Sex::Female),
        _ => None,
    }
}

/// A contract name (`preferential_credit`) or a Vietnamese one (`tín dụng ưu đãi`).
pub fn parse_policy(value: &str) -> Option<Policy> {
    let folded = fold(value).replace(['-', ' '], "_");
    if let Ok(policy) = serde_json::from_value(serde_json::Value::String(folded.clone())) {
        return Some(policy);
    }
    Some(match folded.as_str() {
        "tin_dung_uu_dai" | "vay_von" | "vay_uu_dai" => Policy::PreferentialCredit,
        "bhyt" | "bao_hiem_y_te" => Policy::HealthInsurance,
        "giao_duc" | "ho_tro_giao_duc" | "mien_giam_hoc_phi" => Policy::Education,
        "nha_o" | "ho_tro_nha_o" | "xoa_nha_tam" => Policy::Housing,
        "tro_giup_phap_ly" => Policy::LegalAid,
        "nuoc_sach" | "nuoc_sach_ve_sinh" => Policy::CleanWater,
        "tien_dien" | "ho_tro_tien_dien" => Policy::ElectricitySubsidy,
        "tro_cap_hang_thang" => Policy::MonthlyAllowance,
        "tro_giup_dot_xuat" => Policy::EmergencyAid,
        "dao_tao_nghe" => Policy::VocationalTraining,
        "viec_lam" | "gioi_thieu_viec_lam" => Policy::JobPlacement,
        "sinh_ke" | "ho_tro_san_xuat" => Policy::Livelihood,
        "khac" => Policy::Other,
        _ => return None,
    })
}

/// A contract name (`central_budget`) or a Vietnamese one (`ngân sách trung ương`).
pub fn parse_funding_source(value: &str) -> Option<FundingSource> {
    let folded = fold(value).replace(['-', ' '], "_");
    if let Ok(source) = serde_json::from_value(serde_json::Value::String(folded.clone())) {
        return Some(source);
    }
    Some(match folded.as_str() {
        "ngan_sach_trung_uong" | "nstw" => FundingSource::CentralBudget,
        "ngan_sach_dia_phuong" | "nsdp" => FundingSource::LocalBudget,
        "huy_dong" | "xa_hoi_hoa" | "von_huy_dong" => FundingSource::Mobilized,
        "khac" | "nguon_khac" => FundingSource::Other,
        _ => return None,
    })
}

/// An indicator as typed: lowercase, `-` and spaces as `_`.
fn indicator_name(value: &str) -> String {
    value.trim().to_lowercase().replace(['-', ' '], "_")
}

/// Members: `name/birth_year/sex/relation/id_number` separated by `;` (or new lines);
/// relation and ID number may be empty or left out.
fn parse_members(value: &str, cells: &mut Cells<'_>) -> Option<Vec<Member>> {
    const FIELD: &str = "members";
    let mut members = Vec::new();
    let mut ok = true;
    for (index, text) in value
        .split([';', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .enumerate()
    {
        let n = index + 1;
        let parts: Vec<&str> = text.split('/').map(str::trim).collect();
        if !(3..=5).contains(&parts.len()) {
            ok = false;
            cells.bad::<()>(
                FIELD,
                format!("member {n} {text:?} is not name/birth_year/sex/relation/id_number"),
            );
            continue;
        }
        let name = parts[0];
        let birth_year = parts[1].parse::<i32>().ok();
        let sex = parse_sex(parts[2]);
        if name.is_empty() {
            ok = false;
            cells.bad::<()>(FIELD, format!("member {n} has no name"));
        }
        if birth_year.is_none() {
            ok = false;
            cells.bad::<()>(
                FIELD,
                format!("member {n}: {:?} is not a birth year", parts[1]),
            );
        }
        if sex.is_none() {
            ok = false;
            cells.bad::<()>(
                FIELD,
                format!("member {n}: {:?} is not male or female", parts[2]),
            );
        }
        if let (Some(birth_year), Some(sex)) = (birth_year, sex) {
            members.push(Member {
                name: name.to_owned(),
                birth_year,
                sex,
                relation: parts.get(3).copied().unwrap_or_default().to_owned(),
                id_number: parts
                    .get(4)
                    .copied()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            });
        }
    }
    if !ok {
        return None;
    }
    if members.is_empty() {
        return cells.bad(FIELD, "must name at least one member");
    }
    Some(members)
}

fn register_command<U>(
    row: &ReviewRow,
    earliest_survey: Option<NaiveDate>,
    unit_validity: &U,
    cells: &mut Cells<'_>,
) -> Option<HouseholdCommand>
where
    U: Fn(&str, NaiveDate) -> Option<UnitValidity>,
{
    let head_name = cells.required("head_name", &row.head_name);
    let unit_code = cells.required("unit_code", &row.unit_code);
    let area = match parse_area(&row.area) {
        Some(area) => Some(area),
        None => cells.bad("area", format!("{:?} is not rural or urban", row.area)),
    };
    let ethnic_minority = cells.flag("ethnic_minority", &row.ethnic_minority, false);
    let merit_family = cells.flag("merit_family", &row.merit_family, false);
    let members = parse_members(&row.members, cells);
    let registered_on = if row.registered_on.trim().is_empty() {
        earliest_survey
    } else {
        cells.date("registered_on", &row.registered_on)
    };
    let (Some(unit_code), Some(registered_on)) = (unit_code, registered_on) else {
        return None;
    };
    let unit = unit_validity(&unit_code, registered_on);
    // The aggregate refuses it too; checked here so the row is named with the column.
    if let Err(refused) = placement(&unit_code, unit, registered_on) {
        return cells.bad("unit_code", refused.to_string());
    }
    Some(HouseholdCommand::Register {
        registration: HouseholdRegistered {
            head_name: head_name?,
            unit_code,
            hamlet: row.hamlet.trim().to_owned(),
            area: area?,
            ethnic_minority: ethnic_minority?,
            merit_family: merit_family?,
            members: members?,
        },
        effective_on: registered_on,
        unit,
    })
}

/// The survey date and the survey (and decision) commands of a review row.
fn review_commands(
    row: &ReviewRow,
    standards: &Standards,
    cells: &mut Cells<'_>,
) -> Option<(NaiveDate, Vec<HouseholdCommand>)> {
    let period = cells.required("period", &row.period);
    let survey_date = cells.date("survey_date", &row.survey_date);
    let income = if row.income_per_capita_vnd.trim().is_empty() {
        cells.bad("income_per_capita_vnd", "must not be empty")
    } else {
        cells.vnd("income_per_capita_vnd", &row.income_per_capita_vnd)
    };
    let working_capacity = cells.flag("working_capacity", &row.working_capacity, true);
    let loan_demand = cells.flag("loan_demand", &row.loan_demand, false);
    let surveyor = cells.required("surveyor", &row.surveyor);
    let in_force = survey_date.map(|d| standards.in_force_on(d));
    if let (Some(date), Some(in_force)) = (survey_date, &in_force) {
        if in_force.is_empty() {
            cells.bad::<()>(
                "survey_date",
                format!("no poverty standard is in force on {date}"),
            );
        }
    }

    let mut deprivations = Vec::new();
    let mut seen = BTreeSet::new();
    for name in row
        .deprivations
        .split([',', ';'])
        .map(indicator_name)
        .filter(|n| !n.is_empty())
    {
        if let Some(in_force) = &in_force {
            if !in_force.is_empty() && !in_force.iter().any(|s| s.has_indicator(&name)) {
                let ids: Vec<&str> = in_force.iter().map(|s| s.id()).collect();
                cells.bad::<()>(
                    "deprivations",
                    format!("{name} is not an indicator of {}", ids.join(", ")),
                );
                continue;
            }
        }
        if !seen.insert(name.clone()) {
            cells.bad::<()>("deprivations", format!("{name} is listed more than once"));
            continue;
        }
        deprivations.push(name);
    }

    // The decision, when the row carries one.
    let decision_given = [
        &row.standard,
        &row.category,
        &row.decision_no,
        &row.decided_on,
    ]
    .iter()
    .any(|c| !c.trim().is_empty());
    let decision = if decision_given {
        decision_command(row, survey_date, in_force.as_deref(), standards, cells)
    } else {
        Some(None)
    };

    let survey = SurveyInput {
        period: period?,
        survey_date: survey_date?,
        income_per_capita_vnd: income?,
        deprivations,
        measures: Default::default(),
        working_capacity: working_capacity?,
        loan_demand: loan_demand?,
        cause_of_poverty: Some(row.cause_of_poverty.trim().to_owned()).filter(|c| !c.is_empty()),
        surveyor: surveyor?,
    };
    let meeting = meeting_command(row, cells);
    let posted = posting_dates(row, cells);
    let decision = decision?;
    let meeting = meeting?;
    posted?;
    if in_force.as_ref().is_some_and(Vec::is_empty) {
        return None;
    }
    let date = survey.survey_date;
    // `survey.into_command(standards)` with the standards in force already looked up (they are
    // cloned into the command, and they are not small).
    let standards = in_force.unwrap_or_else(|| standards.in_force_on(date));
    let mut commands = vec![HouseholdCommand::Survey { survey, standards }];
    commands.extend(meeting);
    commands.extend(decision);
    Some((date, commands))
}

/// `Some(Some(meeting))` when the row carries a village meeting, `Some(None)` when it carries
/// none, `None` when a cell is bad. The meeting's hamlet is the row's.
fn meeting_command(row: &ReviewRow, cells: &mut Cells<'_>) -> Option<Option<HouseholdCommand>> {
    let given = [
        &row.meeting_held_on,
        &row.meeting_attendees,
        &row.meeting_votes_for,
        &row.meeting_votes_against,
        &row.meeting_minutes_no,
    ]
    .iter()
    .any(|c| !c.trim().is_empty());
    if !given {
        return Some(None);
    }
    let held_on = cells.date("meeting_held_on", &row.meeting_held_on);
    let mut count = |field: &'static str, value: &str| match value.trim().parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => cells.bad(field, format!("{value:?} is not a whole number")),
    };
    let attendees = count("meeting_attendees", &row.meeting_attendees);
    let votes_for = count("meeting_votes_for", &row.meeting_votes_for);
    let votes_against = count("meeting_votes_against", &row.meeting_votes_against);
    let minutes_no = cells.required("meeting_minutes_no", &row.meeting_minutes_no);
    Some(Some(HouseholdCommand::HoldMeeting(MeetingInput {
        period: row.period.trim().to_owned(),
        held_on: held_on?,
        hamlet: row.hamlet.trim().to_owned(),
        attendees: attendees?,
        votes_for: votes_for?,
        votes_against: votes_against?,
        minutes_no: minutes_no?,
    })))
}

/// The row's posting dates, both or neither, `posted_to` not before `posted_from` (the
/// posting's own rule, `ansinh_events::posting::check_period`); the postings themselves are
/// written after the households (see `run`).
fn posting_dates(row: &ReviewRow, cells: &mut Cells<'_>) -> Option<Option<(NaiveDate, NaiveDate)>> {
    match (
        row.posted_from.trim().is_empty(),
        row.posted_to.trim().is_empty(),
    ) {
        (true, true) => Some(None),
        (false, true) => cells.bad("posted_to", "must be given with posted_from"),
        (true, false) => cells.bad("posted_from", "must be given with posted_to"),
        (false, false) => {
            let from = cells.date("posted_from", &row.posted_from);
            let to = cells.date("posted_to", &row.posted_to);
            let (from, to) = (from?, to?);
            if let Err(refused) = ansinh_events::posting::check_period(from, to) {
                return cells.bad(refused.field().unwrap_or("posted_to"), refused.to_string());
            }
            Some(Some((from, to)))
        }
    }
}

/// `Some(Some(decide))`, or `None` when a cell is bad.
fn decision_command(
    row: &ReviewRow,
    survey_date: Option<NaiveDate>,
    in_force: Option<&[ansinh_events::Standard]>,
    standards: &Standards,
    cells: &mut Cells<'_>,
) -> Option<Option<HouseholdCommand>> {
    let standard_id = row.standard.trim();
    let standard = if standard_id.is_empty() {
        match in_force {
            Some([only]) => Some(only.clone()),
            Some(_) => cells.bad(
                "standard",
                "must name the standard of the decision (none or several are in force on the survey date)",
            ),
            None => None,
        }
    } else {
        match standards.get(standard_id) {
            Some(s) => Some(s.clone()),
            None => {
                let known: Vec<&str> = standards.ids().collect();
                cells.bad(
                    "standard",
                    format!(
                        "{standard_id:?} is not a known standard ({})",
                        known.join(", ")
                    ),
                )
            }
        }
    };
    if let (Some(s), Some(date)) = (&standard, survey_date) {
        if !s.in_force_on(date) {
            cells.bad::<()>(
                "standard",
                format!("{} is not in force on the survey date {date}", s.id()),
            );
        }
    }
    let category = if row.category.trim().is_empty() {
        cells.bad(
            "category",
            "must not be empty when the row carries a decision",
        )
    } else {
        match parse_category(&row.category) {
            Some(c) => Some(c),
            None => cells.bad(
                "category",
                format!(
                    "{:?} is not poor, near_poor, middle_income or not_poor",
                    row.category
                ),
            ),
        }
    };
    if let (Some(s), Some(c)) = (&standard, category) {
        if let Err(refused) = ansinh_events::household::category_of(s, c) {
            cells.bad::<()>(refused.field().unwrap_or("category"), refused.to_string());
        }
    }
    let decision_no = cells.required("decision_no", &row.decision_no);
    let decided_on = cells.date("decided_on", &row.decided_on);
    let reason = Some(row.decision_reason.trim().to_owned()).filter(|r| !r.is_empty());
    Some(Some(HouseholdCommand::Decide {
        standard: standard?,
        decision: DecisionInput {
            category: category?,
            decision_no: decision_no?,
            decided_on: decided_on?,
            reason,
        },
    }))
}

fn support_command(row: &SupportRow, cells: &mut Cells<'_>) -> Option<SupportReceived> {
    let policy = match parse_policy(&row.policy) {
        Some(p) => Some(p),
        None if row.policy.trim().is_empty() => cells.bad("policy", "must not be empty"),
        None => cells.bad("policy", format!("{:?} is not a known policy", row.policy)),
    };
    let amount = if row.amount_vnd.trim().is_empty() {
        Some(Vnd::ZERO)
    } else {
        cells.vnd("amount_vnd", &row.amount_vnd)
    };
    let in_kind = Some(row.in_kind.trim().to_owned()).filter(|s| !s.is_empty());
    if amount == Some(Vnd::ZERO) && in_kind.is_none() {
        cells.bad::<()>(
            "amount_vnd",
            "a support needs an amount above 0 or an in-kind description",
        );
    }
    let funding_source = match parse_funding_source(&row.funding_source) {
        Some(s) => Some(s),
        None if row.funding_source.trim().is_empty() => {
            cells.bad("funding_source", "must not be empty")
        }
        None => cells.bad(
            "funding_source",
            format!(
                "{:?} is not central_budget, local_budget, mobilized or other",
                row.funding_source
            ),
        ),
    };
    let disbursed_on = cells.date("disbursed_on", &row.disbursed_on);
    let disbursed_by = cells.required("disbursed_by", &row.disbursed_by);
    let decision_no = cells.required("decision_no", &row.decision_no);
    Some(SupportReceived {
        policy: policy?,
        amount_vnd: amount?,
        in_kind,
        funding_source: funding_source?,
        fund_id: Some(row.fund_id.trim().to_owned()).filter(|s| !s.is_empty()),
        disbursed_on: disbursed_on?,
        disbursed_by: disbursed_by?,
        decision_no: decision_no?,
        recipient_member: Some(row.recipient_member.trim().to_owned()).filter(|s| !s.is_empty()),
        override_reason: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn units(code: &str, _on: NaiveDate) -> Option<UnitValidity> {
        (code == "25459").then(|| UnitValidity {
            valid_from: d("2000-01-01"),
            valid_to: Some(d("2025-06-30")),
            commune: true,
        })
    }

    fn review(period: &str, survey: &str, category: &str, decided: &str) -> ReviewRow {
        ReviewRow {
            household_key: "H1".into(),
            head_name: "Nguyễn Văn An".into(),
            unit_code: "25459".into(),
            hamlet: "Khu phố 3".into(),
            area: "urban".into(),
            ethnic_minority: "không".into(),
            merit_family: "".into(),
            registered_on: "20/08/2021".into(),
            members: "Nguyễn Văn An/1970/male/head/072070123456; Lê Thị Bé/1972/nữ/spouse/".into(),
            period: period.into(),
            survey_date: survey.into(),
            income_per_capita_vnd: "1.200.000".into(),
            deprivations: "health_insurance; housing_area, hygienic_latrine".into(),
            working_capacity: "x".into(),
            loan_demand: "có".into(),
            cause_of_poverty: "Thiếu vốn".into(),
            surveyor: "Trần Thị Cúc".into(),
            standard: "vn-2022-2025".into(),
            category: category.into(),
            decision_no: "215/QĐ-UBND".into(),
            decided_on: decided.into(),
            decision_reason: "".into(),
            ..ReviewRow::default()
        }
    }

    fn support(on: &str) -> SupportRow {
        SupportRow {
            household_key: "H1".into(),
            policy: "health_insurance".into(),
            amount_vnd: "804600".into(),
            in_kind: "".into(),
            funding_source: "central_budget".into(),
            fund_id: "".into(),
            disbursed_on: on.into(),
            disbursed_by: "UBND phường 3".into(),
            decision_no: "12/QĐ-UBND".into(),
            recipient_member: "Lê Thị Bé".into(),
        }
    }

    fn kinds(commands: &[HouseholdCommand]) -> Vec<String> {
        commands
            .iter()
            .map(|c| match c {
                HouseholdCommand::Register { .. } => "register".to_owned(),
                HouseholdCommand::Survey { survey, .. } => format!("survey {}", survey.survey_date),
                HouseholdCommand::Decide { decision, .. } => {
                    format!("decide {}", decision.decided_on)
                }
                HouseholdCommand::RecordSupport(s) => format!("support {}", s.disbursed_on),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn rows_become_commands_in_date_order_with_supports_merged_in() {
        let standards = Standards::builtin().unwrap();
        let reviews = vec![
            (2, review("2023-annual", "2023-10-01", "poor", "2023-12-01")),
            (
                3,
                review("2022-annual", "05/10/2022", "hộ nghèo", "2022-12-01"),
            ),
        ];
        let supports = vec![
            (2, support("2023-12-01")),
            (3, support("2022-12-20")),
            (4, support("2022-11-01")),
        ];
        let commands = commands_for(&reviews, &supports, &standards, units).unwrap();
        assert_eq!(
            kinds(&commands),
            [
                "register",
                "survey 2022-10-05",
                "decide 2022-12-01",
                "support 2022-11-01",
                "support 2022-12-20",
                "survey 2023-10-01",
                "decide 2023-12-01",
                "support 2023-12-01",
            ]
        );
        let HouseholdCommand::Register {
            registration,
            effective_on,
            unit,
        } = &commands[0]
        else {
            panic!("register first");
        };
        assert_eq!(*effective_on, d("2021-08-20"));
        assert!(unit.is_some());
        assert_eq!(registration.area, Area::Urban);
        assert_eq!(registration.members.len(), 2);
        assert_eq!(registration.members[1].sex, Sex::Female);
        assert_eq!(registration.members[1].id_number, None);
        let HouseholdCommand::Survey { survey, standards } = &commands[1] else {
            panic!("survey");
        };
        assert_eq!(survey.income_per_capita_vnd.get(), 1_200_000);
        assert_eq!(survey.deprivations.len(), 3);
        assert!(survey.loan_demand && survey.working_capacity);
        assert_eq!(standards.len(), 1);
    }

    #[test]
    fn bad_cells_are_named_by_line_and_column() {
        let standards = Standards::builtin().unwrap();
        let mut bad = review("2022-annual", "2022-13-01", "rich", "2022-12-01");
        bad.income_per_capita_vnd = "1,2".into();
        bad.deprivations = "housing_area, flying".into();
        let good = review("2023-annual", "2023-10-01", "poor", "2023-12-01");
        let mut bad_support = support("2023-12-20");
        bad_support.policy = "gift".into();
        let errors = row_commands(
            &[(2, good), (7, bad)],
            &[(5, bad_support)],
            &standards,
            units,
        )
        .unwrap_err();
        let named: Vec<(&str, u64, &str)> =
            errors.iter().map(|e| (e.sheet, e.line, e.field)).collect();
        assert!(named.contains(&("reviews", 7, "survey_date")), "{errors:?}");
        assert!(
            named.contains(&("reviews", 7, "income_per_capita_vnd")),
            "{errors:?}"
        );
        assert!(named.contains(&("reviews", 7, "category")), "{errors:?}");
        assert!(named.contains(&("supports", 5, "policy")), "{errors:?}");
        assert_eq!(errors.last().unwrap().sheet, "supports");
        assert!(errors[0].to_string().starts_with("reviews line 7: "));
    }

    #[test]
    fn unknown_units_and_indicators_are_refused_with_their_column() {
        let standards = Standards::builtin().unwrap();
        let mut row = review("2022-annual", "2022-10-01", "poor", "2022-12-01");
        row.unit_code = "99999".into();
        row.deprivations = "health_service_access".into(); // vn-2016-2020 only
        let errors =
            row_commands(&[(4, row)], &[] as &[(u64, SupportRow)], &standards, units).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["deprivations", "unit_code"], "{errors:?}");
    }

    #[test]
    fn a_row_with_a_meeting_holds_it_between_survey_and_decision_and_bad_cells_are_named() {
        let standards = Standards::builtin().unwrap();
        let mut row = review("2022-annual", "2022-10-01", "poor", "2022-12-01");
        row.meeting_held_on = "20/10/2022".into();
        row.meeting_attendees = "40".into();
        row.meeting_votes_for = "30".into();
        row.meeting_votes_against = "5".into();
        row.meeting_minutes_no = "07/BB".into();
        row.posted_from = "2022-11-01".into();
        row.posted_to = "2022-11-04".into();
        let commands = commands_for(
            &[(2, row.clone())],
            &[] as &[(u64, SupportRow)],
            &standards,
            units,
        )
        .unwrap();
        let HouseholdCommand::HoldMeeting(m) = &commands[2] else {
            panic!("{:?}", kinds(&commands));
        };
        assert_eq!(
            (m.held_on, m.attendees, m.votes_for),
            (d("2022-10-20"), 40, 30)
        );
        assert_eq!(m.hamlet, "Khu phố 3");
        assert!(matches!(commands[3], HouseholdCommand::Decide { .. }));

        row.meeting_attendees = "bốn mươi".into();
        row.posted_to = "2022-10-30".into();
        let errors =
            row_commands(&[(2, row)], &[] as &[(u64, SupportRow)], &standards, units).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["meeting_attendees", "posted_to"], "{errors:?}");
        // The domain's rule, in the domain's words.
        assert_eq!(
            errors[1].problem,
            ansinh_events::posting::check_period(d("2022-11-01"), d("2022-10-30"))
                .unwrap_err()
                .to_string()
        );
    }

    #[test]
    fn a_category_outside_the_standard_is_refused_in_the_domain_s_words() {
        let standards = Standards::builtin().unwrap();
        let mut row = review("2026-annual", "2026-03-02", "middle_income", "2026-04-01");
        row.standard = "vn-2026-2030".into();
        let errors =
            row_commands(&[(3, row)], &[] as &[(u64, SupportRow)], &standards, units).unwrap_err();
        let standard = standards.get("vn-2026-2030").unwrap();
        let refused =
            ansinh_events::household::category_of(standard, Category::MiddleIncome).unwrap_err();
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.field, e.problem.clone()))
                .collect::<Vec<_>>(),
            [("category", refused.to_string())],
            "{errors:?}"
        );
    }

    #[test]
    fn cells_parse_the_spellings_people_type() {
        assert_eq!(parse_date("2022-10-05"), Some(d("2022-10-05")));
        assert_eq!(parse_date("5/10/2022"), Some(d("2022-10-05")));
        assert_eq!(parse_date("05-10-2022"), Some(d("2022-10-05")));
        assert_eq!(parse_date("2022-10-05T00:00:00"), Some(d("2022-10-05")));
        assert_eq!(parse_date("10/05/22"), None);
        assert_eq!(parse_date("yesterday"), None);
        for yes in ["yes", "TRUE", "1", "x", "Có", "co"] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["no", "false", "0", "Không", "khong"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        assert_eq!(parse_area("Nông thôn"), Some(Area::Rural));
        assert_eq!(parse_area("thành thị"), Some(Area::Urban));
        assert_eq!(parse_vnd("1450000").map(Vnd::get), Some(1_450_000));
        assert_eq!(parse_vnd("1,450,000").map(Vnd::get), Some(1_450_000));
        assert_eq!(parse_vnd("1.450.000").map(Vnd::get), Some(1_450_000));
        assert_eq!(parse_vnd("1450000.5"), None);
        assert_eq!(parse_vnd("-5"), None);
        assert_eq!(parse_category("near-poor"), Some(Category::NearPoor));
        assert_eq!(parse_category("Hộ cận nghèo"), Some(Category::NearPoor));
        assert_eq!(
            parse_category("Hộ có mức sống trung bình"),
            Some(Category::MiddleIncome)
        );
        assert_eq!(parse_category("không nghèo"), Some(Category::NotPoor));
        assert_eq!(
            parse_policy("Tín dụng ưu đãi"),
            Some(Policy::PreferentialCredit)
        );
        assert_eq!(
            parse_policy("health_insurance"),
            Some(Policy::HealthInsurance)
        );
        assert_eq!(
            parse_funding_source("Ngân sách trung ương"),
            Some(FundingSource::CentralBudget)
        );
        assert_eq!(
            parse_funding_source("mobilized"),
            Some(FundingSource::Mobilized)
        );
    }

    #[test]
    fn a_refused_command_is_named_by_its_row() {
        let row = RowCommand {
            sheet: REVIEWS,
            line: 9,
            command: HouseholdCommand::Close(ansinh_events::household::HouseholdClosed {
                closed_on: d("2022-01-01"),
                reason: ansinh_events::household::ClosureReason::Dissolved,
                merged_into: None,
                note: None,
            }),
        };
        let e = RowError::from_domain(
            &row,
            &HouseholdError::ReasonRequired {
                proposed: Category::Poor,
                decided: Category::NearPoor,
            },
        );
        assert_eq!((e.line, e.field), (9, "decision_reason"));
        let e = RowError::from_domain(
            &row,
            &HouseholdError::FutureDate {
                field: "decided_on",
                date: d("2030-01-01"),
            },
        );
        assert_eq!(e.field, "decided_on");
    }
}
