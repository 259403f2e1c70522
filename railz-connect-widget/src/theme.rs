//! The widget's look: logo, font and two colours (Railz's `theme`), checked so that nothing
//! from a mount option can inject style or load a third-party resource.

use std::fmt;

/// A colour, `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

/// A theme value was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTheme {
    /// Not `#rgb` or `#rrggbb`.
    #[error("a colour must be #rgb or #rrggbb")]
    Color,
    /// A font family with other characters than letters, digits, spaces, commas, quotes and
    /// hyphens, or longer than 100 characters.
    #[error("a font family may hold letters, digits, spaces, commas, quotes and hyphens (at most 100)")]
    Font,
    /// A logo that is neither a path on this site nor a `data:image/...;base64,` URL, or is
    /// larger than 32 KB.
    #[error(
        "a logo must be a path on this site (/...) or a data:image/(png|jpeg|gif|webp|svg+xml);base64 URL under 32 KB"
    )]
    Logo,
}

impl Color {
    /// Parses `#rgb` or `#rrggbb`.
    pub fn parse(s: &str) -> Result<Self, InvalidTheme> {
        let hex = s.strip_prefix('#').ok_or(InvalidTheme::Color)?;
        if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(InvalidTheme::Color)
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The widget's look. Every field is optional: the style sheet's defaults apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Theme {
    /// The app's logo: a path on the app's own site, or an inline `data:` image.
    pub logo: Option<String>,
    /// The font stack.
    pub font_family: Option<String>,
    /// The main colour (buttons, focus ring).
    pub primary: Option<Color>,
    /// The second colour (accents, badges).
    pub secondary: Option<Color>,
}

impl Theme {
    /// The largest inline logo.
    pub const MAX_LOGO: usize = 32 * 1024;

    /// The default look.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the logo.
    pub fn with_logo(mut self, logo: &str) -> Result<Self, InvalidTheme> {
        self.logo = Some(check_logo(logo)?);
        Ok(self)
    }

    /// Sets the font stack.
    pub fn with_font_family(mut self, font: &str) -> Result<Self, InvalidTheme> {
        self.font_family = Some(check_font(font)?);
        Ok(self)
    }

    /// Sets the main colour.
    #[must_use]
    pub fn with_primary(mut self, color: Color) -> Self {
        self.primary = Some(color);
        self
    }

    /// Sets the second colour.
    #[must_use]
    pub fn with_secondary(mut self, color: Color) -> Self {
        self.secondary = Some(color);
        self
    }

    /// This theme with the valid values of a page's options on top; invalid ones are ignored
    /// (and logged), never passed on.
    pub(crate) fn overlaid(
        &self,
        logo: Option<&str>,
        font: Option<&str>,
        primary: Option<&str>,
        secondary: Option<&str>,
    ) -> Theme {
        fn take<T>(value: Option<&str>, what: &str, parse: impl Fn(&str) -> Result<T, InvalidTheme>) -> Option<T> {
            let value = value.filter(|v| !v.is_empty())?;
            parse(value).inspect_err(|e| tracing::debug!(option = what, error = %e, "theme option ignored")).ok()
        }
        Theme {
            logo: take(logo, "logo", check_logo).or_else(|| self.logo.clone()),
            font_family: take(font, "fontFamily", check_font).or_else(|| self.font_family.clone()),
            primary: take(primary, "primary", Color::parse).or_else(|| self.primary.clone()),
            secondary: take(secondary, "secondary", Color::parse).or_else(|| self.secondary.clone()),
        }
    }

    /// The `:root` custom properties of this theme (every value checked above, so the text is
    /// safe inside a `<style>` element).
    pub(crate) fn css(&self) -> String {
        let mut css = String::from(":root{");
        if let Some(c) = &self.primary {
            css.push_str(&format!("--rcw-primary:{c};"));
        }
        if let Some(c) = &self.secondary {
            css.push_str(&format!("--rcw-secondary:{c};"));
        }
        if let Some(f) = &self.font_family {
            css.push_str(&format!("--rcw-font:{f};"));
        }
        css.push('}');
        css
    }
}

fn check_font(font: &str) -> Result<String, InvalidTheme> {
    let ok = !font.trim().is_empty()
        && font.len() <= 100
        && font.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | '"' | '\'' | '-'));
    if ok { Ok(font.trim().to_owned()) } else { Err(InvalidTheme::Font) }
}

fn check_logo(logo: &str) -> Result<String, InvalidTheme> {
    const KINDS: [&str; 5] = ["png", "jpeg", "gif", "webp", "svg+xml"];
    let ok = if let Some(rest) = logo.strip_prefix("data:image/") {
        logo.len() <= Theme::MAX_LOGO
            && KINDS.iter().any(|k| {
                rest.strip_prefix(k).and_then(|r| r.strip_prefix(";base64,")).is_some_and(|data| {
                    data.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
                })
            })
    } else {
        // A path on this site: one leading slash (not `//host`), no scheme, no backslash.
        logo.starts_with('/')
            && !logo.starts_with("//")
            && logo.len() <= 300
            && logo.bytes().all(|b| b.is_ascii_graphic() && b != b'\\' && b != b'"' && b != b'\'')
    };
    if ok { Ok(logo.to_owned()) } else { Err(InvalidTheme::Logo) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(Color::parse("#0a5").is_ok() && Color::parse("#00AA55").is_ok());
        for bad in ["red", "#12", "#1234567", "#ggg", "#000;}body{x:y"] {
            assert!(Color::parse(bad).is_err(), "{bad}");
        }
        assert!(check_font("Inter, 'Helvetica Neue', sans-serif").is_ok());
        assert!(check_font("x;}body{display:none").is_err());
        assert!(check_logo("/static/logo.svg").is_ok());
        assert!(check_logo("data:image/png;base64,iVBORw0KGgo=").is_ok());
        for bad in [
            "https://cdn.example/logo.png",
            "//cdn.example/x.png",
            "data:text/html;base64,PHNj",
            "javascript:alert(1)",
            "/a\"onerror=x",
        ] {
            assert!(check_logo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_overlay_but_never_inject() {
        let base = Theme::new().with_primary(Color::parse("#111111").unwrap());
        let t = base.overlaid(Some("https://evil.example/x.png"), Some("Inter"), Some("}*{"), Some("#222"));
        assert_eq!(t.logo, None);
        assert_eq!(t.primary, base.primary);
        assert_eq!(t.css(), ":root{--rcw-primary:#111111;--rcw-secondary:#222;--rcw-font:Inter;}");
    }
}
