//! Real people behind the records: names, countries, addresses, email addresses and phone
//! numbers, derived from a person number alone.
//!
//! Uniqueness is by construction, not by bookkeeping. Every email local part a person can
//! use holds exactly one run of digits, the person number (names, tags and domains hold no
//! digits), so two people never share an address, in any letter case. Every phone number's
//! national part encodes the person number in that country's numbering plan, so two people
//! never share a number (up to 40 million people per country). A shop holds each person at
//! most once, so both are unique within a shop.

use super::rng::{Rng, Stream};

/// A city with what an address there carries.
#[derive(Debug)]
pub struct City {
    pub name: &'static str,
    pub province: Option<&'static str>,
    pub province_code: Option<&'static str>,
    pub zip: &'static str,
}

const fn city(
    name: &'static str,
    province: Option<&'static str>,
    province_code: Option<&'static str>,
    zip: &'static str,
) -> City {
    City {
        name,
        province,
        province_code,
        zip,
    }
}

/// A country: its people, places and phone numbering.
#[derive(Debug)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
    pub currency: &'static str,
    pub locale: &'static str,
    pub first: &'static [&'static str],
    pub last: &'static [&'static str],
    /// Names in the local script, aligned with `first` / `last` (Japanese).
    pub first_local: &'static [&'static str],
    pub last_local: &'static [&'static str],
    pub cities: &'static [City],
    pub streets: &'static [&'static str],
    /// How the national significant number is grouped when written.
    pub groups: &'static [usize],
    /// Written forms with the country code (`{0}`… are groups, `{n}` the whole number).
    pub international: &'static [&'static str],
    /// National forms (need the country to be read back).
    pub national: &'static [&'static str],
    /// Whether desk extensions are written after numbers here.
    pub extensions: bool,
    pub calling_code: &'static str,
    /// Sales-tax style: `true` when prices include tax (VAT).
    pub tax_included: bool,
    /// Tax rate in basis points.
    pub tax_bp: i64,
}

