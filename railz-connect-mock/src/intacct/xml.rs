//! Just enough XML for the gateway: a small element tree read with
//! quick-xml, and escaping for the answers written with `format!`.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// One element: name, attributes, child elements, and its own text (text,
/// entity and character references and CDATA joined, not trimmed).
#[derive(Debug, Default)]
pub(super) struct Element {
    pub(super) name: String,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) children: Vec<Element>,
    pub(super) text: String,
}

impl Element {
    pub(super) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of child `name`, exactly as sent (values such as passwords
    /// are not trimmed).
    pub(super) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "content is not UTF-8".to_owned())
}

/// Parses a whole document into its root element. A DOCTYPE, an unknown
/// entity, mismatched tags, a second root or trailing text are errors.
pub(super) fn parse(input: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(input);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("{e} at position {}", reader.buffer_position()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                return Err(format!(
                    "content after the root element: <{}>",
                    String::from_utf8_lossy(start.name().as_ref())
                ));
            }
            Event::Start(start) => {
                let element = open(&start)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&start)?;
                close(element, &mut stack, &mut root);
            }
            Event::End(_) => {
                let element = stack.pop().ok_or("unexpected end tag")?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(text) => {
                let text = text.decode().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err("text outside the root element".to_owned()),
                }
            }
            Event::CData(data) => {
                let top = stack.last_mut().ok_or("CDATA outside the root element")?;
                top.text.push_str(&utf8(&data)?);
            }
            Event::GeneralRef(reference) => {
                let top = stack.last_mut().ok_or("reference outside the root element")?;
                if reference.is_char_ref() {
                    let c =
                        reference.resolve_char_ref().map_err(|e| e.to_string())?.ok_or("bad character reference")?;
                    top.text.push(c);
                } else {
                    let name = utf8(&reference)?;
                    let value = resolve_predefined_entity(&name).ok_or_else(|| format!("unknown entity &{name};"))?;
                    top.text.push_str(value);
                }
            }
            Event::DocType(_) => return Err("DOCTYPE is not allowed".to_owned()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".to_owned());
    }
    root.ok_or_else(|| "no root element".to_owned())
}

fn open(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = utf8(start.name().as_ref())?;
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let value = attr.unescape_value().map_err(|e| e.to_string())?;
        attrs.push((utf8(attr.key.as_ref())?, value.into_owned()));
    }
    Ok(Element { name, attrs, children: Vec::new(), text: String::new() })
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Escapes `& < > ' "` for element text and attribute values.
pub(super) fn esc(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entities_char_refs_and_cdata() {
        let root =
            parse("<?xml version=\"1.0\"?><a x=\"1&amp;2\"><p>s&amp;&lt;&#33;&#x3a;</p><q><![CDATA[<&>]]></q></a>")
                .unwrap();
        assert_eq!(root.attr("x"), Some("1&2"));
        assert_eq!(root.child_text("p"), Some("s&<!:"));
        assert_eq!(root.child_text("q"), Some("<&>"));
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>&bogus;</a>").is_err());
        assert!(parse("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>").is_err());
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("").is_err());
    }
}
