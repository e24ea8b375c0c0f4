//! Texts of the start page per role, the access log, verification and administration.

use super::Message;

pub const MESSAGES: &[Message] = &[];
