//! Vietnamese names, hamlets and ID numbers for the synthetic province. All text is NFC.

use rand::Rng;

use ansinh_events::household::Sex;

/// Family names with their approximate shares in percent (southern Vietnam: Huỳnh and Võ are
/// the southern spellings of Hoàng and Vũ and dominate in Tây Ninh).
const FAMILY: &[(&str, f64)] = &[
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Huỳnh", 3.6),
    ("Hoàng", 1.4),
    ("Phan", 4.5),
    ("Võ", 2.9),
    ("Vũ", 1.0),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    // Others, 11.5% together.
    ("Trương", 1.6),
    ("Đoàn", 1.0),
    ("Lâm", 1.0),
    ("Mai", 0.8),
    ("Đinh", 0.8),
    ("Cao", 0.7),
    ("Lưu", 0.6),
    ("Tô", 0.6),
    ("Châu", 0.6),
    ("Thái", 0.5),
    ("Tạ", 0.5),
    ("La", 0.4),
    ("Quách", 0.4),
    ("Hà", 0.4),
    ("Tăng", 0.4),
    ("Kiều", 0.2),
    ("Lương", 0.4),
    ("Chung", 0.2),
];

/// Family names of the ethnic minorities of Tây Ninh (Khmer, Chăm, Hoa).
const FAMILY_KHMER: &[&str] = &["Thạch", "Danh", "Sơn", "Chau", "Kim", "Lâm"];
const FAMILY_CHAM: &[&str] = &["Sa", "Mã", "Hán", "Từ", "Ma"];
const FAMILY_HOA: &[&str] = &["Lâm", "Trương", "Quách", "Lý", "Mã", "Tăng", "Diệp", "Hứa"];

const MIDDLE_MALE: &[&str] = &[
    "Hữu", "Minh", "Thanh", "Quốc", "Công", "Đức", "Hoàng", "Ngọc", "Tấn", "Thành", "Trọng", "Duy",
    "Phước", "Thái", "Kim", "Anh",
];
const MIDDLE_FEMALE: &[&str] = &[
    "Ngọc", "Kim", "Thanh", "Thu", "Hồng", "Mỹ", "Bích", "Thúy", "Minh", "Phương", "Diễm", "Kiều",
    "Trúc", "Bảo",
];

const GIVEN_MALE: &[&str] = &[
    "An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Hiếu", "Hòa", "Khánh", "Long", "Minh", "Nam",
    "Phúc", "Phong", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Tiến", "Trung", "Tuấn",
    "Vinh", "Việt", "Lộc", "Lợi", "Nghĩa", "Nhân", "Phước", "Sang", "Thiện", "Toàn", "Tùng", "Hậu",
    "Danh", "Đạt", "Đức", "Huy", "Khoa", "Kiệt", "Bảo", "Hưng", "Trí", "Tín", "Thông", "Tân",
    "Thuận", "Hiền", "Quý",
];
const GIVEN_FEMALE: &[&str] = &[
    "Anh", "Bích", "Châu", "Diễm", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hồng", "Hương",
    "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quyên",
    "Thảo", "Thu", "Thủy", "Trang", "Trinh", "Tuyết", "Vân", "Xuân", "Yến", "Nhi", "Ngọc", "Hiền",
    "Lệ", "Trâm", "Uyên", "Vy", "Duyên", "Cúc", "Đào", "Huệ", "Lài",
];

