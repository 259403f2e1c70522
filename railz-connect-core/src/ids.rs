//! Validated identifiers: [`WidgetId`], [`BusinessName`], [`ServiceName`], [`ConnectionId`],
//! [`TenantId`].
//!
//! Each is a newtype whose constructor checks its input and answers a typed [`InvalidId`] on
//! bad input (empty, too long, control characters, wrong format); none of them panics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidId {
    /// The value is empty (or only white space).
    #[error("{kind} is empty")]
    Empty {
        /// Which identifier.
        kind: &'static str,
    },
    /// The value is longer than allowed.
    #[error("{kind} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which identifier.
        kind: &'static str,
        /// Its length in characters.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The value holds a control character.
    #[error("{kind} contains a control character")]
    ControlCharacter {
        /// Which identifier.
        kind: &'static str,
    },
    /// The value has leading or trailing white space.
    #[error("{kind} has leading or trailing white space")]
    SurroundingWhitespace {
        /// Which identifier.
        kind: &'static str,
    },
    /// The value holds an invisible or unassigned character: a format character (general
    /// category `Cf`: bidirectional overrides and isolates, zero-width characters, the byte
    /// order mark, the soft hyphen, ...), a line or paragraph separator (`Zl`, `Zp`), a
    /// private-use character (`Co`) or an unassigned code point (`Cn`).
    #[error("{kind} contains U+{code_point:04X}, an invisible, private-use or unassigned character")]
    InvisibleCharacter {
        /// Which identifier.
        kind: &'static str,
        /// The first such character, as a Unicode scalar value.
        code_point: u32,
    },
    /// The value does not have the required format.
    #[error("{kind} must be {expected}")]
    Format {
        /// Which identifier.
        kind: &'static str,
        /// The format, in words.
        expected: &'static str,
    },
}

fn check_text(kind: &'static str, value: &str, max: usize) -> Result<(), InvalidId> {
    if value.trim().is_empty() {
        return Err(InvalidId::Empty { kind });
    }
    let len = value.chars().count();
    if len > max {
        return Err(InvalidId::TooLong { kind, len, max });
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidId::ControlCharacter { kind });
    }
    if value.trim() != value {
        return Err(InvalidId::SurroundingWhitespace { kind });
    }
    Ok(())
}

/// Refuses the characters a reader cannot see or that mean nothing yet: general categories
/// `Cf`, `Zl`, `Zp`, `Co` and `Cn` (Unicode data of the `unicode-properties` crate).
/// Control characters (`Cc`) are refused earlier, by [`check_text`].
///
/// One exception: the zero-width non-joiner and joiner (U+200C, U+200D) are part of how some
/// scripts are written (Persian, Indic scripts, emoji sequences), so they are accepted between
/// two visible non-ASCII characters, and refused anywhere else (at an edge, beside ASCII or
/// white space, where they can only hide).
fn check_visible(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let chars: Vec<char> = value.chars().collect();
    let is_joiner = |c: char| matches!(c, '\u{200C}' | '\u{200D}');
    let visible_non_ascii = |c: Option<&char>| c.is_some_and(|&c| !c.is_ascii() && !c.is_whitespace() && !is_joiner(c));
    let joins = |i: usize| {
        is_joiner(chars[i]) && i > 0 && visible_non_ascii(chars.get(i - 1)) && visible_non_ascii(chars.get(i + 1))
    };
    let invisible = chars.iter().enumerate().find(|&(i, c)| {
        matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
                | GeneralCategory::PrivateUse
                | GeneralCategory::Unassigned
        ) && !joins(i)
    });
    let invisible = invisible.map(|(_, &c)| c);
    match invisible {
        Some(c) => Err(InvalidId::InvisibleCharacter { kind, code_point: u32::from(c) }),
        None => Ok(()),
    }
}

/// Unicode Normalization Form C (canonical composition), without a copy when the value is
/// already in it.
fn to_nfc(value: String) -> String {
    use unicode_normalization::UnicodeNormalization;
    if unicode_normalization::is_nfc(&value) { value } else { value.nfc().collect() }
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $validate:expr) => {
        string_id!($(#[$meta])* $name, $kind, normalize = |v| v, $validate);
    };
    ($(#[$meta:meta])* $name:ident, $kind:literal, normalize = $normalize:expr, $validate:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a value.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let normalize: fn(String) -> String = $normalize;
                let value = normalize(value.into());
                let validate: fn(&str) -> Result<(), InvalidId> = $validate;
                validate(&value)?;
                Ok(Self(value))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidId;
            fn try_from(s: &str) -> Result<Self, InvalidId> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            #[doc = concat!("What a ", $kind, " is called in errors.")]
            pub const KIND: &'static str = $kind;
        }
    };
}

string_id!(
    /// The id of a widget: one configured instance of the connection flow in an app
    /// (1 to 64 ASCII letters, digits, `_` or `-`, starting with a letter or digit).
    WidgetId,
    "widgetId",
    |v| {
        check_text("widgetId", v, 64)?;
        let ok = v.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphanumeric() || (i > 0 && (b == b'_' || b == b'-'))
        });
        if ok {
            Ok(())
        } else {
            Err(InvalidId::Format {
                kind: "widgetId",
                expected: "ASCII letters, digits, '_' or '-', starting with a letter or digit",
            })
        }
    }
);

