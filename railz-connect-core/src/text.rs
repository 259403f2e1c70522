//! Bounding text that comes from outside (callback parameters, provider error descriptions)
//! before it is logged or kept.

/// At most `max` characters of `value`, with control characters replaced by `U+FFFD` and `…`
/// appended when it was cut: safe to log and to keep, whatever its size or content.
pub(crate) fn bounded(value: &str, max: usize) -> String {
    let mut out: String =
        value.chars().take(max).map(|c| if c.is_control() { char::REPLACEMENT_CHARACTER } else { c }).collect();
    if value.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The longest outside value the SDK logs or keeps, in characters.
pub(crate) const MAX_LOGGED: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_cleans() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("abcdef", 3), "abc…");
        assert_eq!(bounded("a\nb\u{1b}[31m", 10), "a\u{fffd}b\u{fffd}[31m");
        let huge = "x".repeat(1_000_000);
        assert_eq!(bounded(&huge, MAX_LOGGED).chars().count(), MAX_LOGGED + 1);
    }
}
