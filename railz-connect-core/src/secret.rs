//! Secret newtypes: they never print, compare or leak.
//!
//! Every secret in the SDK (access and refresh tokens, client secrets, the CSRF `state`, the PKCE
//! verifier, widget session tokens, data keys) is a newtype whose `Debug` prints `[redacted]`,
//! which has no `PartialEq` and no `Display`, whose value is reached only through an explicit
//! `secret()` call, and whose memory is zeroized on drop.

use std::fmt;

use zeroize::Zeroizing;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(Zeroizing::new(value.into()))
            }

            /// The secret value. Every call site that reads it is a place a secret can leak:
            /// keep them few and never log the result.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::new)
            }
        }
    };
}

secret_type!(
    /// An OAuth2 access token.
    #[derive(Clone)]
    AccessToken
);
secret_type!(
    /// An OAuth2 refresh token.
    #[derive(Clone)]
    RefreshToken
);
secret_type!(
    /// An OAuth2 client secret, as issued by a provider to the app.
    #[derive(Clone)]
    ClientSecret
);
secret_type!(
    /// A one-time authorization code received on the callback.
    AuthorizationCode
);
secret_type!(
    /// The CSRF `state` of one authorization (32 random bytes, base64url).
    #[must_use]
    StateToken
);
secret_type!(
    /// A PKCE code verifier (RFC 7636). Deliberately not `Clone`: one per authorization.
    PkceVerifier
);
secret_type!(
    /// A widget session token: the sealed session the app hands to the widget and to
    /// [`Connect::begin`](crate::Connect::begin).
    #[derive(Clone)]
    SessionToken
);
secret_type!(
    /// A tenant-selection ticket: identifies an authorization waiting for the user to choose
    /// a tenant (organisation, company) after [`Connect::complete`](crate::Connect::complete).
    #[derive(Clone)]
    TenantTicket
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_exactly() {
        let t = AccessToken::new("SENTINEL-access");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{:?}", PkceVerifier::new("x")), "PkceVerifier([redacted])");
        assert_eq!(t.secret(), "SENTINEL-access");
    }

    #[test]
    fn serde_round_trip_keeps_value() {
        let t = RefreshToken::new("r1");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"r1\"");
        let back: RefreshToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back.secret(), "r1");
    }
}
