//! Secret newtypes: they never print, compare or leak.
//!
//! Every secret in the SDK (access and refresh tokens, client secrets, the CSRF `state`, the PKCE
//! verifier, widget session tokens, data keys) is a newtype whose `Debug` prints `[redacted]`,
//! which has no `PartialEq` and no `Display`, whose value is reached only through an explicit
//! `secret()` call, and whose memory is zeroized on drop.
//!
//! None of them implements `Serialize` or `Deserialize` (nor do [`TokenSet`](crate::provider::TokenSet) and [`Credentials`](crate::provider::Credentials)):
//! secrets are written only into the sealed payloads the SDK encrypts, never into a serde
//! output by accident (a log line, an API response, a cache):
//!
//! ```compile_fail
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<railz_connect_core::secret::AccessToken>();
//! ```
//!
//! ```compile_fail
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<railz_connect_core::provider::TokenSet>();
//! ```
//!
//! ```compile_fail
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<railz_connect_core::provider::Credentials>();
//! ```
//!
//! ```compile_fail
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<railz_connect_core::secret::SecretValue>();
//! ```
//!
//! (The same check compiles for a serializable type, and the paths above name real types:)
//!
//! ```
//! fn serializable<T: serde::Serialize>() {}
//! serializable::<String>();
//! fn exists<T>() {}
//! exists::<(railz_connect_core::provider::TokenSet, railz_connect_core::provider::Credentials)>();
//! exists::<railz_connect_core::secret::SecretValue>();
//! exists::<railz_connect_core::secret::AccessToken>();
//! ```

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
secret_type!(
    /// A browser-binding value: [`Connect::begin`](crate::Connect::begin) returns one for the app
    /// to set as an `HttpOnly`, `SameSite=Lax` cookie in the user's browser (see
    /// [`AuthorizationStart::set_cookie`](crate::AuthorizationStart::set_cookie)); the store keeps
    /// only its hash, and [`Connect::complete`](crate::Connect::complete) refuses a callback that
    /// does not bring it back, so a URL opened in another browser cannot attach a grant.
    #[derive(Clone)]
    BrowserBinding
);

secret_type!(
    /// A secret field of a business's credentials: an input marked secret (a password, a
    /// consumer secret, a token secret) or a value a credential-based provider keeps (a
    /// session id). Sealed like tokens; never printed, never copied into parameters.
    #[derive(Clone)]
    SecretValue
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
}