/// Hamlet names of the southeast (ấp).
const HAMLETS: &[&str] = &[
    "Thạnh Hiệp",
    "Bình Phong",
    "Tân Định",
    "Suối Ngô",
    "Long Chẩn",
    "Trường Ân",
    "Phước Hội",
    "Bàu Sen",
    "Thạnh Trung",
    "Bình Thạnh",
    "Cây Xoài",
    "Trảng Sa",
    "Tân Lập",
    "Hòa Bình",
    "Lộc Thuận",
    "Ninh Hưng",
    "Xóm Mới",
    "Bến Kéo",
    "Rạch Sơn",
    "Hiệp Thạnh",
    "An Thới",
    "Long Khương",
    "Phước Đức",
    "Bình Hòa",
    "Tân Hòa",
    "Thanh Hòa",
    "Trà Võ",
    "Cẩm An",
    "Suối Đá",
    "Bàu Vừng",
    "Gò Chai",
    "Tầm Lanh",
    "Rạch Tre",
    "Bến Mương",
    "Thuận Tây",
    "Thuận Đông",
    "Long Phú",
    "Long Thuận",
    "Long Bình",
    "Phước Lợi",
    "Phước Tân",
    "Bình Lợi",
    "Bình Phú",
    "Tân Trung",
    "Tân Thuận",
    "Hội Thạnh",
    "Cầu Khởi",
    "Chà Là",
    "Trâm Vàng",
    "Rỗng Tượng",
    "Đá Hàng",
    "Ninh Lộc",
    "Lộc Tân",
    "Lộc Trung",
    "Thạnh Lợi",
    "Tân Tiến",
    "Hiệp Bình",
    "Phước Mỹ",
    "An Bình",
    "Trường Phước",
];

/// The ethnicity behind a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ethnicity {
    Kinh,
    Khmer,
    Cham,
    Hoa,
}

impl Ethnicity {
    /// An ethnic-minority group in the shares of Tây Ninh (Khmer first, then Chăm and Hoa).
    pub fn minority(rng: &mut impl Rng) -> Ethnicity {
        match rng.gen_range(0..100) {
            0..=54 => Ethnicity::Khmer,
            55..=79 => Ethnicity::Cham,
            _ => Ethnicity::Hoa,
        }
    }
}

/// Draws from `(item, weight)` pairs.
pub fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// An index below `len` (> 0), drawn the same on 32- and 64-bit platforms (rand draws a
/// `usize` range differently on each).
pub fn index(rng: &mut impl Rng, len: usize) -> usize {
    let len = u32::try_from(len).unwrap_or(u32::MAX).max(1);
    rng.gen_range(0..len) as usize
}

pub fn pick<'a>(rng: &mut impl Rng, items: &[&'a str]) -> &'a str {
    items[index(rng, items.len())]
}

pub fn family_name(rng: &mut impl Rng, ethnicity: Ethnicity) -> &'static str {
    match ethnicity {
        Ethnicity::Kinh => weighted(rng, FAMILY),
        Ethnicity::Khmer => pick(rng, FAMILY_KHMER),
        Ethnicity::Cham => pick(rng, FAMILY_CHAM),
        Ethnicity::Hoa => pick(rng, FAMILY_HOA),
    }
}

/// A full name with the given family name: older generations mostly carry Văn / Thị.
pub fn full_name(rng: &mut impl Rng, family: &str, sex: Sex, birth_year: i32) -> String {
    let traditional = if birth_year < 1975 {
        0.75
    } else if birth_year < 1995 {
        0.5
    } else {
        0.25
    };
    let (classic, middles, givens) = match sex {
        Sex::Male => ("Văn", MIDDLE_MALE, GIVEN_MALE),
        Sex::Female => ("Thị", MIDDLE_FEMALE, GIVEN_FEMALE),
    };
    let middle = if rng.gen_bool(traditional) {
        classic
    } else {
        pick(rng, middles)
    };
    let given = pick(rng, givens);
    format!("{family} {middle} {given}")
}

