//! Unit tests of the analysis functions.

use super::*;

fn norm_words(text: &str) -> Vec<String> {
    terms(text).map(|(_, _, t)| t).collect()
}

#[test]
fn mueller_mueller_and_muller_are_one_term() {
    assert_eq!(normalize("Müller"), "muller");
    assert_eq!(normalize("Mueller"), "muller");
    assert_eq!(normalize("MULLER"), "muller");
    assert_eq!(normalize("Mu\u{308}ller"), "muller");
    assert_eq!(normalize("Straße"), "strasse");
    assert_eq!(normalize("Strasse"), "strasse");
    assert_eq!(normalize("Größe"), normalize("Groesse"));
    assert_eq!(normalize("Äpfel"), normalize("Aepfel"));
}

#[test]
fn ue_after_a_vowel_or_q_is_kept() {
    assert_eq!(normalize("Queue"), "queue");
    assert_eq!(normalize("blaue"), "blaue");
    assert_eq!(normalize("Feuer"), "feuer");
}

#[test]
fn accents_are_removed() {
    assert_eq!(normalize("Café"), "cafe");
    assert_eq!(normalize("NAÏVE"), "naive");
    assert_eq!(normalize("Øresund"), "oresund");
    assert_eq!(normalize("Łódź"), "lodz");
    assert_eq!(normalize("ﬁle"), "file");
}

#[test]
fn words_split_on_punctuation_and_cjk_characters() {
    assert_eq!(
        norm_words("Re: Rechnung #2024-01 (Müller), e-mail!"),
        vec!["re", "rechnung", "2024", "01", "muller", "e", "mail"]
    );
    assert_eq!(
        norm_words("請求書をお送りします"),
        vec!["請", "求", "書", "を", "お", "送", "り", "し", "ま", "す"]
    );
    assert_eq!(norm_words("abc漢字def"), vec!["abc", "漢", "字", "def"]);
    let long = "x".repeat(MAX_TERM_BYTES + 1);
    assert_eq!(norm_words(&format!("a {long} b")), vec!["a", "b"]);
}

#[test]
fn byte_ranges_point_at_the_original_text() {
    let text = "Grüße an Müller";
    let got: Vec<_> = terms(text).map(|(a, b, _)| &text[a..b]).collect();
    assert_eq!(got, vec!["Grüße", "an", "Müller"]);
}

#[test]
fn inflected_forms_share_a_stem() {
    let shared = |a: &str, b: &str| {
        let (ad, ae) = stems(&normalize(a));
        let (bd, be) = stems(&normalize(b));
        let a_all = [Some(ad), ae];
        let b_all = [Some(bd), be];
        a_all
            .iter()
            .flatten()
            .any(|x| b_all.iter().flatten().any(|y| x == y))
    };
    assert!(shared("Rechnung", "Rechnungen"));
    assert!(shared("invoice", "invoices"));
    assert!(shared("Verträge", "Vertrag") || shared("Verträgen", "Verträge"));
    assert!(shared("shipping", "shipped"));
    assert!(!shared("invoice", "contract"));
    assert_eq!(stems("2024"), ("2024".to_string(), None));
}

#[test]
fn addresses_are_found_by_parts() {
    let t = address_terms("Alice.Mueller@Mail.Example.COM");
    for want in [
        "alice.muller@mail.example.com",
        "alice.muller",
        "alice",
        "muller",
        "mail.example.com",
        "example.com",
        "mail",
        "example",
    ] {
        assert!(t.iter().any(|x| x == want), "{want} missing in {t:?}");
    }
    assert!(!t.iter().any(|x| x == "com"));
    assert_eq!(address_query_term("Alice.Müller@mail.example.com"), t[0]);
    assert_eq!(address_query_term("@Example.com"), "example.com");
    assert_eq!(address_terms("Jürgen Groß"), vec!["jurgen", "gross"]);
    assert_eq!(address_terms("<>"), Vec::<String>::new());
}

#[test]
fn types_are_found_by_mime_subtype_and_extension() {
    assert_eq!(
        type_terms("Application/PDF", Some("Rechnung.Pdf")),
        vec!["application/pdf", "application", "pdf"]
    );
    assert_eq!(
        type_terms("application/octet-stream", Some("a.docx")),
        vec![
            "application/octet-stream",
            "application",
            "octet-stream",
            "docx"
        ]
    );
    assert_eq!(keyword(" <ABC@Example.com> "), "abc@example.com");
}
