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

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $validate:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a value.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
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
    /// The name of a business, chosen by the app or generated (1 to 100 characters of text,
    /// no control characters, no surrounding white space).
    BusinessName,
    "businessName",
    |v| check_text("businessName", v, BusinessName::MAX_LEN)
);

impl BusinessName {
    /// The longest business name, in characters.
    pub const MAX_LEN: usize = 100;

    pub(crate) fn new_unchecked(value: String) -> Self {
        debug_assert!(Self::new(value.clone()).is_ok());
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
