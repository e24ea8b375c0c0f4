//! Every text of the web pages, in Vietnamese and English, in one place. Templates read them
//! as `t.KEY`; a key missing here is an error when the page renders (strict undefined), and a
//! unit test checks that every key the templates use is here.

use std::collections::BTreeMap;

mod common;
mod forms;
mod households;
mod oversight;
mod registers;

use std::sync::OnceLock;

use crate::users::Role;

/// The cookie that remembers the language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "ansinh_lang";

/// The language of a page: Vietnamese unless `?lang=en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// The `lang` query parameter of `query` (`en` or `vi`; anything else is Vietnamese).
    pub fn from_query(query: Option<&str>) -> Lang {
        let lang = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned());
        match lang.as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    /// The language a request asks for: its `lang` query parameter, else the language it chose
    /// before (the [`LANG_COOKIE`]), else Vietnamese; and whether the query chose it (then the
    /// page remembers it).
    pub fn of_request(query: Option<&str>, headers: &axum::http::HeaderMap) -> (Lang, bool) {
        let asked = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned());
        if let Some(asked) = asked {
            return (Lang::from_code(&asked), true);
        }
        let remembered = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == LANG_COOKIE)
            .map(|(_, value)| Lang::from_code(value));
        (remembered.unwrap_or_default(), false)
    }

    fn from_code(code: &str) -> Lang {
        if code == "en" {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// The `Set-Cookie` value that remembers this language for a year.
    pub fn cookie(self) -> String {
        format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            self.code()
        )
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language (the switch on every page).
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// `path` in this language: `?lang=en` for English, nothing for Vietnamese (the default).
    pub fn link(self, path: &str) -> String {
        match self {
            Lang::Vi => path.to_owned(),
            Lang::En => format!("{path}?lang=en"),
        }
    }

    /// The text of `key`; the key itself if the catalogue lacks it (the test below keeps it
    /// from happening).
    pub fn text(self, key: &str) -> &'static str {
        all()
            .find(|(k, _, _)| *k == key)
            .map_or("", |&(_, vi, en)| match self {
                Lang::Vi => vi,
                Lang::En => en,
            })
    }

    /// Every text in this language, by key (what templates see as `t`), built once.
    pub fn messages(self) -> minijinja::Value {
        static VI: OnceLock<minijinja::Value> = OnceLock::new();
        static EN: OnceLock<minijinja::Value> = OnceLock::new();
        let cell = match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        };
        cell.get_or_init(|| {
            let texts: BTreeMap<&'static str, &'static str> = all()
                .map(|&(key, vi, en)| {
                    (
                        key,
                        match self {
                            Lang::Vi => vi,
                            Lang::En => en,
                        },
                    )
                })
                .collect();
            minijinja::Value::from_serialize(&texts)
        })
        .clone()
    }

    /// The name of a role in this language.
    pub fn role(self, role: Role) -> &'static str {
        self.text(&format!("role_{}", role.as_str()))
    }
}

/// Every catalogue, one per area of the site (a file each, so areas grow apart).
const CATALOGUES: &[&[Message]] = &[
    common::MESSAGES,
    households::MESSAGES,
    forms::MESSAGES,
    registers::MESSAGES,
    oversight::MESSAGES,
];

/// `(key, Vietnamese, English)`.
pub type Message = (&'static str, &'static str, &'static str);

fn all() -> impl Iterator<Item = &'static Message> {
    CATALOGUES.iter().flat_map(|c| c.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_text_is_there_in_both_languages() {
        let mut keys = std::collections::HashSet::new();
        for (key, vi, en) in all() {
            assert!(keys.insert(key), "{key} twice");
            assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{key}");
        }
        for role in Role::ALL {
            assert!(!Lang::Vi.role(role).is_empty(), "{role}");
            assert_ne!(Lang::Vi.role(role), Lang::En.role(role), "{role}");
        }
    }

    #[test]
    fn every_key_the_templates_use_is_in_the_catalogue() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/templates");
        for entry in std::fs::read_dir(&dir).expect("templates folder") {
            let path = entry.expect("template").path();
            let name = path.display().to_string();
            let source = std::fs::read_to_string(&path).expect("template text");
            for (i, _) in source.match_indices("t.") {
                let preceded = source[..i].chars().next_back();
                if preceded.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let key: String = source[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    all().any(|(k, _, _)| *k == key),
                    "{name} uses t.{key}, which the catalogue lacks"
                );
            }
        }
    }

    #[test]
    fn a_chosen_language_is_remembered_until_another_is_chosen() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(Lang::of_request(None, &headers), (Lang::Vi, false));
        assert_eq!(
            Lang::of_request(Some("lang=en"), &headers),
            (Lang::En, true)
        );
        headers.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("a=b; ansinh_lang=en"),
        );
        assert_eq!(
            Lang::of_request(Some("page=2"), &headers),
            (Lang::En, false)
        );
        assert_eq!(
            Lang::of_request(Some("lang=vi"), &headers),
            (Lang::Vi, true)
        );
    }

    #[test]
    fn only_en_switches_to_english() {
        assert_eq!(Lang::from_query(Some("lang=en")), Lang::En);
        assert_eq!(Lang::from_query(Some("x=1&lang=en")), Lang::En);
        assert_eq!(Lang::from_query(Some("lang=fr")), Lang::Vi);
        assert_eq!(Lang::from_query(None), Lang::Vi);
        assert_eq!(Lang::En.link("/login"), "/login?lang=en");
    }
}
