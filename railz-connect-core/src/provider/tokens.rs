use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use crate::secret::{AccessToken, RefreshToken};

/// The tokens of one grant, plus the non-secret parameters a provider needs later (a realm id,
/// an API domain, a data centre, the pre-authorization inputs). Stored only encrypted.
///
/// It has no `Serialize`/`Deserialize`: its secrets are written only into the sealed payload
/// of the credential store, never into another serde output by accident.
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<RefreshToken>,
    /// The scopes granted, when the provider said.
    pub scopes: Vec<String>,
    /// When the access token expires, when known.
    pub access_expires_at: Option<OffsetDateTime>,
    /// When the refresh token expires, when known.
    pub refresh_expires_at: Option<OffsetDateTime>,
    /// When these tokens were obtained.
    pub obtained_at: OffsetDateTime,
    /// Non-secret provider parameters (`realmId`, `api_domain`, inputs, ...).
    pub params: BTreeMap<String, String>,
}

impl TokenSet {
    /// The longest lifetime a token may be given: a provider answering more (an absurd
    /// `expires_in`) is clamped to this, so no provider input can overflow a timestamp.
    pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

    /// A token set with only an access token.
    pub fn new(access_token: AccessToken, obtained_at: OffsetDateTime) -> Self {
        Self {
            access_token,
            refresh_token: None,
            scopes: Vec::new(),
            access_expires_at: None,
            refresh_expires_at: None,
            obtained_at,
            params: BTreeMap::new(),
        }
    }

    /// `now + lifetime`, with the lifetime clamped to [`TokenSet::MAX_LIFETIME`]: never panics,
    /// whatever a provider said.
    pub fn expiry(now: OffsetDateTime, lifetime: Duration) -> OffsetDateTime {
        let clamped = lifetime.min(Self::MAX_LIFETIME);
        if clamped < lifetime {
            tracing::warn!(seconds = lifetime.as_secs(), "a token lifetime beyond ten years was clamped");
        }
        time::Duration::try_from(clamped).ok().and_then(|d| now.checked_add(d)).unwrap_or(now)
    }

    /// Whether the access token expires within `margin` of `now` (unknown expiry: no).
    ///
    /// The margin is never more than half of the token's lifetime, so a token that lives less
    /// than twice the margin is not refreshed on every call.
    pub fn access_expires_within(&self, now: OffsetDateTime, margin: Duration) -> bool {
        let Some(at) = self.access_expires_at else { return false };
        Self::expires_within(self.obtained_at, at, now, margin)
    }

    /// Whether something obtained at `obtained_at` and expiring at `at` is within `margin`
    /// (at most half its lifetime) of expiring at `now`.
    pub(crate) fn expires_within(
        obtained_at: OffsetDateTime,
        at: OffsetDateTime,
        now: OffsetDateTime,
        margin: Duration,
    ) -> bool {
        let lifetime = (at - obtained_at).max(time::Duration::ZERO);
        let margin = time::Duration::try_from(margin).unwrap_or(time::Duration::MAX).min(lifetime / 2);
        now.checked_add(margin).is_none_or(|due| at <= due)
    }
}

/// The sealed form of a [`TokenSet`] (written): the one place its secrets are serialized.
#[derive(Serialize)]
pub(crate) struct PayloadRef<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    scopes: &'a [String],
    #[serde(with = "time::serde::rfc3339::option")]
    access_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    refresh_expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    obtained_at: OffsetDateTime,
    params: &'a BTreeMap<String, String>,
}

impl<'a> From<&'a TokenSet> for PayloadRef<'a> {
    fn from(t: &'a TokenSet) -> Self {
        Self {
            access_token: t.access_token.secret(),
            refresh_token: t.refresh_token.as_ref().map(RefreshToken::secret),
            scopes: &t.scopes,
            access_expires_at: t.access_expires_at,
            refresh_expires_at: t.refresh_expires_at,
            obtained_at: t.obtained_at,
            params: &t.params,
        }
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("scopes", &self.scopes)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn absurd_lifetimes_are_clamped_not_panics() {
        let now = at(1_800_000_000);
        let far = TokenSet::expiry(now, Duration::from_secs(300_000_000_000));
        assert_eq!(far, TokenSet::expiry(now, TokenSet::MAX_LIFETIME));
        assert_eq!(TokenSet::expiry(now, Duration::MAX), far);
        assert_eq!(TokenSet::expiry(now, Duration::from_secs(60)), at(1_800_000_060));
        // Near the end of time, still no panic.
        assert_eq!(
            TokenSet::expiry(
                OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
                Duration::from_secs(86_400 * 400)
            )
            .year(),
            9999
        );
    }

    #[test]
    fn refresh_margin_is_at_most_half_the_lifetime() {
        let mut t = TokenSet::new(AccessToken::new("a"), at(1000));
        assert!(!t.access_expires_within(at(5000), Duration::from_secs(60)), "unknown expiry");
        t.access_expires_at = Some(at(1030)); // lives 30 s
        assert!(!t.access_expires_within(at(1000), Duration::from_secs(60)), "a 60 s margin is cut to 15 s");
        assert!(!t.access_expires_within(at(1014), Duration::from_secs(60)));
        assert!(t.access_expires_within(at(1015), Duration::from_secs(60)));
        t.access_expires_at = Some(at(4600)); // lives an hour
        assert!(!t.access_expires_within(at(4539), Duration::from_secs(60)));
        assert!(t.access_expires_within(at(4540), Duration::from_secs(60)));
        assert!(t.access_expires_within(at(4540), Duration::MAX), "a huge margin is half the lifetime");
        assert!(!t.access_expires_within(at(2799), Duration::MAX));
    }
}
