//! Oracle test of the WordPiece tokenizer against the real `bert-base-uncased` vocabulary.
//!
//! Needs the data directory: `GENREP_DATA=/path/to/datasets cargo test -p genrep-data --test tokenizer_real`
//! (reads `$GENREP_DATA/bert-base-uncased/vocab.txt`); without `GENREP_DATA` it prints a note and passes
//! (under `CI=true` it fails instead).
//! The expected tokenizations in `tests/fixtures/wordpiece_expected.json` were produced by
//! HuggingFace `tokenizers.BertWordPieceTokenizer(lowercase=True)` with
//! `tests/fixtures/gen_wordpiece_expected.py`.

use genrep_data::tokenizer::WordPiece;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/wordpiece_expected.json");

fn real_vocab() -> Option<WordPiece> {
    let dir = genrep_data::data_dir_from_env(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))?;
    let path = dir.join("bert-base-uncased").join("vocab.txt");
    Some(WordPiece::from_vocab_file(&path).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn real_vocab_basics() {
    let Some(wp) = real_vocab() else { return };
    assert_eq!(wp.vocab_size(), 30522);
    assert_eq!(wp.pad_id(), 0);
    assert_eq!(wp.unk_id(), 100);
    assert_eq!(wp.id("[CLS]"), Some(101));
    assert_eq!(wp.id("[SEP]"), Some(102));
    assert_eq!(wp.tokenize("unaffable"), ["una", "##ffa", "##ble"]);
    assert_eq!(wp.encode_fixed("unaffable", 7), [101, 14477, 20961, 3468, 102, 0, 0]);
    assert_eq!(wp.decode(&wp.encode_fixed("Hello, WORLD!", 8)), "[CLS] hello , world ! [SEP]");
    // Deliberate difference from HuggingFace, which maps a literal "[SEP]" in the text to id 102.
    assert_eq!(wp.tokenize("a [SEP] b"), ["a", "[", "sep", "]", "b"]);
}

#[test]
fn matches_huggingface_fixture() {
    let Some(wp) = real_vocab() else { return };
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    let entries = doc["entries"].as_array().expect("fixture has an `entries` array");
    assert!(entries.len() >= 40, "fixture has only {} entries", entries.len());
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect()
    };
    let mut failures = Vec::new();
    for entry in entries {
        let text = entry["text"].as_str().unwrap();
        let tokens = strings(&entry["tokens"]);
        let ids: Vec<u32> = entry["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
        let got_tokens = wp.tokenize(text);
        let got_ids = wp.encode(text);
        if got_tokens != tokens || got_ids != ids {
            failures
                .push(format!("text {text:?}\n  expected {tokens:?} {ids:?}\n  got      {got_tokens:?} {got_ids:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture sentences differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}
