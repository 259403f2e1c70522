//! URL templates of catalog files: `{name}` is replaced by an input or a kept parameter
//! (percent-encoded as a path segment), `{name|host}` by a host label made of it (NetSuite's
//! `1234567_SB1` → `1234567-sb1`), `{api}` (at the start only) by the service's API base URL,
//! `{tenant}` by the connection's tenant id.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// Characters kept as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// How a placeholder's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Percent-encoded as a path segment.
    Segment,
    /// A host label: lower-case, `_` as `-`, only letters, digits and `-`.
    Host,
}

/// The placeholders of a template, in order.
pub(crate) fn placeholders(template: &str) -> Result<Vec<(String, Filter)>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        let inner = &after[..close];
        let (name, filter) = match inner.split_once('|') {
            Some((name, "host")) => (name, Filter::Host),
            Some((_, other)) => return Err(format!("unknown filter `{other}` in `{template}`")),
            None => (inner, Filter::Segment),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!("bad placeholder `{{{inner}}}` in `{template}`"));
        }
        if name == "api" && (open != 0 || !out.is_empty() || filter != Filter::Segment) {
            return Err(format!("`{{api}}` may only start `{template}`"));
        }
        out.push((name.to_owned(), filter));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("stray `}}` in `{template}`"));
    }
    Ok(out)
}

/// A host label made of a value, or `None` when it cannot be one.
fn host_label(value: &str) -> Option<String> {
    let label: String = value.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    let ok = !label.is_empty()
        && label.len() <= 63
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    ok.then_some(label)
}

/// Expands a template. `vars` answers a placeholder's raw value (`api` answers the base URL,
/// written as it is).
pub(crate) fn expand(template: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<Url, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `{{` in `{template}`"))?;
        let inner = &after[..close];
        let (name, filter) = match inner.split_once('|') {
            Some((name, _)) => (name, Filter::Host),
            None => (inner, Filter::Segment),
        };
        let value = vars(name).ok_or_else(|| format!("`{name}` is not known here"))?;
        match (name, filter) {
            ("api", _) => out.push_str(value.trim_end_matches('/')),
            (_, Filter::Host) => {
                out.push_str(&host_label(&value).ok_or_else(|| format!("`{name}` cannot be part of a host name"))?)
            }
            (_, Filter::Segment) => out.extend(utf8_percent_encode(&value, SEGMENT)),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Url::parse(&out).map_err(|e| format!("`{template}` does not make a URL: {e}"))
}

/// The URL moved onto `base`: its scheme, host and port, with `base`'s path before its own
/// (`https://identity.xero.com/connect/token` on `http://127.0.0.1:9/` →
/// `http://127.0.0.1:9/connect/token`).
pub(crate) fn rebase(url: &Url, base: &Url) -> Url {
    let mut out = base.clone();
    let path = format!("{}{}", base.path().trim_end_matches('/'), url.path());
    out.set_path(&path);
    out.set_query(url.query());
    out.set_fragment(None);
    out
}

/// The URL with its origin (scheme, host, port) replaced by `origin`'s.
pub(crate) fn with_origin(url: &Url, origin: &Url) -> Result<Url, String> {
    let mut out = url.clone();
    out.set_scheme(origin.scheme()).map_err(|()| "scheme".to_owned())?;
    out.set_host(origin.host_str()).map_err(|e| e.to_string())?;
    out.set_port(origin.port()).map_err(|()| "port".to_owned())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_encodes_and_rebases() {
        let vars = |name: &str| match name {
            "accountId" => Some("1234567_SB1".to_owned()),
            "tenant" => Some("a b/c".to_owned()),
            "api" => Some("https://api.example.com/".to_owned()),
            _ => None,
        };
        let url = expand("https://{accountId|host}.app.netsuite.com/app/login", &vars).unwrap();
        assert_eq!(url.as_str(), "https://1234567-sb1.app.netsuite.com/app/login");
        let url = expand("{api}/v3/company/{tenant}/info", &vars).unwrap();
        assert_eq!(url.as_str(), "https://api.example.com/v3/company/a%20b%2Fc/info");
        assert!(expand("https://{tenant|host}.example.com/", &vars).is_err(), "not a host label");
        assert!(expand("https://x/{missing}", &vars).is_err());
        let base = Url::parse("http://127.0.0.1:9/emu/").unwrap();
        let moved = rebase(&Url::parse("https://identity.xero.com/connect/token?a=1").unwrap(), &base);
        assert_eq!(moved.as_str(), "http://127.0.0.1:9/emu/connect/token?a=1");
        assert_eq!(placeholders("{api}/x/{tenant}").unwrap().len(), 2);
        assert!(placeholders("https://x/{api}").is_err(), "{{api}} only at the start");
        assert!(placeholders("https://x/{a|upper}").is_err());
    }
}
