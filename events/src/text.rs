//! Vietnamese text as people type it: NFC for storage, a folded form for matching that ignores
//! case and diacritics ("nguyen van a" finds "Nguyễn Văn A", đ ↔ d).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The canonical stored form (NFC), trimmed.
pub fn nfc(text: &str) -> String {
    text.trim().nfc().collect()
}

/// Lowercase, without diacritics, `đ` as `d`, runs of whitespace as one space.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// `text` in ASCII for places that take nothing else (HTTP header values): diacritics dropped
/// as [`fold`] drops them, `đ`/`Đ` as `d`/`D`, case kept, any other non-ASCII letter as `?`.
pub fn ascii(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            c if c.is_whitespace() => ' ',
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folding_ignores_case_diacritics_and_d_bar() {
        assert_eq!(fold("Nguyễn Văn A"), "nguyen van a");
        assert_eq!(fold("  ĐẶNG   Thị Đào "), "dang thi dao");
        assert_eq!(fold("Huỳnh"), fold("Huynh"));
        // Decomposed input folds the same as precomposed.
        assert_eq!(fold("Nguye\u{0302}\u{0303}n"), "nguyen");
    }

    #[test]
    fn ascii_keeps_case_and_drops_only_diacritics() {
        assert_eq!(ascii("80 Tỉnh Tây Ninh"), "80 Tinh Tay Ninh");
        assert_eq!(
            ascii("Phường Tân Ninh (1682/NQ-UBTVQH15)"),
            "Phuong Tan Ninh (1682/NQ-UBTVQH15)"
        );
        assert_eq!(ascii("Đặng\tđào 漢"), "Dang dao ?");
    }

    #[test]
    fn nfc_composes_decomposed_names() {
        assert_eq!(nfc("Xa\u{0303} "), "Xã");
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(s in "\\PC{0,30}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once.clone());
        }
    }
}