pub static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        name: "United States",
        currency: "USD",
        locale: "en",
        first: &[
            "James",
            "Mary",
            "Robert",
            "Patricia",
            "Michael",
            "Jennifer",
            "DeShawn",
            "Zoë",
            "Chloé",
            "José",
            "Mary-Kate",
            "Jo Ann",
            "Aaliyah",
            "Connor",
            "Madison",
            "Luis",
        ],
        last: &[
            "Smith",
            "Johnson",
            "O'Brien",
            "O'Connor",
            "McDonald",
            "García",
            "Nguyen",
            "Washington",
            "D'Angelo",
            "St. James",
            "Van Buren",
            "Smith-Jones",
            "Rodríguez",
            "Kim",
            "Lee",
            "Brown",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("New York", Some("New York"), Some("NY"), "10001"),
            city("Austin", Some("Texas"), Some("TX"), "78701"),
            city("San Francisco", Some("California"), Some("CA"), "94103"),
            city("Boston", Some("Massachusetts"), Some("MA"), "02108"),
            city("Honolulu", Some("Hawaii"), Some("HI"), "96813"),
            city("Coeur d'Alene", Some("Idaho"), Some("ID"), "83814"),
        ],
        streets: &[
            "{num} Main St",
            "{num} O'Farrell Street",
            "{num} Martin Luther King Jr. Blvd",
            "PO Box {num}",
            "{num} 5th Ave, Suite 200",
        ],
        groups: &[3, 3, 4],
        international: &[
            "+1 {0}-{1}-{2}",
            "+1 ({0}) {1}-{2}",
            "+1 {0} {1} {2}",
            "001 {0} {1} {2}",
        ],
        national: &[
            "({0}) {1}-{2}",
            "{0}-{1}-{2}",
            "{0}.{1}.{2}",
            "1-{0}-{1}-{2}",
            "1 ({0}) {1}-{2}",
            "{n}",
        ],
        extensions: true,
        calling_code: "1",
        tax_included: false,
        tax_bp: 825,
    },
    Country {
        code: "CA",
        name: "Canada",
        currency: "CAD",
        locale: "fr-CA",
        first: &[
            "Liam",
            "Olivia",
            "François",
            "Amélie",
            "Noah",
            "Émilie",
            "Jean-Luc",
            "Chloé",
            "Gaétan",
            "Siobhan",
            "Mathéo",
            "Zoé",
        ],
        last: &[
            "Tremblay",
            "Gagnon",
            "Roy",
            "Côté",
            "Bouchard",
            "MacDonald",
            "Lévesque",
            "O'Neill",
            "Bélanger",
            "Nguyen",
            "Singh",
            "Leblanc",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("Montréal", Some("Quebec"), Some("QC"), "H2X 1Y4"),
            city("Toronto", Some("Ontario"), Some("ON"), "M5V 2T6"),
            city(
                "St. John's",
                Some("Newfoundland and Labrador"),
                Some("NL"),
                "A1C 5M2",
            ),
            city("Vancouver", Some("British Columbia"), Some("BC"), "V6B 1A1"),
        ],
        streets: &[
            "{num}, rue Sainte-Catherine O.",
            "{num} Queen St W",
            "{num} Water Street",
        ],
        groups: &[3, 3, 4],
        international: &["+1 {0}-{1}-{2}", "+1 ({0}) {1}-{2}", "+1 {0} {1} {2}"],
        national: &[
            "({0}) {1}-{2}",
            "{0}-{1}-{2}",
            "{0} {1}-{2}",
            "1-{0}-{1}-{2}",
            "{n}",
        ],
        extensions: true,
        calling_code: "1",
        tax_included: false,
        tax_bp: 1300,
    },
    Country {
        code: "GB",
        name: "United Kingdom",
        currency: "GBP",
        locale: "en-GB",
        first: &[
            "Oliver", "Amelia", "Siobhán", "Niamh", "Seán", "Harry", "Isla", "Gráinne", "Ffion",
            "Rhys", "Aoife", "Mohammed",
        ],
        last: &[
            "Smith",
            "Jones",
            "Taylor",
            "O'Sullivan",
            "Ó Súilleabháin",
            "Bowes-Lyon",
            "ffrench",
            "Williams",
            "Patel",
            "MacLeod",
            "Llewellyn",
            "Evans",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("London", None, None, "SW1A 1AA"),
            city("Manchester", None, None, "M1 1AE"),
            city("Belfast", None, None, "BT1 5GS"),
            city("Edinburgh", None, None, "EH1 1YZ"),
        ],
        streets: &[
            "{num} High Street",
            "Flat {num}, \"The Maltings\"",
            "{num} St Mary's Road",
        ],
        groups: &[4, 6],
        international: &[
            "+44 {0} {1}",
            "+44 (0){0} {1}",
            "0044 {0} {1}",
            "+44-{0}-{1}",
        ],
        national: &["0{0} {1}", "0{n}", "(0{0}) {1}"],
        extensions: true,
        calling_code: "44",
        tax_included: true,
        tax_bp: 2000,
    },
    Country {
        code: "DE",
        name: "Germany",
        currency: "EUR",
        locale: "de",
        first: &[
            "Jürgen",
            "Jörg",
            "Björn",
            "Günther",
            "Anna-Lena",
            "Lea",
            "Maximilian",
            "Süleyman",
            "Käthe",
            "Jan",
            "Sören",
            "Marie",
        ],
        last: &[
            "Müller",
            "Schmidt",
            "Schröder",
            "von Weizsäcker",
            "Groß",
            "Meyer-Lübke",
            "Özdemir",
            "Weiß",
            "Schäfer",
            "Becker",
            "Hoffmann",
            "Zimmermann",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("Berlin", None, None, "10115"),
            city("München", None, None, "80331"),
            city("Dresden", None, None, "01067"),
            city("Köln", None, None, "50667"),
        ],
        streets: &[
            "Königstraße {num}",
            "Am Markt {num}a",
            "Straße des 17. Juni {num}",
        ],
        groups: &[3, 4, 4],
        international: &[
            "+49 {0} {1}{2}",
            "+49 (0){0} {1} {2}",
            "0049 {0} {1}{2}",
            "+49-{0}-{1}{2}",
        ],
        national: &["0{0} {1}{2}", "0{0}/{1}{2}", "0{0}-{1} {2}", "0{n}"],
        extensions: false,
        calling_code: "49",
        tax_included: true,
        tax_bp: 1900,
    },
    Country {
        code: "FR",
        name: "France",
        currency: "EUR",
        locale: "fr",
        first: &[
            "Chloé",
            "Élodie",
            "François",
            "Gaëlle",
            "Hélène",
            "Léa",
            "Noël",
            "Zoé",
            "Jean-Baptiste",
            "Maëlys",
            "Loïc",
            "Anaïs",
        ],
        last: &[
            "Dubois",
            "Lefèvre",
            "D'Artagnan",
            "de La Fontaine",
            "Martin",
            "Rousseau",
            "Le Goff",
            "Bénard",
            "Lefebvre",
            "Moreau",
            "Girard",
            "N'Diaye",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("Paris", None, None, "75001"),
            city("Nice", None, None, "06000"),
            city("Saint-Étienne", None, None, "42000"),
            city("L'Haÿ-les-Roses", None, None, "94240"),
        ],
        streets: &[
            "{num}, rue de l'Église",
            "{num} bis, avenue des Champs-Élysées",
            "{num} quai d'Orsay",
        ],
        groups: &[1, 2, 2, 2, 2],
        international: &[
            "+33 {0} {1} {2} {3} {4}",
            "+33 (0){0} {1} {2} {3} {4}",
            "0033 {0}{1}{2}{3}{4}",
        ],
        national: &["0{0} {1} {2} {3} {4}", "0{0}.{1}.{2}.{3}.{4}", "0{n}"],
        extensions: false,
        calling_code: "33",
        tax_included: true,
        tax_bp: 2000,
    },
    Country {
        code: "PT",
        name: "Portugal",
        currency: "EUR",
        locale: "pt-PT",
        first: &[
            "João",
            "Inês",
            "Conceição",
            "Gonçalo",
            "Ana",
            "Luís",
            "Maria João",
            "Sebastião",
            "Tomás",
            "Leonor",
            "Duarte",
            "Beatriz",
        ],
        last: &[
            "Silva",
            "Santos",
            "Gonçalves",
            "Conceição",
            "Fernandes",
            "da Costa",
            "Magalhães",
            "Sá",
            "Ferreira",
            "Araújo",
            "de Sousa",
            "Pereira",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("Lisboa", Some("Lisboa"), Some("PT-11"), "1100-148"),
            city("Porto", Some("Porto"), Some("PT-13"), "4000-322"),
            city("Funchal", Some("Madeira"), Some("PT-30"), "9000-060"),
        ],
        streets: &[
            "Rua da Alegria, {num}, 2º Esq.",
            "Av. da Liberdade {num}",
            "Travessa do Fala-Só {num}",
        ],
        groups: &[3, 3, 3],
        international: &["+351 {0} {1} {2}", "00351 {n}", "(+351) {0} {1} {2}"],
        national: &["{0} {1} {2}", "{n}"],
        extensions: false,
        calling_code: "351",
        tax_included: true,
        tax_bp: 2300,
    },
    Country {
        code: "JP",
        name: "Japan",
        currency: "JPY",
        locale: "ja",
        first: &[
            "Yōko", "Hiroshi", "Yuki", "Takeshi", "Ai", "Kenji", "Sakura", "Ren",
        ],
        last: &[
            "Tanaka",
            "Suzuki",
            "Satō",
            "Watanabe",
            "Itō",
            "Yamamoto",
            "Nakamura",
            "Kobayashi",
        ],
        first_local: &["陽子", "博", "由紀", "武", "愛", "健二", "さくら", "蓮"],
        last_local: &[
            "田中", "鈴木", "佐藤", "渡辺", "伊藤", "山本", "中村", "小林",
        ],
        cities: &[
            city("Shibuya-ku", Some("Tokyo"), Some("JP-13"), "150-0002"),
            city("Osaka", Some("Osaka"), Some("JP-27"), "530-0001"),
            city("Sapporo", Some("Hokkaidō"), Some("JP-01"), "060-0001"),
        ],
        streets: &[
            "{num}-2-3 Jingumae",
            "Minami {num}-jō Nishi 4-chōme",
            "{num} Umeda, Kita-ku",
        ],
        groups: &[2, 4, 4],
        international: &["+81 {0}-{1}-{2}", "+81 {0} {1} {2}", "+81 (0){0}-{1}-{2}"],
        national: &["0{0}-{1}-{2}", "0{n}", "0{0} {1} {2}"],
        extensions: false,
        calling_code: "81",
        tax_included: true,
        tax_bp: 1000,
    },
    Country {
        code: "AU",
        name: "Australia",
        currency: "AUD",
        locale: "en-AU",
        first: &[
            "Jack",
            "Charlotte",
            "Mia",
            "Lachlan",
            "Matilda",
            "Kirra",
            "Cooper",
            "Ruby",
        ],
        last: &[
            "Smith",
            "Nguyen",
            "O'Brien",
            "Kelly",
            "Papadopoulos",
            "Tran",
            "Williams",
            "Wang",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("Sydney", Some("New South Wales"), Some("NSW"), "2000"),
            city("Darwin", Some("Northern Territory"), Some("NT"), "0800"),
            city("Melbourne", Some("Victoria"), Some("VIC"), "3000"),
        ],
        streets: &[
            "{num} George St",
            "Unit {num}/14 Smith St",
            "{num} Collins Street",
        ],
        groups: &[3, 3, 3],
        international: &["+61 {0} {1} {2}", "+61 (0){0} {1} {2}", "0061 {0} {1} {2}"],
        national: &["0{0} {1} {2}", "0{n}", "(0{0}) {1} {2}"],
        extensions: true,
        calling_code: "61",
        tax_included: true,
        tax_bp: 1000,
    },
    Country {
        code: "BR",
        name: "Brazil",
        currency: "BRL",
        locale: "pt-BR",
        first: &[
            "João",
            "Maria",
            "Antônio",
            "Francisca",
            "Luíza",
            "Thiago",
            "Ana Clara",
            "Gabriel",
        ],
        last: &[
            "da Silva",
            "dos Santos",
            "Conceição",
            "Araújo",
            "Gonçalves Júnior",
            "Pereira",
            "Oliveira",
            "Souza",
        ],
        first_local: &[],
        last_local: &[],
        cities: &[
            city("São Paulo", Some("São Paulo"), Some("SP"), "01310-100"),
            city(
                "Rio de Janeiro",
                Some("Rio de Janeiro"),
                Some("RJ"),
                "20040-002",
            ),
        ],
        streets: &[
            "Av. Paulista, {num} - Bela Vista",
            "Rua do Ouvidor, {num}, apto. 12",
        ],
        groups: &[2, 5, 4],
        international: &["+55 {0} {1}-{2}", "+55 ({0}) {1}-{2}", "0055 {0} {1} {2}"],
        national: &["({0}) {1}-{2}", "{0} {1}-{2}", "{n}"],
        extensions: false,
        calling_code: "55",
        tax_included: true,
        tax_bp: 1700,
    },
];

