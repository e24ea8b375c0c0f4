//! The household event catalogue. Names are part of the outside contract.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Vnd;

/// Every fact that can be recorded about a household, stored as `{"type", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum HouseholdEvent {
    HouseholdRegistered(HouseholdRegistered),
    SupportReceived(SupportReceived),
}

impl HouseholdEvent {
    /// The contract name of this event (`household_registered`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            HouseholdEvent::HouseholdRegistered(_) => "household_registered",
            HouseholdEvent::SupportReceived(_) => "support_received",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Rural,
    Urban,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub birth_year: i32,
    pub sex: Sex,
    pub relation: String,
    pub id_number: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRegistered {
    pub head_name: String,
    pub unit_code: String,
    pub hamlet: String,
    pub area: Area,
    pub ethnic_minority: bool,
    /// Family of a person with merit (người có công).
    pub merit_family: bool,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    PreferentialCredit,
    HealthInsurance,
    Education,
    Housing,
    LegalAid,
    CleanWater,
    ElectricitySubsidy,
    MonthlyAllowance,
    EmergencyAid,
    VocationalTraining,
    JobPlacement,
    Livelihood,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundingSource {
    CentralBudget,
    LocalBudget,
    Mobilized,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportReceived {
    pub policy: Policy,
    pub amount_vnd: Vnd,
    pub in_kind: Option<String>,
    pub funding_source: FundingSource,
    pub fund_id: Option<String>,
    pub disbursed_on: NaiveDate,
    pub disbursed_by: String,
    pub recipient_member: Option<String>,
}
