//! Texts of the officers' forms: register, survey, decision, support, correction.

use super::Message;

pub const MESSAGES: &[Message] = &[];
