//! Inputs a provider needs before authorization, and their specifications.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use super::ProviderError;

/// Values a business enters before authorization (a NetSuite account id, a Zoho data centre),
/// or instead of it for a credential-based service (a Sage Intacct company id, user id and
/// password), by input name.
///
/// Every value is held in zeroized memory and `Debug` prints only the names: an input marked
/// [`Sensitivity::Secret`] in its [`InputSpec`] is never printed, and the SDK never copies it
/// into a token set's plain parameters (it is sealed with the credentials instead).
///
/// ```
/// use railz_connect_core::provider::Inputs;
///
/// let inputs = Inputs::new().with_input("accountId", "TSTDRV123").with_input("password", "hunter2");
/// assert_eq!(inputs.get("accountId"), Some("TSTDRV123"));
/// assert_eq!(format!("{inputs:?}"), r#"Inputs(["accountId", "password"])"#);
/// ```
#[derive(Clone, Default)]
pub struct Inputs(BTreeMap<String, Zeroizing<String>>);

impl Inputs {
    /// No inputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// These inputs and one more (a later value for the same name replaces the earlier one).
    #[must_use]
    pub fn with_input(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets an input.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), Zeroizing::new(value.into()));
    }

    /// An input's value. For a secret input this is the secret itself: never log it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str())
    }

    /// The names given, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Names and values, in name order. Values of secret inputs included: never log them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many inputs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The plain (not secret) inputs of `specs`, as parameters a token set may keep.
    pub fn plain_params(&self, specs: &[InputSpec]) -> BTreeMap<String, String> {
        specs
            .iter()
            .filter(|s| s.sensitivity == Sensitivity::Plain)
            .filter_map(|s| self.get(&s.name).map(|v| (s.name.clone(), v.to_owned())))
            .collect()
    }

    /// Checks inputs against specifications: required ones present, values allowed, no unknown
    /// names. The error names the input, never its value.
    pub fn validate(&self, specs: &[InputSpec]) -> Result<(), ProviderError> {
        for name in self.names() {
            if !specs.iter().any(|s| s.name == name) {
                return Err(ProviderError::InvalidInput {
                    name: crate::text::bounded(name, crate::text::MAX_LOGGED),
                    reason: "is not an input of this service".into(),
                });
            }
        }
        for spec in specs {
            match self.get(&spec.name) {
                None if spec.presence == Presence::Required => {
                    return Err(ProviderError::InvalidInput { name: spec.name.clone(), reason: "is required".into() });
                }
                None => {}
                Some(value) => spec
                    .check(value)
                    .map_err(|reason| ProviderError::InvalidInput { name: spec.name.clone(), reason })?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Inputs").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Inputs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut inputs = Self::new();
        for (k, v) in iter {
            inputs.insert(k, v);
        }
        inputs
    }
}

/// The kind of a pre-authorization input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// Free text of at most `max_len` characters, matching `allowed` characters.
    Text {
        /// The maximum length.
        max_len: usize,
        /// Which characters are allowed.
        allowed: CharSet,
    },
    /// One of these values.
    Choice(Vec<String>),
}

/// The characters a text input allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharSet {
    /// ASCII letters, digits, `_` and `-`.
    Identifier,
    /// Any printable text.
    Printable,
}

/// Whether an input must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Presence {
    /// It must be given.
    Required,
    /// It may be left out.
    Optional,
}

/// Whether an input's value is a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sensitivity {
    /// A plain value (an account id, a data centre): kept as a parameter of the credentials.
    Plain,
    /// A secret (a password, a consumer secret): a password field in a form, never printed,
    /// sealed with the credentials and never kept as a plain parameter.
    Secret,
}

/// One input a provider needs before (or instead of) authorization. Required and plain unless
/// set otherwise.
///
/// ```
/// use railz_connect_core::provider::{CharSet, InputSpec, Presence, Sensitivity};
///
/// let account = InputSpec::text("accountId", "NetSuite account ID")
///     .with_max_len(64)
///     .with_charset(CharSet::Identifier);
/// let password = InputSpec::secret("password", "Password");
/// let centre = InputSpec::choice("dataCenter", "Data centre", &["com", "eu", "in"])
///     .with_presence(Presence::Optional);
/// assert_eq!(password.sensitivity, Sensitivity::Secret);
/// assert_eq!(centre.presence, Presence::Optional);
/// # let _ = account;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputSpec {
    /// The name, as given in [`Inputs`].
    pub name: String,
    /// A label to show the user.
    pub label: String,
    /// Whether it must be given.
    pub presence: Presence,
    /// Whether it is a secret.
    pub sensitivity: Sensitivity,
    /// What it may hold.
    pub kind: InputKind,
}

