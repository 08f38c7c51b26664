//! The text of the generated corpus: per charset its MIME label, its
//! encoder and subjects, sentences and names in its script; and the topic
//! words shared across messages.

use encoding_rs::{Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8, WINDOWS_1252};

/// A charset of the corpus: MIME label, encoder, and text in its script.
pub(super) struct Charset {
    /// MIME label.
    pub(super) label: &'static str,
    /// encoding_rs encoder (Windows-1252 for ISO-8859-1: identical on the
    /// Latin-1 letters used).
    pub(super) enc: &'static Encoding,
    /// Subjects.
    pub(super) subjects: &'static [&'static str],
    /// Body sentences.
    pub(super) sentences: &'static [&'static str],
    /// Display names.
    pub(super) names: &'static [&'static str],
    /// Whether words with umlauts are representable.
    pub(super) latin: bool,
}

pub(super) const CHARSETS: [Charset; 5] = [
    Charset {
        label: "iso-8859-1",
        enc: WINDOWS_1252,
        subjects: &["Grüße aus München", "Größe der Lieferung"],
        sentences: &[
            "Die Rechnung für Jürgen Müller liegt bei. Maß: 3½ m².",
            "Bitte prüfen Sie die Straße und die Hausnummer.",
        ],
        names: &["Jürgen Müller", "Käthe Weiß"],
        latin: true,
    },
    Charset {
        label: "windows-1252",
        enc: WINDOWS_1252,
        subjects: &["Angebot „Sommer“ – 20 €", "Preisliste — gültig ab März"],
        sentences: &[
            "Preis: 1.234,50 € — „gültig“ bis Ende März.",
            "Unser Angebot für Zoë’s Café – netto 99 €.",
        ],
        names: &["Renée Dupont", "Zoë Œhlenschläger"],
        latin: true,
    },
    Charset {
        label: "utf-8",
        enc: UTF_8,
        subjects: &["Κόσμε Привет 世界", "Отчёт über Ölpreise"],
        sentences: &[
            "Grüße, привет мир, γειά σου, 你好世界.",
            "Ежемесячный отчёт: Ölpreise steigen, Überweisung folgt.",
        ],
        names: &["Дмитрий Иванов", "Ωμέγα Ölmann"],
        latin: true,
    },
    Charset {
        label: "shift_jis",
        enc: SHIFT_JIS,
        subjects: &["請求書のご案内", "見積書の送付"],
        sentences: &[
            "山田様、請求書を添付いたします。よろしくお願いいたします。",
            "見積書をお送りします。ご検討ください。",
        ],
        names: &["山田太郎", "佐藤花子"],
        latin: false,
    },
    Charset {
        label: "iso-2022-jp",
        enc: ISO_2022_JP,
        subjects: &["会議の議事録", "出張報告"],
        sentences: &[
            "本日の会議の議事録を送付します。ご確認ください。",
            "大阪出張の報告書です。",
        ],
        names: &["鈴木一郎", "高橋美咲"],
        latin: false,
    },
];

/// Topic words shared across messages (so OR, AND and stems find several);
/// the ASCII ones also fit the Japanese charsets.
pub(super) const TOPICS_LATIN: [&str; 6] = [
    "Rechnungen",
    "Müller",
    "invoices",
    "Vertrag",
    "Mueller",
    "Lieferung",
];
pub(super) const TOPICS_ASCII: [&str; 5] =
    ["Rechnung", "invoice", "contract", "Muller", "Vertraege"];