/// A random person's name (surveyors).
pub fn person_name(rng: &mut impl Rng) -> String {
    let sex = if rng.gen_bool(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    let family = family_name(rng, Ethnicity::Kinh);
    let year = rng.gen_range(1965..2000);
    full_name(rng, family, sex, year)
}

/// `count` distinct hamlets: `Ấp …` in a rural commune, `Khu phố N` in an urban one.
pub fn hamlets(rng: &mut impl Rng, urban: bool, count: usize) -> Vec<String> {
    if urban {
        return (1..=count).map(|n| format!("Khu phố {n}")).collect();
    }
    let numbered = rng.gen_bool(0.25);
    if numbered {
        return (1..=count).map(|n| format!("Ấp {n}")).collect();
    }
    let mut names: Vec<&str> = HAMLETS.to_vec();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count.min(names.len()) {
        let i = index(rng, names.len());
        out.push(format!("Ấp {}", names.swap_remove(i)));
    }
    out
}

/// Hands out 12-digit citizen ID numbers (CCCD): province code (`072`, `080`), a digit for sex
/// and century (0/1 male/female born 1900–1999, 2/3 born 2000–2099), the last two digits of the
/// birth year, then 6 digits, unique within each sex-century-year group.
#[derive(Debug)]
pub struct IdNumbers {
    next: std::collections::HashMap<(u8, i32), u32>,
    offset: u32,
    /// The province part of the number: 072 old Tây Ninh, 080 (old) Long An.
    province: &'static str,
}

impl IdNumbers {
    /// Numbers issued in old Tây Ninh (072).
    pub fn new(rng: &mut impl Rng) -> Self {
        IdNumbers::of_province(rng, "072")
    }

    /// Numbers issued in the province whose three-digit code is `province`.
    pub fn of_province(rng: &mut impl Rng, province: &'static str) -> Self {
        IdNumbers {
            next: Default::default(),
            offset: rng.gen_range(0..1_000_000),
            province,
        }
    }

    pub fn issue(&mut self, sex: Sex, birth_year: i32) -> String {
        let century = if birth_year >= 2000 { 2 } else { 0 };
        let digit = century
            + match sex {
                Sex::Male => 0,
                Sex::Female => 1,
            };
        let counter = self.next.entry((digit, birth_year)).or_insert(0);
        // 7919 is prime to 10^6, so the counter walks all 10^6 serials in a scrambled order,
        // starting at a different place in each group.
        let start = u64::from(self.offset)
            + u64::from(digit) * 104_729
            + u64::try_from(birth_year).unwrap_or(0) * 7_727;
        let serial = (u64::from(*counter) * 7919 + start) % 1_000_000;
        *counter += 1;
        format!(
            "{}{digit}{:02}{serial:06}",
            self.province,
            birth_year.rem_euclid(100)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn is_nfc(s: &str) -> bool {
        ansinh_events::text::nfc(s) == s
    }

    #[test]
    fn every_name_is_nfc() {
        let lists: [&[&str]; 8] = [
            FAMILY_KHMER,
            FAMILY_CHAM,
            FAMILY_HOA,
            MIDDLE_MALE,
            MIDDLE_FEMALE,
            GIVEN_MALE,
            GIVEN_FEMALE,
            HAMLETS,
        ];
        for name in lists
            .iter()
            .flat_map(|l| l.iter())
            .chain(FAMILY.iter().map(|(n, _)| n))
        {
            assert!(is_nfc(name), "{name}");
        }
    }

    #[test]
    fn family_names_come_in_their_shares() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 50_000;
        let nguyen = (0..n)
            .filter(|_| family_name(&mut rng, Ethnicity::Kinh) == "Nguyễn")
            .count();
        let share = nguyen as f64 / n as f64;
        assert!((0.36..0.40).contains(&share), "{share}");
    }

    #[test]
    fn id_numbers_encode_province_sex_century_and_year() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut ids = IdNumbers::new(&mut rng);
        let a = ids.issue(Sex::Female, 1978);
        assert_eq!(a.len(), 12);
        assert!(a.starts_with("072178"), "{a}");
        assert!(ids.issue(Sex::Male, 2003).starts_with("072203"));
        assert_ne!(ids.issue(Sex::Female, 1978), a);
    }
}
