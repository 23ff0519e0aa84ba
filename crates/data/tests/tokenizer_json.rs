//! Hugging Face `tokenizer.json` files (WordPiece) load into the same tokenizer as the
//! equivalent `vocab.txt`; other tokenizer kinds are refused with errors naming the file and the
//! field. With `GENREP_DATA`, the real BERT vocabulary written as a `tokenizer.json` gives the
//! same ids as its `vocab.txt` on the HuggingFace fixture sentences.

use genrep_data::tokenizer::WordPiece;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("genrep-tokjson-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A `tokenizer.json` (the parts genrep reads) for `tokens` in id order.
fn tokenizer_json(tokens: &[&str], model_type: &str, prefix: &str, lowercase: bool) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> =
        tokens.iter().enumerate().map(|(i, t)| (t.to_string(), serde_json::json!(i))).collect();
    serde_json::json!({
        "version": "1.0",
        "normalizer": {"type": "BertNormalizer", "lowercase": lowercase, "strip_accents": null},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": model_type, "unk_token": "[UNK]", "continuing_subword_prefix": prefix,
                  "max_input_chars_per_word": 100, "vocab": vocab}
    })
    .to_string()
}

const TOKENS: [&str; 8] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "!"];

#[test]
fn a_wordpiece_tokenizer_json_tokenizes_like_its_vocab_txt() {
    let json = tmp("tok.json");
    std::fs::write(&json, tokenizer_json(&TOKENS, "WordPiece", "##", true)).unwrap();
    let txt = tmp("vocab.txt");
    std::fs::write(&txt, TOKENS.join("\n")).unwrap();
    let (a, b) = (WordPiece::from_file(&json).unwrap(), WordPiece::from_file(&txt).unwrap());
    for text in ["Hello worlds!", "HELLO, world", "unknown words"] {
        assert_eq!(a.encode_fixed(text, 8), b.encode_fixed(text, 8), "{text}");
    }
    assert_eq!(a.encode_fixed("Hello worlds!", 7), [2, 4, 5, 6, 7, 3, 0]);
    assert_eq!(a.vocab_size(), 8);
}

#[test]
fn other_tokenizer_kinds_are_refused_naming_the_file_and_field() {
    let cases: [(String, &str); 4] = [
        (tokenizer_json(&TOKENS, "BPE", "##", true), "model.type"),
        (tokenizer_json(&TOKENS, "WordPiece", "@@", true), "continuing_subword_prefix"),
        (tokenizer_json(&TOKENS, "WordPiece", "##", false), "lowercase"),
        ("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 5}}}".to_string(), "id 5"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = tmp(&format!("bad-{i}.json"));
        std::fs::write(&path, text).unwrap();
        let e = WordPiece::from_file(&path).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()) && e.contains(needle), "case {i}: {e}");
    }
    let path = tmp("not-json.json");
    std::fs::write(&path, "[PAD]\n[UNK]\n").unwrap();
    let e = WordPiece::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("not JSON"), "{e}");
}

#[test]
fn the_real_bert_vocabulary_as_tokenizer_json_gives_the_same_ids() {
    let Some(dir) = genrep_data::data_dir_from_env(Path::new(env!("CARGO_MANIFEST_DIR"))) else { return };
    let vocab_txt = dir.join("bert-base-uncased").join("vocab.txt");
    let text = std::fs::read_to_string(&vocab_txt).unwrap();
    let tokens: Vec<&str> = text.lines().map(str::trim_end).collect();
    let json = tmp("bert.json");
    std::fs::write(&json, tokenizer_json(&tokens, "WordPiece", "##", true)).unwrap();
    let (a, b) = (WordPiece::from_file(&json).unwrap(), WordPiece::from_file(&vocab_txt).unwrap());
    assert_eq!(a.vocab_size(), b.vocab_size());
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/wordpiece_expected.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert!(entries.len() >= 40);
    for entry in entries {
        let t = entry["text"].as_str().unwrap();
        assert_eq!(a.encode(t), b.encode(t), "{t:?}");
    }
}
