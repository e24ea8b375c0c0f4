//! Rural or urban: poverty lines differ between the two.

use serde::{Deserialize, Serialize};

/// Where a household lives for the purpose of the poverty lines (nông thôn / thành thị).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Rural,
    Urban,
}

impl Area {
    pub const ALL: [Area; 2] = [Area::Rural, Area::Urban];

    /// The contract name: `rural` or `urban`.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Rural => "rural",
            Area::Urban => "urban",
        }
    }

    /// Parses a contract name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Area> {
        match name {
            "rural" => Some(Area::Rural),
            "urban" => Some(Area::Urban),
            _ => None,
        }
    }
}

impl std::fmt::Display for Area {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