/// Where people come from when they are not from the shop's own country.
const WORLD: &[(usize, u32)] = &[
    (0, 40),
    (1, 8),
    (2, 12),
    (3, 10),
    (4, 8),
    (5, 5),
    (6, 6),
    (7, 6),
    (8, 5),
];

pub fn country(code: &str) -> &'static Country {
    COUNTRIES
        .iter()
        .find(|c| c.code == code)
        .unwrap_or(&COUNTRIES[0])
}

/// The country of a currency's home market (USD → US, EUR → DE, …).
pub fn country_of_currency(code: &str) -> &'static Country {
    COUNTRIES
        .iter()
        .find(|c| c.currency.eq_ignore_ascii_case(code))
        .unwrap_or(&COUNTRIES[0])
}

/// Email domains: all under the reserved `example.*` names (RFC 2606), so no generated
/// address can reach a real mailbox, yet with the variety real addresses have.
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.com",
    "example.net",
    "webmail.example.net",
    "example.org",
    "post.example.org",
    "inbox.example.com",
];
const PLUS_TAGS: &[&str] = &["shop", "promo", "orders", "eu", "spam", "news"];

/// A real person: who they are, wherever they buy.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: u64,
    pub country: &'static Country,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Letters for email addresses (no digits, ever).
    first_ascii: String,
    last_ascii: String,
    email_style: u8,
    domain: &'static str,
    alt_domain: &'static str,
    plus_tag: &'static str,
    /// National significant number (E.164 without the country code).
    pub nsn: String,
    pub city: usize,
    pub street: usize,
    pub house: u64,
}

