//! A posted form (`application/x-www-form-urlencoded`) and the plain conversions of its text
//! into JSON values. Nothing here judges a value: text that is not a number goes to the API
//! as text, and the API names the field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The pairs a form sent, in order.
#[derive(Debug, Default, Clone)]
pub struct Posted(Vec<(String, String)>);

impl Posted {
    pub fn parse(body: &[u8]) -> Posted {
        Posted(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`, trimmed, when given and not blank.
    pub fn trimmed(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether the checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Every value of `name` (ticked checkboxes of one group), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// What was typed, by name (the last of repeated names), to show the form again.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.0.iter().cloned().collect()
    }

    /// `name` as a JSON string into `body` when not blank (left out otherwise, so the API
    /// says what is missing).
    pub fn text_into(&self, body: &mut Map<String, Value>, name: &str) {
        if let Some(v) = self.trimmed(name) {
            body.insert(name.to_owned(), Value::String(v.to_owned()));
        }
    }

    /// `name` as a JSON integer into `body` (thousands separators `.` and spaces dropped, as
    /// amounts are written in Vietnam); text that is not a whole number goes as text.
    pub fn integer_into(&self, body: &mut Map<String, Value>, name: &str) {
        if let Some(v) = self.trimmed(name) {
            body.insert(name.to_owned(), integer(v));
        }
    }

    /// The checkbox `name` as a JSON boolean into `body`.
    pub fn flag_into(&self, body: &mut Map<String, Value>, name: &str) {
        body.insert(name.to_owned(), Value::Bool(self.checked(name)));
    }
}

/// `text` as a JSON integer when it is one (`1.500.000` and `1 500 000` are 1500000), else as
/// the text itself, which the API refuses by name.
pub fn integer(text: &str) -> Value {
    let digits: String = text
        .chars()
        .filter(|c| *c != '.' && !c.is_whitespace())
        .collect();
    match digits.parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(text.to_owned()),
    }
}

/// `text` as a JSON number when it is one (`12,5` is 12.5), else as the text itself.
pub fn decimal(text: &str) -> Value {
    match text.replace(',', ".").parse::<f64>() {
        Ok(n) if n.is_finite() => serde_json::Number::from_f64(n)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        _ => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_written_in_vietnam_and_anything_else_goes_as_text() {
        assert_eq!(integer("1.500.000"), Value::from(1_500_000));
        assert_eq!(integer(" 1 500 000 "), Value::from(1_500_000));
        assert_eq!(integer("-5"), Value::from(-5));
        assert_eq!(integer("1,5 triệu"), Value::from("1,5 triệu"));
        assert_eq!(decimal("7,5"), serde_json::json!(7.5));
        assert_eq!(decimal("nhiều"), Value::from("nhiều"));
    }

    #[test]
    fn blank_fields_are_left_out_and_checkboxes_are_booleans() {
        let posted = Posted::parse(b"a=+x+&b=&c=on&d=1&d=2&d=");
        let mut body = Map::new();
        posted.text_into(&mut body, "a");
        posted.text_into(&mut body, "b");
        posted.flag_into(&mut body, "c");
        posted.flag_into(&mut body, "e");
        assert_eq!(
            Value::Object(body),
            serde_json::json!({"a": "x", "c": true, "e": false})
        );
        assert_eq!(posted.all("d"), vec!["1", "2"]);
    }
}
