//! The widget's words, in English and French, with per-screen overrides (Railz's `content`).

use std::collections::BTreeMap;

/// A language the widget speaks. Anything else falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Language {
    /// English (the fallback).
    #[default]
    En,
    /// French.
    Fr,
}

impl Language {
    /// The language of a BCP 47 tag (`fr`, `fr-CA`, `FR`); English for anything unknown.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("fr") { Self::Fr } else { Self::En }
    }

    /// The first language of an `Accept-Language` header the widget speaks, else English.
    pub fn from_accept_language(header: &str) -> Self {
        header
            .split(',')
            .map(|part| part.split(';').next().unwrap_or_default().trim())
            .find_map(|tag| {
                let lang = Self::from_tag(tag);
                (lang != Self::En || tag.to_ascii_lowercase().starts_with("en")).then_some(lang)
            })
            .unwrap_or_default()
    }

    /// Its tag, for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }
}

/// Every string key the widget shows, with its English and French text. A `content` override
/// uses the same keys (`picker.title`, or nested: `{"picker": {"title": ...}}`).
const STRINGS: &[(&str, &str, &str)] = &[
    ("widget.label", "Connect accounting software", "Connecter un logiciel de comptabilité"),
    ("widget.close", "Close", "Fermer"),
    ("widget.working", "One moment…", "Un instant…"),
    ("picker.title", "Connect your accounting software", "Connectez votre logiciel de comptabilité"),
    ("picker.subtitle", "Choose the service your business uses.", "Choisissez le service qu’utilise votre entreprise."),
    ("picker.search", "Search services", "Rechercher un service"),
    ("picker.country", "Country", "Pays"),
    ("picker.allCountries", "All countries", "Tous les pays"),
    ("picker.empty", "No service matches your search.", "Aucun service ne correspond à votre recherche."),
    ("picker.sandbox", "Sandbox", "Bac à sable"),
    ("picker.count", "services shown", "services affichés"),
    ("inputs.title", "A few details first", "Quelques informations d’abord"),
    (
        "inputs.subtitle",
        "These are sent only to the service you chose.",
        "Elles ne sont envoyées qu’au service choisi.",
    ),
    ("inputs.continue", "Continue", "Continuer"),
    ("inputs.back", "Back", "Retour"),
    ("inputs.optional", "(optional)", "(facultatif)"),
    ("redirect.title", "Finish at your provider", "Terminez chez votre fournisseur"),
    (
        "redirect.body",
        "A window opened where you sign in and allow access. This page continues when you are done.",
        "Une fenêtre s’est ouverte pour vous connecter et autoriser l’accès. Cette page continue ensuite.",
    ),
    ("redirect.reopen", "Open the sign-in window again", "Rouvrir la fenêtre de connexion"),
    ("tenant.title", "Choose a company", "Choisissez une entreprise"),
    (
        "tenant.subtitle",
        "Your sign-in reaches several companies. Choose the one to connect.",
        "Votre connexion donne accès à plusieurs entreprises. Choisissez celle à connecter.",
    ),
    ("tenant.continue", "Connect this company", "Connecter cette entreprise"),
    ("success.title", "Connected", "Connecté"),
    (
        "success.body",
        "Your accounting software is connected. You can close this window.",
        "Votre logiciel de comptabilité est connecté. Vous pouvez fermer cette fenêtre.",
    ),
    ("error.title", "The connection did not succeed", "La connexion n’a pas abouti"),
    ("error.retry", "Try again", "Réessayer"),
    ("error.code", "Reason code", "Code de raison"),
    ("callback.title", "Finishing the connection", "Finalisation de la connexion"),
    (
        "callback.lost",
        "This window is no longer needed. Return to the page you started from.",
        "Cette fenêtre n’est plus utile. Revenez à la page de départ.",
    ),
];

/// The message shown for a reason code (a failed authorization or a refused request).
const REASONS: &[(&str, &str, &str)] = &[
    ("accessDenied", "Access was not allowed at the provider.", "L’accès n’a pas été autorisé chez le fournisseur."),
    (
        "insufficientPermission",
        "Only an administrator or owner of the company can connect it. Ask one to sign in.",
        "Seul un administrateur ou propriétaire de l’entreprise peut la connecter. Demandez-lui de se connecter.",
    ),
    ("unauthorizedCredentials", "The provider refused these credentials.", "Le fournisseur a refusé ces identifiants."),
    (
        "authorizationExpired",
        "The authorization took too long. Start again.",
        "L’autorisation a pris trop de temps. Recommencez.",
    ),
    ("noTenant", "No company was found for this sign-in.", "Aucune entreprise n’a été trouvée pour cette connexion."),
    ("invalidCallback", "The provider’s answer was not valid.", "La réponse du fournisseur n’était pas valide."),
    (
        "rateLimited",
        "The provider is busy. Try again in a moment.",
        "Le fournisseur est occupé. Réessayez dans un instant.",
    ),
    (
        "providerUnavailable",
        "The provider is unavailable. Try again later.",
        "Le fournisseur est indisponible. Réessayez plus tard.",
    ),
    ("timeout", "The session timed out. Start again.", "La session a expiré. Recommencez."),
    ("sessionExpired", "The session has expired. Start again.", "La session a expiré. Recommencez."),
    (
        "invalidSession",
        "This session is not valid. Start again from the app.",
        "Cette session n’est pas valide. Recommencez depuis l’application.",
    ),
    (
        "invalidInput",
        "Some details are missing or not valid.",
        "Certaines informations manquent ou ne sont pas valides.",
    ),
    ("serviceNotOffered", "This service is not offered here.", "Ce service n’est pas proposé ici."),
    (
        "browserMismatch",
        "Finish in the browser where you started.",
        "Terminez dans le navigateur où vous avez commencé.",
    ),
    (
        "popupBlocked",
        "The sign-in window was blocked. Allow pop-ups and try again.",
        "La fenêtre de connexion a été bloquée. Autorisez les fenêtres et réessayez.",
    ),
    (
        "originNotAllowed",
        "This widget cannot be shown on this site.",
        "Ce widget ne peut pas être affiché sur ce site.",
    ),
    ("unknown", "Something went wrong. Try again.", "Une erreur est survenue. Réessayez."),
];

