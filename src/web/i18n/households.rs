//! Texts of the register and the household page.

use super::Message;

pub const MESSAGES: &[Message] = &[];