/// Lower-case ASCII letters of a name for an email address: accents folded, everything
/// else dropped except `'`, `-` (when `keep_marks`) so no digit can ever appear.
pub fn ascii_letters(name: &str, keep_marks: bool) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'a'..='z' => {
                out.push(c);
                continue;
            }
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ē' => "e",
            'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            '\'' | '-' if keep_marks => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out.trim_matches(['\'', '-']).to_string()
}

/// Fills `{0}`, `{1}`… with the groups of `digits` and `{n}` with all of them.
fn render(template: &str, digits: &str, groups: &[usize]) -> String {
    let mut parts = Vec::with_capacity(groups.len());
    let mut at = 0;
    for g in groups {
        let end = (at + g).min(digits.len());
        parts.push(&digits[at..end]);
        at = end;
    }
    let mut out = String::with_capacity(template.len() + digits.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{'
            && let Some(&k) = chars.peek()
            && chars.clone().nth(1) == Some('}')
        {
            chars.next();
            chars.next();
            match k {
                'n' => out.push_str(digits),
                d => {
                    let i = d.to_digit(10).unwrap_or(u32::MAX) as usize;
                    out.push_str(parts.get(i).copied().unwrap_or(""));
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// How a phone number is written on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneStyle {
    E164,
    /// Any written form, national ones only when the record says which country it is in.
    Any {
        national_ok: bool,
        extension: bool,
    },
}

/// How many distinct numbers [`national_number`] writes per country (the smallest plan,
/// Portugal's, holds 40 million).
pub const NUMBERS_PER_COUNTRY: u64 = 40_000_000;

/// `id` spread over `0..capacity` by a bijection, so consecutive people do not get
/// consecutive numbers (the multiplier is odd and not a multiple of 5, so it is coprime with
/// every capacity below, all of the form 2^a·5^b).
fn spread(id: u64, capacity: u64) -> u64 {
    ((u128::from(id % capacity) * 2_654_435_761 + 7_777_777) % u128::from(capacity)) as u64
}

/// The national significant number of person `id` in `country` (unique per id below
/// [`NUMBERS_PER_COUNTRY`]).
pub fn national_number(country: &Country, id: u64) -> String {
    match country.code {
        "US" | "CA" => {
            let areas: &[u16] = if country.code == "US" {
                &[212, 312, 415, 512, 617, 702, 808, 919, 206, 303]
            } else {
                &[416, 604, 514, 403, 613, 902, 709, 306, 204, 867]
            };
            let x = spread(id, 80_000_000);
            let (line, x) = (x % 10_000, x / 10_000);
            let exchange = 200 + x % 800;
            let area = areas[(x / 800) as usize % areas.len()];
            format!("{area}{exchange:03}{line:04}")
        }
        "GB" => format!("7{:09}", 400_000_000 + spread(id, 500_000_000)),
        "DE" => {
            let x = spread(id, 400_000_000);
            let prefix = ["151", "160", "170", "176"][(x / 100_000_000) as usize];
            format!("{prefix}{:08}", x % 100_000_000)
        }
        "FR" => {
            let x = spread(id, 200_000_000);
            format!(
                "{}{:08}",
                ["6", "7"][(x / 100_000_000) as usize],
                x % 100_000_000
            )
        }
        "PT" => {
            let x = spread(id, 40_000_000);
            let prefix = ["91", "92", "93", "96"][(x / 10_000_000) as usize];
            format!("{prefix}{:07}", x % 10_000_000)
        }
        "JP" => {
            let x = spread(id, 200_000_000);
            format!(
                "{}{:08}",
                ["90", "80"][(x / 100_000_000) as usize],
                x % 100_000_000
            )
        }
        "AU" => format!("4{:08}", spread(id, 100_000_000)),
        _ => format!("119{:08}", spread(id, 100_000_000)),
    }
}

impl Person {
    /// Person `id`, most likely from `home` (the country of the shop they first bought from).
    pub fn new(seed: u64, id: u64, home: &'static Country) -> Person {
        let mut rng = Rng::new(seed, Stream::Person, 0, id);
        let country = if rng.chance(0.55) {
            home
        } else {
            &COUNTRIES[*rng.weighted(WORLD)]
        };
        let fi = rng.index(country.first.len());
        let li = rng.index(country.last.len());
        let local_script = !country.first_local.is_empty() && rng.chance(0.4);
        let (mut first, mut last) = if local_script {
            (
                country.first_local[fi].to_string(),
                country.last_local[li].to_string(),
            )
        } else {
            (country.first[fi].to_string(), country.last[li].to_string())
        };
        let first_ascii = ascii_letters(country.first[fi], false);
        let last_ascii = ascii_letters(country.last[li], rng.chance(0.5));
        // Quirks of the name itself, the same in every shop.
        let quirk = rng.below(1000);
        let (mut has_first, mut has_last) = (true, true);
        match quirk {
            0..=39 => has_last = false,
            40..=59 => has_first = false,
            60..=79 => {
                last.push_str(rng.one(&[", Jr.", ", Sr.", ", III", ", PhD"]));
            }
            80..=94 => {
                let nick = rng.pick(&["Bob", "Liz", "Bud", "Mimi", "J.J."]);
                first = format!("{first} \"{nick}\"");
            }
            95..=104 => {
                // A second surname on a second line: an import that kept the line break.
                let other = rng.pick(country.last);
                last = format!("{last}{}{other}", rng.pick(&["\n", "\r\n"]));
            }
            105..=114 => {
                // The whole name typed into the first-name box.
                first = format!("{first} {last}");
                has_last = false;
            }
            115..=119 => first.push_str(" 🌸"),
            _ => {}
        }
        Person {
            id,
            country,
            first: has_first.then_some(first),
            last: has_last.then_some(last),
            first_ascii,
            last_ascii,
            email_style: rng.below(6) as u8,
            domain: rng.one(DOMAINS),
            alt_domain: rng.one(DOMAINS),
            plus_tag: rng.one(PLUS_TAGS),
            nsn: national_number(country, id),
            city: rng.index(country.cities.len()),
            street: rng.index(country.streets.len()),
            house: rng.between(1, 250),
        }
    }

    #[cfg(test)]
    pub fn e164(&self) -> String {
        format!("+{}{}", self.country.calling_code, self.nsn)
    }

    /// The person's usual address.
    pub fn email(&self) -> String {
        let (f, l, code) = (&self.first_ascii, &self.last_ascii, self.id);
        let initial = f.chars().next().map(String::from).unwrap_or_default();
        let local = match (self.email_style, f.is_empty(), l.is_empty()) {
            (_, true, true) => format!("customer{code}"),
            (_, false, true) => format!("{f}{code}"),
            (_, true, false) => format!("{l}{code}"),
            (0, ..) => format!("{f}.{l}{code}"),
            (1, ..) => format!("{initial}{l}{code}"),
            (2, ..) => format!("{f}{code}"),
            (3, ..) => format!("{l}.{f}{code}"),
            (4, ..) => format!("{f}_{l}{code}"),
            _ => format!("{f}{l}{code}"),
        };
        format!("{local}@{}", self.domain)
    }

    /// Another address of the same person: a plus-tag, or a second mailbox.
    pub fn other_email(&self) -> String {
        let (f, l, code) = (&self.first_ascii, &self.last_ascii, self.id);
        let name = if f.is_empty() { "shopper" } else { f.as_str() };
        if self.email_style.is_multiple_of(2) {
            let (local, domain) = self
                .email()
                .split_once('@')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap_or_default();
            format!("{local}+{}@{domain}", self.plus_tag)
        } else if l.is_empty() {
            format!("{name}.{code}@{}", self.alt_domain)
        } else {
            format!("{name}{code}.{l}@{}", self.alt_domain)
        }
    }

    /// The address at work, for a B2B buyer.
    pub fn work_email(&self, company_slug: &str) -> String {
        let (f, l, code) = (&self.first_ascii, &self.last_ascii, self.id);
        let initial = f.chars().next().map(String::from).unwrap_or_default();
        let local = match (f.is_empty(), l.is_empty()) {
            (true, true) => format!("buyer{code}"),
            (false, true) => format!("{f}{code}"),
            (true, false) => format!("{l}{code}"),
            _ => format!("{initial}.{l}{code}"),
        };
        format!("{local}@{company_slug}.example.com")
    }

    /// The person's number written for one record.
    pub fn phone(&self, rng: &mut Rng, style: PhoneStyle) -> String {
        write_phone(self.country, &self.nsn, rng, style)
    }
}

/// Writes a national number in one of its country's forms.
pub fn write_phone(country: &Country, nsn: &str, rng: &mut Rng, style: PhoneStyle) -> String {
    let PhoneStyle::Any {
        national_ok,
        extension,
    } = style
    else {
        return format!("+{}{nsn}", country.calling_code);
    };
    let mut text = match rng.below(10) {
        0..=1 => format!("+{}{nsn}", country.calling_code),
        2..=5 if national_ok => render(rng.one(country.national), nsn, country.groups),
        _ => render(rng.one(country.international), nsn, country.groups),
    };
    if extension && country.extensions {
        let ext = rng.between(2, 999);
        text.push_str(&match rng.below(5) {
            0 => format!(" x{ext}"),
            1 => format!(" ext. {ext}"),
            2 => format!(" Ext {ext}"),
            3 => format!(";ext={ext}"),
            _ => format!(" #{ext}"),
        });
    }
    text
}

/// Letter-case accidents one record can carry (`ANA SILVA`, `ana silva`).
pub fn recase(rng: &mut Rng, name: Option<String>) -> Option<String> {
    let name = name?;
    Some(match rng.below(100) {
        0..=2 => name.to_uppercase(),
        3..=4 => name.to_lowercase(),
        _ => name,
    })
}

/// An email address as someone typed it: sometimes with capitals.
pub fn email_case(rng: &mut Rng, email: String) -> String {
    match rng.below(100) {
        0..=6 => {
            // Capitalised local part words and domain: `Ana.Silva12@Example.com`.
            let mut out = String::with_capacity(email.len());
            let mut start = true;
            for c in email.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = matches!(c, '.' | '@' | '_');
            }
            out
        }
        7 => email.to_uppercase(),
        _ => email,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::phone::normalize_e164;

    #[test]
    fn every_written_form_of_a_number_normalises_back() {
        for (i, country) in COUNTRIES.iter().enumerate() {
            for id in [0u64, 7, 12_345, 9_999_999, NUMBERS_PER_COUNTRY - 1] {
                let nsn = national_number(country, id);
                let e164 = format!("+{}{nsn}", country.calling_code);
                assert!(e164.len() <= 16, "{e164}");
                let mut rng = Rng::new(i as u64, Stream::Person, 1, id);
                for _ in 0..40 {
                    let style = PhoneStyle::Any {
                        national_ok: true,
                        extension: true,
                    };
                    let written = write_phone(country, &nsn, &mut rng, style);
                    assert_eq!(
                        normalize_e164(&written, Some(country.code)).as_deref(),
                        Some(e164.as_str()),
                        "{written} ({})",
                        country.code
                    );
                }
                let international = PhoneStyle::Any {
                    national_ok: false,
                    extension: false,
                };
                let written = write_phone(country, &nsn, &mut rng, international);
                assert_eq!(
                    normalize_e164(&written, None).as_deref(),
                    Some(e164.as_str())
                );
            }
        }
    }

    #[test]
    fn numbers_and_addresses_differ_between_people() {
        let mut numbers = std::collections::HashSet::new();
        let mut emails = std::collections::HashSet::new();
        for id in (0..3000u64).chain(NUMBERS_PER_COUNTRY - 500..NUMBERS_PER_COUNTRY) {
            let p = Person::new(9, id, &COUNTRIES[0]);
            assert!(numbers.insert(p.e164()), "{}", p.e164());
            for e in [p.email(), p.other_email(), p.work_email("acme")] {
                assert!(emails.insert(e.to_lowercase()), "{e}");
                let (local, domain) = e.split_once('@').unwrap();
                let runs = local
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|r| !r.is_empty())
                    .count();
                assert_eq!(runs, 1, "{e}");
                assert!(!domain.chars().any(|c| c.is_ascii_digit()));
                assert!(!e.contains(char::is_whitespace), "{e}");
            }
        }
    }

    #[test]
    fn names_fold_to_letters() {
        assert_eq!(ascii_letters("Ó Súilleabháin", false), "osuilleabhain");
        assert_eq!(ascii_letters("D'Angelo", true), "d'angelo");
        assert_eq!(ascii_letters("Groß", false), "gross");
        assert_eq!(ascii_letters("田中", false), "");
        assert_eq!(
            render("+1 ({0}) {1}-{2}", "5125550123", &[3, 3, 4]),
            "+1 (512) 555-0123"
        );
        assert_eq!(render("0{n}", "612345678", &[1, 2]), "0612345678");
    }
}
