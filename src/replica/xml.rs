//! The few fields mailseal reads from S3's XML answers (listings, error
//! codes), with quick-xml.

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Every `<tag>` element's child elements as `name -> text` (one level;
/// nested elements such as `<Owner>` contribute their innermost text under
/// the innermost name).
pub fn records(xml: &str, tag: &str) -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let mut current: Option<HashMap<String, String>> = None;
    let mut field: Option<String> = None;
    walk(xml, |event| match event {
        Walk::Start(name) if name == tag => current = Some(HashMap::new()),
        Walk::Start(name) => field = Some(name.to_owned()),
        Walk::Text(text) => {
            if let (Some(rec), Some(f)) = (current.as_mut(), field.as_ref()) {
                rec.entry(f.clone()).or_default().push_str(text);
            }
        }
        Walk::End(name) if name == tag => {
            out.extend(current.take());
            field = None;
        }
        Walk::End(_) => field = None,
    });
    out
}

/// The text of the first `<tag>` element anywhere (outside any record).
pub fn top(xml: &str, tag: &str) -> Option<String> {
    let mut inside = false;
    let mut found: Option<String> = None;
    let mut done = false;
    walk(xml, |event| match event {
        Walk::Start(name) if name == tag && !done => inside = true,
        Walk::Text(text) if inside => found.get_or_insert_with(String::new).push_str(text),
        Walk::End(name) if name == tag && inside => {
            inside = false;
            done = true;
        }
        _ => {}
    });
    found
}

enum Walk<'a> {
    Start(&'a str),
    Text(&'a str),
    End(&'a str),
}

fn walk(xml: &str, mut handle: impl FnMut(Walk<'_>)) {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name().into_inner().to_owned();
                handle(Walk::Start(&name));
            }
            Ok(Event::End(e)) => {
                let name = e.local_name().into_inner().to_owned();
                handle(Walk::End(&name));
            }
            Ok(Event::Text(t)) => handle(Walk::Text(&t.xml10_content())),
            Ok(Event::GeneralRef(r)) => {
                if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    handle(Walk::Text(s));
                }
            }
            Ok(Event::Eof) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_fields() {
        let xml = "<?xml version=\"1.0\"?><ListBucketResult><IsTruncated>true</IsTruncated>\
            <Contents><Key>a/b&amp;c</Key><Size>12</Size><Owner><ID>x</ID></Owner></Contents>\
            <Contents><Key>a/d</Key><Size>3</Size></Contents>\
            <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>";
        let r = records(xml, "Contents");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["Key"], "a/b&c");
        assert_eq!(r[0]["Size"], "12");
        assert_eq!(r[1]["Key"], "a/d");
        assert_eq!(top(xml, "NextContinuationToken").as_deref(), Some("tok"));
        assert_eq!(top(xml, "IsTruncated").as_deref(), Some("true"));
        assert_eq!(top(xml, "Missing"), None);
    }
}