string_id!(
    /// The name of a business, chosen by the app or generated: 1 to 100 characters of text,
    /// no surrounding white space, and nothing a reader cannot see.
    ///
    /// [`BusinessName::new`] (and so deserialization and parsing) normalizes the text to
    /// Unicode Normalization Form C, so the composed and the decomposed spellings of a name
    /// (`"Caf\u{e9}"` and `"Cafe\u{301}"`) are one name; the length is counted after
    /// normalization. It refuses control characters
    /// ([`InvalidId::ControlCharacter`]) and invisible, private-use and unassigned characters
    /// such as bidirectional overrides, zero-width spaces and the byte order mark
    /// ([`InvalidId::InvisibleCharacter`]), so two names that look alike are alike.
    BusinessName,
    "businessName",
    normalize = to_nfc,
    |v| {
        check_text("businessName", v, BusinessName::MAX_LEN)?;
        check_visible("businessName", v)
    }
);

impl BusinessName {
    /// The longest business name, in characters (after NFC normalization).
    pub const MAX_LEN: usize = 100;

    pub(crate) fn new_unchecked(value: String) -> Self {
        debug_assert_eq!(Self::new(value.as_str()).as_ref().map(Self::as_str), Ok(value.as_str()));
        Self(value)
    }
}

string_id!(
    /// The name of an accounting service, in Railz's camelCase convention
    /// (`quickbooks`, `xero`, `railzSandbox`, ...): 2 to 48 ASCII letters and digits,
    /// starting with a lower-case letter.
    ServiceName,
    "serviceName",
    |v| {
        check_text("serviceName", v, 48)?;
        let mut bytes = v.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        if first_ok && v.len() >= 2 && bytes.all(|b| b.is_ascii_alphanumeric()) {
            Ok(())
        } else {
            Err(InvalidId::Format {
                kind: "serviceName",
                expected: "ASCII letters and digits in camelCase, starting with a lower-case letter",
            })
        }
    }
);

string_id!(
    /// The id of a tenant at a provider (a Xero organisation, a QuickBooks realm, a sandbox
    /// company): 1 to 200 characters, no control characters.
    TenantId,
    "tenantId",
    |v| check_text("tenantId", v, 200)
);

/// The id of a connection: a UUID, created by the SDK when an authorization succeeds
/// (Railz's `connectionUuid`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(uuid::Uuid);

impl ConnectionId {
    /// A new random (v4) id.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// Parses the hyphenated UUID form.
    pub fn parse(value: &str) -> Result<Self, InvalidId> {
        if value.is_empty() {
            return Err(InvalidId::Empty { kind: "connectionId" });
        }
        if value.len() != 36 {
            return Err(InvalidId::Format { kind: "connectionId", expected: "a hyphenated UUID (36 characters)" });
        }
        uuid::Uuid::parse_str(value)
            .map(Self)
            .map_err(|_| InvalidId::Format { kind: "connectionId", expected: "a hyphenated UUID (36 characters)" })
    }

    /// The UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId({})", self.0.hyphenated())
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for ConnectionId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::parse(s)
    }
}

impl Serialize for ConnectionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.hyphenated())
    }
}

