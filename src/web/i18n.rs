//! Every text of the web pages, in Vietnamese and English, in one place. Templates read them
//! as `t.KEY`; a key missing here is an error when the page renders (strict undefined), and a
//! unit test checks that every key the templates use is here.

use std::collections::BTreeMap;

use crate::users::Role;

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
        MESSAGES
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or("", |&(_, vi, en)| match self {
                Lang::Vi => vi,
                Lang::En => en,
            })
    }

    /// Every text in this language, by key (what templates see as `t`).
    pub fn messages(self) -> BTreeMap<&'static str, &'static str> {
        MESSAGES
            .iter()
            .map(|&(key, vi, en)| {
                (
                    key,
                    match self {
                        Lang::Vi => vi,
                        Lang::En => en,
                    },
                )
            })
            .collect()
    }

    /// The name of a role in this language.
    pub fn role(self, role: Role) -> &'static str {
        self.text(&format!("role_{}", role.as_str()))
    }
}

/// `(key, Vietnamese, English)`. `{until}` and `{failures}` are filled in by the code.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("app_name", "An sinh — theo dõi hộ nghèo, hộ cận nghèo", "An sinh — poverty case tracking"),
    ("switch_language", "English", "Tiếng Việt"),
    ("sign_in", "Đăng nhập", "Sign in"),
    ("username", "Tên đăng nhập", "Username"),
    ("password", "Mật khẩu", "Password"),
    ("sign_out", "Đăng xuất", "Sign out"),
    ("signed_in_as", "Bạn đang đăng nhập", "You are signed in"),
    ("name", "Họ tên", "Name"),
    ("role", "Vai trò", "Role"),
    ("unit", "Đơn vị", "Unit"),
    ("error", "Lỗi", "Error"),
    ("refused_title", "Yêu cầu bị từ chối", "Request refused"),
    ("back_to_sign_in", "Về trang đăng nhập", "Back to sign-in"),
    ("error_username_missing", "Hãy nhập tên đăng nhập.", "Enter your username."),
    ("error_password_missing", "Hãy nhập mật khẩu.", "Enter your password."),
    (
        "error_wrong",
        "Tên đăng nhập hoặc mật khẩu không đúng.",
        "The username or the password is wrong.",
    ),
    (
        "error_locked",
        "Tài khoản này tạm bị khóa vì nhập sai mật khẩu {failures} lần liên tiếp. Hãy thử lại sau {until} (giờ Việt Nam).",
        "This account is locked after {failures} wrong passwords in a row. Try again after {until} (Vietnam time).",
    ),
    (
        "error_cross_site",
        "Biểu mẫu này không được gửi từ chính trang của hệ thống nên không được thực hiện.",
        "This form was not sent from this site's own pages, so nothing was done.",
    ),
    ("role_commune_officer", "Cán bộ cấp xã", "Commune officer"),
    ("role_district_officer", "Cán bộ cấp huyện", "District officer"),
    ("role_province_officer", "Cán bộ cấp tỉnh", "Province officer"),
    ("role_auditor", "Kiểm toán, thanh tra", "Auditor"),
    ("role_monitor", "Giám sát (Mặt trận Tổ quốc)", "Monitor (Fatherland Front)"),
    ("role_admin", "Quản trị", "Administrator"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_every_text_is_there_in_both_languages() {
        let mut keys = std::collections::HashSet::new();
        for (key, vi, en) in MESSAGES {
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
        for (name, source) in super::super::TEMPLATES {
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
                    MESSAGES.iter().any(|(k, _, _)| *k == key),
                    "{name} uses t.{key}, which the catalogue lacks"
                );
            }
        }
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
