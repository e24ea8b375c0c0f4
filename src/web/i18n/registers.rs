//! Texts of the re-poverty register, the disbursement trail and the movement report.

use super::Message;

pub const MESSAGES: &[Message] = &[];