impl<'de> Deserialize<'de> for ConnectionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_ids() {
        assert!(WidgetId::new("wid_123-abc").is_ok());
        assert_eq!(WidgetId::new(""), Err(InvalidId::Empty { kind: "widgetId" }));
        assert!(matches!(WidgetId::new("-abc"), Err(InvalidId::Format { .. })));
        assert!(matches!(WidgetId::new("a b"), Err(InvalidId::Format { .. })));
        assert!(matches!(WidgetId::new("a".repeat(65)), Err(InvalidId::TooLong { len: 65, max: 64, .. })));
    }

    #[test]
    fn business_names() {
        assert!(BusinessName::new("Acme Café Ltd.").is_ok());
        assert!(BusinessName::new("x".repeat(100)).is_ok());
        assert!(matches!(BusinessName::new("x".repeat(101)), Err(InvalidId::TooLong { .. })));
        assert!(matches!(BusinessName::new("   "), Err(InvalidId::Empty { .. })));
        assert!(matches!(BusinessName::new("a\u{0}b"), Err(InvalidId::ControlCharacter { .. })));
        assert!(matches!(BusinessName::new("a\nb"), Err(InvalidId::ControlCharacter { .. })));
        assert!(matches!(BusinessName::new(" Acme"), Err(InvalidId::SurroundingWhitespace { .. })));
    }

    #[test]
    fn business_names_are_nfc() {
        let composed = BusinessName::new("Caf\u{e9}").unwrap();
        let decomposed = BusinessName::new("Cafe\u{301}").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "Caf\u{e9}");
        let parsed: BusinessName = "Cafe\u{301}".parse().unwrap();
        assert_eq!(parsed.as_str(), "Caf\u{e9}");
        let deserialized: BusinessName = serde_json::from_str(r#""Cafe\u0301""#).unwrap();
        assert_eq!(deserialized, composed);
        assert_eq!(serde_json::to_string(&deserialized).unwrap(), "\"Caf\u{e9}\"");
        // Hangul: conjoining jamo compose to one syllable.
        assert_eq!(BusinessName::new("\u{1100}\u{1161}").unwrap().as_str(), "\u{ac00}");
    }

    #[test]
    fn business_name_length_is_counted_after_normalization() {
        // 200 code points decomposed, 100 composed.
        let name = BusinessName::new("e\u{301}".repeat(100)).unwrap();
        assert_eq!(name.as_str().chars().count(), 100);
        assert_eq!(
            BusinessName::new("e\u{301}".repeat(101)),
            Err(InvalidId::TooLong { kind: "businessName", len: 101, max: 100 })
        );
    }

    #[test]
    fn business_names_refuse_invisible_characters() {
        let invisible: [(u32, &str); 26] = [
            (0x202A, "left-to-right embedding (Cf)"),
            (0x202B, "right-to-left embedding (Cf)"),
            (0x202C, "pop directional formatting (Cf)"),
            (0x202D, "left-to-right override (Cf)"),
            (0x202E, "right-to-left override (Cf)"),
            (0x2066, "left-to-right isolate (Cf)"),
            (0x2067, "right-to-left isolate (Cf)"),
            (0x2068, "first strong isolate (Cf)"),
            (0x2069, "pop directional isolate (Cf)"),
            (0x200B, "zero-width space (Cf)"),
            (0x200C, "zero-width non-joiner (Cf)"),
            (0x200D, "zero-width joiner (Cf)"),
            (0x2060, "word joiner (Cf)"),
            (0xFEFF, "byte order mark (Cf)"),
            (0x00AD, "soft hyphen (Cf)"),
            (0x200E, "left-to-right mark (Cf)"),
            (0x200F, "right-to-left mark (Cf)"),
            (0xE0041, "tag latin capital letter A (Cf)"),
            (0x2028, "line separator (Zl)"),
            (0x2029, "paragraph separator (Zp)"),
            (0xE000, "first private-use character (Co)"),
            (0xF0000, "supplementary private use area-A (Co)"),
            (0x10FFFD, "supplementary private use area-B (Co)"),
            (0x0378, "unassigned (Cn)"),
            (0xFDD0, "noncharacter (Cn)"),
            (0x10FFFF, "last noncharacter (Cn)"),
        ];
        for (cp, what) in invisible {
            let c = char::from_u32(cp).unwrap();
            let got = BusinessName::new(format!("Acme{c}Ltd"));
            assert_eq!(got, Err(InvalidId::InvisibleCharacter { kind: "businessName", code_point: cp }), "{what}");
            let json = serde_json::to_string(&format!("Acme{c}Ltd")).unwrap();
            assert!(serde_json::from_str::<BusinessName>(&json).is_err(), "{what}, deserialized");
        }
        let message = BusinessName::new("Acme\u{202E}Ltd").unwrap_err().to_string();
        assert!(message.contains("U+202E"), "{message}");
        assert!(BusinessName::new("Acme\u{10FFFF}").unwrap_err().to_string().contains("U+10FFFF"));
        // Joiners where scripts need them: Persian with a ZWNJ, an emoji ZWJ sequence.
        assert!(BusinessName::new("\u{645}\u{6CC}\u{200C}\u{62E}\u{648}\u{627}\u{647}\u{645}").is_ok());
        assert!(BusinessName::new("Family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Shop").is_ok());
        for hidden in [
            "\u{200C}\u{645}\u{6CC}",
            "\u{645}\u{6CC}\u{200C}",
            "\u{645} \u{200D}\u{6CC}",
            "\u{645}\u{200C}\u{200C}\u{6CC}",
        ] {
            assert!(BusinessName::new(hidden).is_err(), "{hidden:?}");
        }
        // Visible text of many scripts, symbols and combining marks stays valid.
        for ok in ["Ærø Bakeri ApS", "株式会社サンプル", "Ünal & Söhne", "Ελληνικά ΑΕ", "Café ☕ 🍰", "नमस्ते"]
        {
            assert!(BusinessName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn service_names() {
        for ok in ["quickbooks", "railzSandbox", "sageBusinessCloud", "myob"] {
            assert!(ServiceName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Xero", "x", "zoho-books", "zoho books", "1abc"] {
            assert!(ServiceName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_ids() {
        let id = ConnectionId::new_random();
        assert_eq!(ConnectionId::parse(&id.to_string()).unwrap(), id);
        assert!(ConnectionId::parse("").is_err());
        assert!(ConnectionId::parse("not-a-uuid").is_err());
        assert!(ConnectionId::parse("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<ConnectionId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<BusinessName>("\"\"").is_err());
    }
}