impl InputSpec {
    /// The default maximum length of a text input.
    pub const DEFAULT_MAX_LEN: usize = 256;

    /// A required, plain text input of printable characters, at most
    /// [`InputSpec::DEFAULT_MAX_LEN`] long.
    pub fn text(name: &str, label: &str) -> Self {
        Self {
            name: name.into(),
            label: label.into(),
            presence: Presence::Required,
            sensitivity: Sensitivity::Plain,
            kind: InputKind::Text { max_len: Self::DEFAULT_MAX_LEN, allowed: CharSet::Printable },
        }
    }

    /// A required secret text input (a password).
    pub fn secret(name: &str, label: &str) -> Self {
        Self { sensitivity: Sensitivity::Secret, ..Self::text(name, label) }
    }

    /// A required choice among values.
    pub fn choice(name: &str, label: &str, values: &[&str]) -> Self {
        Self { kind: InputKind::Choice(values.iter().map(|v| (*v).to_owned()).collect()), ..Self::text(name, label) }
    }

    /// Whether it must be given.
    #[must_use]
    pub fn with_presence(mut self, presence: Presence) -> Self {
        self.presence = presence;
        self
    }

    /// Whether it is a secret.
    #[must_use]
    pub fn with_sensitivity(mut self, sensitivity: Sensitivity) -> Self {
        self.sensitivity = sensitivity;
        self
    }

    /// The maximum length of a text input (no effect on a choice).
    #[must_use]
    pub fn with_max_len(mut self, len: usize) -> Self {
        if let InputKind::Text { max_len, .. } = &mut self.kind {
            *max_len = len;
        }
        self
    }

    /// The characters a text input allows (no effect on a choice).
    #[must_use]
    pub fn with_charset(mut self, charset: CharSet) -> Self {
        if let InputKind::Text { allowed, .. } = &mut self.kind {
            *allowed = charset;
        }
        self
    }

    /// Checks one value; the reason never quotes it.
    fn check(&self, value: &str) -> Result<(), String> {
        match &self.kind {
            InputKind::Choice(values) => {
                if values.iter().any(|v| v == value) {
                    Ok(())
                } else {
                    Err(format!("must be one of {}", values.join(", ")))
                }
            }
            InputKind::Text { max_len, allowed } => {
                if value.is_empty() {
                    return Err("is empty".into());
                }
                if value.chars().count() > *max_len {
                    return Err(format!("is longer than {max_len} characters"));
                }
                let ok = match allowed {
                    CharSet::Identifier => value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                    CharSet::Printable => !value.chars().any(char::is_control),
                };
                if ok { Ok(()) } else { Err("has characters that are not allowed".into()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_input_never_the_value() {
        let specs = [
            InputSpec::text("accountId", "Account").with_charset(CharSet::Identifier).with_max_len(8),
            InputSpec::secret("password", "Password"),
            InputSpec::choice("dc", "Data centre", &["com", "eu"]).with_presence(Presence::Optional),
        ];
        let ok = Inputs::new().with_input("accountId", "A-1").with_input("password", "SENTINEL-pw");
        ok.validate(&specs).unwrap();
        assert_eq!(ok.plain_params(&specs), BTreeMap::from([("accountId".to_owned(), "A-1".to_owned())]));
        assert!(!format!("{ok:?}").contains("SENTINEL"));
        for (bad, name) in [
            (Inputs::new().with_input("password", "x"), "accountId"),
            (ok.clone().with_input("accountId", "has space"), "accountId"),
            (ok.clone().with_input("accountId", "123456789"), "accountId"),
            (ok.clone().with_input("dc", "us"), "dc"),
            (ok.clone().with_input("password", ""), "password"),
            (ok.clone().with_input("other", "SENTINEL-x"), "other"),
        ] {
            let e = bad.validate(&specs).unwrap_err();
            assert!(matches!(&e, ProviderError::InvalidInput { name: n, .. } if n == name), "{e}");
            assert!(!e.to_string().contains("SENTINEL"), "{e}");
        }
    }
}