/// The reason codes the widget has its own message for (others show `unknown`'s).
pub(crate) fn reason_keys() -> impl Iterator<Item = &'static str> {
    REASONS.iter().map(|(k, _, _)| *k)
}

fn pick(table: &'static [(&str, &str, &str)], key: &str, lang: Language) -> Option<&'static str> {
    table.iter().find(|(k, _, _)| *k == key).map(|(_, en, fr)| match lang {
        Language::En => *en,
        Language::Fr => *fr,
    })
}

/// The message for a reason code in a language.
pub fn reason_message(lang: Language, reason: &str) -> &'static str {
    pick(REASONS, reason, lang).or_else(|| pick(REASONS, "unknown", lang)).unwrap_or_default()
}

/// Text overrides by key (`picker.title` → text), from configuration, then mount options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content(BTreeMap<String, String>);

impl Content {
    /// The longest override kept (characters).
    pub const MAX_TEXT: usize = 300;

    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides one key. Unknown keys and empty text are ignored; text is cut at
    /// [`Content::MAX_TEXT`] characters.
    #[must_use]
    pub fn with(mut self, key: &str, text: &str) -> Self {
        self.set(key, text);
        self
    }

    fn set(&mut self, key: &str, text: &str) {
        let text = text.trim();
        if STRINGS.iter().any(|(k, _, _)| *k == key) && !text.is_empty() {
            self.0.insert(key.to_owned(), text.chars().take(Self::MAX_TEXT).collect());
        }
    }

    /// Reads Railz-style `content` JSON: `{"picker": {"title": "..."}}` or flat
    /// `{"picker.title": "..."}`. Unknown keys and non-string values are ignored.
    pub fn from_json(value: &serde_json::Value) -> Self {
        let mut content = Self::new();
        let Some(top) = value.as_object() else { return content };
        for (screen, v) in top {
            match v {
                serde_json::Value::String(text) => content.set(screen, text),
                serde_json::Value::Object(fields) => {
                    for (field, text) in fields {
                        if let Some(text) = text.as_str() {
                            content.set(&format!("{screen}.{field}"), text);
                        }
                    }
                }
                _ => {}
            }
        }
        content
    }

    /// These overrides, then `other`'s on top.
    #[must_use]
    pub fn merged(&self, other: &Content) -> Content {
        let mut out = self.clone();
        out.0.extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The text for a key: an override, else the language's string.
    pub fn text<'a>(&'a self, lang: Language, key: &str) -> &'a str {
        self.0.get(key).map(String::as_str).or_else(|| pick(STRINGS, key, lang)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_fall_back_to_english() {
        assert_eq!(Language::from_tag("fr-CA"), Language::Fr);
        assert_eq!(Language::from_tag("FR"), Language::Fr);
        assert_eq!(Language::from_tag("de"), Language::En);
        assert_eq!(Language::from_accept_language("de-DE,fr;q=0.8,en;q=0.5"), Language::Fr);
        assert_eq!(Language::from_accept_language("en-GB,fr;q=0.8"), Language::En);
        assert_eq!(Language::from_accept_language(""), Language::En);
    }

    #[test]
    fn every_string_has_both_languages() {
        for (key, en, fr) in STRINGS.iter().chain(REASONS) {
            assert!(!en.is_empty() && !fr.is_empty(), "{key}");
            assert_ne!(en, fr, "{key} is not translated");
        }
        let content = Content::new();
        assert_eq!(content.text(Language::Fr, "success.title"), "Connecté");
        assert_eq!(reason_message(Language::En, "somethingNew"), reason_message(Language::En, "unknown"));
    }

    #[test]
    fn content_overrides_known_keys_only() {
        let json = serde_json::json!({
            "picker": {"title": "Link your books", "bogus": "x", "subtitle": 3},
            "success.title": "All set",
            "nope.title": "ignored",
        });
        let content = Content::from_json(&json);
        assert_eq!(content.text(Language::En, "picker.title"), "Link your books");
        assert_eq!(content.text(Language::Fr, "success.title"), "All set");
        assert_eq!(content.text(Language::En, "picker.subtitle"), "Choose the service your business uses.");
        assert_eq!(content.0.len(), 2);
        let long = Content::new().with("error.title", &"x".repeat(1000));
        assert_eq!(long.text(Language::En, "error.title").len(), Content::MAX_TEXT);
    }
}
