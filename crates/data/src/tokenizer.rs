//! BERT uncased WordPiece tokenizer (`bert-base-uncased` `vocab.txt`).
//!
//! Reproduces the reference behaviour of Google's BERT `tokenization.py`
//! (`FullTokenizer` = `BasicTokenizer(do_lower_case=True)` + `WordpieceTokenizer`,
//! <https://github.com/google-research/bert/blob/master/tokenization.py>) as implemented by
//! HuggingFace `tokenizers` (`BertWordPieceTokenizer(lowercase=True)`, i.e. `BertNormalizer` +
//! `BertPreTokenizer` + `WordPiece`), which is the oracle of `tests/tokenizer_real.rs`:
//!
//! 1. **Clean**: drop U+0000, U+FFFD and "other" characters (Cc, Cf, Co; tab, LF and CR excepted);
//!    every whitespace character becomes a plain space.
//! 2. **CJK**: put spaces around every CJK Unified Ideograph, so each becomes its own word.
//! 3. **Strip accents**: canonical decomposition (NFD), then drop non-spacing marks (Mn).
//! 4. **Lowercase**: per-character Unicode lowercase mapping (after accent stripping, as
//!    HuggingFace does; Google lowercases first, which differs only for a few characters such
//!    as U+0130 whose lowercase form carries a combining mark).
//! 5. **Split** on whitespace, then isolate each punctuation character (ASCII 33-47, 58-64,
//!    91-96, 123-126 and every Unicode P* character) as a word of its own.
//! 6. **WordPiece**: greedy longest-match-first segmentation of each word, continuation
//!    pieces prefixed with `##`; a word longer than 100 characters, or one that cannot be
//!    segmented completely, becomes a single `[UNK]`.
//!
//! One deliberate difference from HuggingFace: special-token strings written in the input
//! (`"[SEP]"`, `"[PAD]"`, ...) are ordinary text here and tokenize as `[`, `sep`, `]`, as in
//! Google's reference, whereas HuggingFace turns them into the special ids. Raw data can thus
//! never inject `[PAD]`/`[SEP]` ids into an encoding.
//!
//! The character-class tables at the end of this file are those of the HuggingFace
//! implementation (general categories P*, Mn, Cc and Cf as in the `unicode_categories` 0.1.1
//! crate it uses, an older Unicode version than today's, written here as ranges, plus the
//! private-use planes Co), so that both tokenizers agree exactly: checked on every Unicode
//! scalar value (alone, inside a word and followed by a combining mark) and on the AG News test
//! set against `tokenizers` 0.23.3. NFD comes from the `unicode-normalization` crate.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use unicode_normalization::UnicodeNormalization;

/// Padding token; required in every vocabulary.
pub const PAD_TOKEN: &str = "[PAD]";
/// Unknown-word token; required in every vocabulary.
pub const UNK_TOKEN: &str = "[UNK]";
/// Sequence-start token, used by [`WordPiece::encode_fixed`] when the vocabulary has it.
pub const CLS_TOKEN: &str = "[CLS]";
/// Separator / sequence-end token, used by [`WordPiece::encode_fixed`] when the vocabulary has it.
pub const SEP_TOKEN: &str = "[SEP]";
/// Prefix of word pieces that continue a word.
pub const CONTINUATION_PREFIX: &str = "##";
/// Words with more characters than this become a single `[UNK]`.
pub const MAX_INPUT_CHARS_PER_WORD: usize = 100;

/// Errors raised while loading a WordPiece vocabulary.
#[derive(Debug, thiserror::Error)]
pub enum VocabError {
    /// The vocabulary file cannot be read (missing, unreadable or not UTF-8).
    #[error("{}: cannot read WordPiece vocabulary: {source}", .path.display())]
    Io {
        /// The vocabulary file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The vocabulary has no tokens at all.
    #[error("{}: WordPiece vocabulary is empty", .path.display())]
    Empty {
        /// The vocabulary file (or the origin given to [`WordPiece::from_tokens`]).
        path: PathBuf,
    },

    /// A required special token (`[PAD]` or `[UNK]`) is absent.
    #[error("{}: WordPiece vocabulary lacks the required token `{token}`", .path.display())]
    MissingToken {
        /// The vocabulary file (or origin).
        path: PathBuf,
        /// The missing token.
        token: String,
    },

    /// A token appears twice; ids are line numbers, so this is ambiguous.
    #[error("{}: line {line}: duplicate WordPiece token `{token}`", .path.display())]
    DuplicateToken {
        /// The vocabulary file (or origin).
        path: PathBuf,
        /// The repeated token.
        token: String,
        /// 1-based line (= id + 1) of the second occurrence.
        line: usize,
    },

    /// A `tokenizer.json` that is not a usable WordPiece description.
    #[error("{}: {what}", .path.display())]
    Format {
        /// The tokenizer file.
        path: PathBuf,
        /// What is wrong and what was expected.
        what: String,
    },
}

/// A WordPiece vocabulary together with the BERT uncased text pipeline.
///
/// Token ids are 0-based line numbers of `vocab.txt`.
#[derive(Clone)]
pub struct WordPiece {
    /// Every token -> id (used for word-initial pieces).
    vocab: HashMap<String, u32>,
    /// Tokens starting with `##`, keyed without the prefix (used for continuation pieces).
    continuation: HashMap<String, u32>,
    /// id -> token.
    tokens: Vec<String>,
    /// Longest token of `vocab`, in characters (bounds the greedy search).
    max_initial_chars: usize,
    /// Longest key of `continuation`, in characters.
    max_continuation_chars: usize,
    pad: u32,
    unk: u32,
    cls: Option<u32>,
    sep: Option<u32>,
}

impl fmt::Debug for WordPiece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WordPiece")
            .field("vocab_size", &self.tokens.len())
            .field("pad", &self.pad)
            .field("unk", &self.unk)
            .field("cls", &self.cls)
            .field("sep", &self.sep)
            .finish()
    }
}

impl WordPiece {
    /// Loads a vocabulary file with one token per line (id = 0-based line number), as
    /// `bert-base-uncased/vocab.txt`. Trailing whitespace (including `\r`) of each line is
    /// ignored. Fails if the file cannot be read, is empty, repeats a token, or lacks
    /// `[PAD]` or `[UNK]`.
    pub fn from_vocab_file(path: &Path) -> Result<Self, VocabError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| VocabError::Io { path: path.to_path_buf(), source })?;
        let tokens = text.lines().map(|line| line.trim_end().to_owned()).collect();
        Self::from_tokens(tokens, path)
    }

    /// Loads a Hugging Face `tokenizer.json` whose model is a WordPiece vocabulary (as saved by
    /// `BertTokenizerFast` / `BertWordPieceTokenizer`): the `model.vocab` map (token -> id, ids
    /// 0..n without gaps) with the BERT uncased pipeline of this module. Refused with a clear
    /// error, rather than tokenized differently: other model types (BPE, Unigram), a
    /// continuation prefix other than `##`, and a normalizer that does not lowercase.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self, VocabError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| VocabError::Io { path: path.to_path_buf(), source })?;
        let bad = |what: String| VocabError::Format { path: path.to_path_buf(), what };
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e}); expected a tokenizer.json")))?;
        let model = json.get("model").ok_or_else(|| bad("missing field `model`".into()))?;
        match model.get("type").and_then(|t| t.as_str()) {
            Some("WordPiece") => {}
            other => {
                return Err(bad(format!(
                    "field `model.type` is {other:?}; only WordPiece tokenizers (BERT-style) are supported"
                )))
            }
        }
        if let Some(prefix) = model.get("continuing_subword_prefix").and_then(|p| p.as_str()) {
            if prefix != CONTINUATION_PREFIX {
                return Err(bad(format!(
                    "field `model.continuing_subword_prefix` is `{prefix}`; only `{CONTINUATION_PREFIX}` is supported"
                )));
            }
        }
        if json.pointer("/normalizer/lowercase").and_then(|l| l.as_bool()) == Some(false) {
            return Err(bad(
                "the normalizer does not lowercase; only uncased WordPiece tokenizers are supported".into()
            ));
        }
        let vocab = model
            .get("vocab")
            .and_then(|v| v.as_object())
            .ok_or_else(|| bad("field `model.vocab`: expected an object of token -> id".into()))?;
        let mut tokens: Vec<Option<String>> = vec![None; vocab.len()];
        for (token, id) in vocab {
            let id = id.as_u64().filter(|&i| (i as usize) < tokens.len()).ok_or_else(|| {
                bad(format!("field `model.vocab`: token `{token}` has id {id}; expected 0..{}", vocab.len()))
            })? as usize;
            if let Some(other) = tokens[id].replace(token.clone()) {
                return Err(bad(format!("field `model.vocab`: id {id} is given to both `{other}` and `{token}`")));
            }
        }
        // n distinct ids below n: every id is taken.
        Self::from_tokens(tokens.into_iter().flatten().collect(), path)
    }

    /// Loads `path` as a `tokenizer.json` ([`WordPiece::from_tokenizer_json`]) when its name
    /// ends in `.json`, else as a `vocab.txt` ([`WordPiece::from_vocab_file`]).
    pub fn from_file(path: &Path) -> Result<Self, VocabError> {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Self::from_tokenizer_json(path)
        } else {
            Self::from_vocab_file(path)
        }
    }

    /// Builds a tokenizer from tokens listed in id order; `origin` only labels errors.
    /// Requires `[PAD]` and `[UNK]`; `[CLS]` and `[SEP]` are optional. Fails on an empty
    /// list or a repeated token.
    pub fn from_tokens(tokens: Vec<String>, origin: &Path) -> Result<Self, VocabError> {
        if tokens.is_empty() {
            return Err(VocabError::Empty { path: origin.to_path_buf() });
        }
        let mut vocab = HashMap::with_capacity(tokens.len());
        let mut continuation = HashMap::new();
        let mut max_initial_chars = 0;
        let mut max_continuation_chars = 0;
        for (index, token) in tokens.iter().enumerate() {
            let id = index as u32;
            if vocab.insert(token.clone(), id).is_some() {
                return Err(VocabError::DuplicateToken {
                    path: origin.to_path_buf(),
                    token: token.clone(),
                    line: index + 1,
                });
            }
            max_initial_chars = max_initial_chars.max(token.chars().count());
            if let Some(rest) = token.strip_prefix(CONTINUATION_PREFIX) {
                max_continuation_chars = max_continuation_chars.max(rest.chars().count());
                continuation.insert(rest.to_owned(), id);
            }
        }
        let required = |token: &str| {
            vocab
                .get(token)
                .copied()
                .ok_or_else(|| VocabError::MissingToken { path: origin.to_path_buf(), token: token.to_owned() })
        };
        let pad = required(PAD_TOKEN)?;
        let unk = required(UNK_TOKEN)?;
        let cls = vocab.get(CLS_TOKEN).copied();
        let sep = vocab.get(SEP_TOKEN).copied();
        Ok(Self { vocab, continuation, tokens, max_initial_chars, max_continuation_chars, pad, unk, cls, sep })
    }

    /// Number of tokens in the vocabulary; every id produced is below this.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Id of `[PAD]`.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// Id of `[UNK]`.
    pub fn unk_id(&self) -> u32 {
        self.unk
    }

    /// Id of `[CLS]`, if the vocabulary has it.
    pub fn cls_id(&self) -> Option<u32> {
        self.cls
    }

    /// Id of `[SEP]`, if the vocabulary has it.
    pub fn sep_id(&self) -> Option<u32> {
        self.sep
    }

    /// The token with this id, or `None` if `id >= vocab_size()`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of this exact token (continuation pieces include their `##`), if present.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// Tokenizes `text` into WordPiece strings (basic tokenization, then WordPiece), without
    /// special tokens; unknown words appear as `[UNK]`.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        self.encode(text).into_iter().map(|id| self.tokens[id as usize].clone()).collect()
    }

    /// Tokenizes `text` into vocabulary ids, without special tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        self.encode_into(text, usize::MAX, &mut ids);
        ids
    }

    /// Encodes `text` into exactly `len` ids: `[CLS]`, the ids of [`Self::encode`] truncated
    /// so that the specials fit, `[SEP]`, then `[PAD]` up to `len`. A special token the
    /// vocabulary lacks is omitted (its slot goes to text ids); if `len < 2` no specials are
    /// added and the text ids are just truncated or padded.
    pub fn encode_fixed(&self, text: &str, len: usize) -> Vec<u32> {
        let (cls, sep) = if len >= 2 { (self.cls, self.sep) } else { (None, None) };
        let body = len - usize::from(cls.is_some()) - usize::from(sep.is_some());
        let mut out = Vec::with_capacity(len);
        out.extend(cls);
        self.encode_into(text, body, &mut out);
        out.truncate(body + usize::from(cls.is_some()));
        out.extend(sep);
        out.resize(len, self.pad);
        out
    }

    /// Turns ids back into text: tokens joined by spaces, `##` pieces glued to the
    /// preceding text without their prefix, `[PAD]` skipped, and ids outside the vocabulary
    /// rendered as `[UNK]`. (Lowercasing and accent stripping are not undone.)
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut text = String::new();
        for &id in ids {
            if id == self.pad {
                continue;
            }
            let token = self.token(id).unwrap_or(UNK_TOKEN);
            match token.strip_prefix(CONTINUATION_PREFIX) {
                Some(rest) => text.push_str(rest),
                None => {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(token);
                }
            }
        }
        text
    }

    /// Appends the ids of `text` to `out`, stopping early once `limit` ids were appended
    /// (the caller truncates the possible excess of the last word).
    fn encode_into(&self, text: &str, limit: usize, out: &mut Vec<u32>) {
        let start = out.len();
        let normalized = normalize(text);
        for word in (PreTokens { rest: &normalized }) {
            if out.len() - start >= limit {
                break;
            }
            self.wordpiece_word(word, out);
        }
    }

    /// Greedy longest-match-first segmentation of one word (no whitespace, no punctuation
    /// inside), appended to `out`; a single `[UNK]` if it is too long or cannot be segmented.
    fn wordpiece_word(&self, word: &str, out: &mut Vec<u32>) {
        // Byte offsets of the character boundaries: bounds[i] = start of character i.
        let mut bounds = [0usize; MAX_INPUT_CHARS_PER_WORD + 1];
        let mut n_chars = 0;
        for (offset, _) in word.char_indices() {
            if n_chars == MAX_INPUT_CHARS_PER_WORD {
                out.push(self.unk);
                return;
            }
            bounds[n_chars] = offset;
            n_chars += 1;
        }
        bounds[n_chars] = word.len();

        let first = out.len();
        let mut start = 0;
        while start < n_chars {
            let (map, max_chars) = if start == 0 {
                (&self.vocab, self.max_initial_chars)
            } else {
                (&self.continuation, self.max_continuation_chars)
            };
            let mut end = n_chars.min(start + max_chars);
            let mut found = None;
            while end > start {
                if let Some(&id) = map.get(&word[bounds[start]..bounds[end]]) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(first);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// BERT basic-tokenizer normalization: clean, space out CJK, NFD + drop Mn, lowercase.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\0' || c == '\u{FFFD}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    if cleaned.is_ascii() {
        cleaned.make_ascii_lowercase();
        return cleaned;
    }
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.nfd() {
        if !is_mark_nonspacing(c) {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Iterator over the words of normalized text: whitespace-separated runs, with every
/// punctuation character split off as a word of its own.
struct PreTokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for PreTokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(char::is_whitespace);
        self.rest = s;
        let first = s.chars().next()?;
        let end = if is_punctuation(first) {
            first.len_utf8()
        } else {
            s.char_indices().find(|&(_, c)| c.is_whitespace() || is_punctuation(c)).map_or(s.len(), |(i, _)| i)
        };
        self.rest = &s[end..];
        Some(&s[..end])
    }
}

/// Whitespace as in BERT: tab, LF, CR and every Unicode `White_Space` character.
fn is_whitespace(c: char) -> bool {
    c.is_whitespace()
}

/// Characters removed by cleaning: Cc, Cf and Co ("other"), except tab, LF and CR.
fn is_control(c: char) -> bool {
    if c == '\t' || c == '\n' || c == '\r' {
        return false;
    }
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    in_table(c, OTHER)
}

/// Punctuation as in BERT: all ASCII non-alphanumeric printable characters plus Unicode P*.
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    in_table(c, PUNCTUATION)
}

/// Unicode general category Mn.
fn is_mark_nonspacing(c: char) -> bool {
    !c.is_ascii() && in_table(c, MARK_NONSPACING)
}

/// The CJK Unified Ideographs blocks (and compatibility ideographs) that BERT isolates,
/// with HuggingFace's bounds.
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF // HuggingFace starts here; Google's tokenization.py at 0x2B820
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// Whether `c` lies in one of the sorted, disjoint inclusive ranges of `table`.
fn in_table(c: char, table: &[(u32, u32)]) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

// ----- Character-class tables (ranges are inclusive, sorted and disjoint). -----

/// Unicode general category P* (Pc, Pd, Ps, Pe, Pi, Pf, Po).
#[rustfmt::skip]
const PUNCTUATION: &[(u32, u32)] = &[
    (0x21, 0x23), (0x25, 0x2A), (0x2C, 0x2F), (0x3A, 0x3B), (0x3F, 0x40),
    (0x5B, 0x5D), (0x5F, 0x5F), (0x7B, 0x7B), (0x7D, 0x7D), (0xA1, 0xA1),
    (0xA7, 0xA7), (0xAB, 0xAB), (0xB6, 0xB7), (0xBB, 0xBB), (0xBF, 0xBF),
    (0x37E, 0x37E), (0x387, 0x387), (0x55A, 0x55F), (0x589, 0x58A), (0x5BE, 0x5BE),
    (0x5C0, 0x5C0), (0x5C3, 0x5C3), (0x5C6, 0x5C6), (0x5F3, 0x5F4), (0x609, 0x60A),
    (0x60C, 0x60D), (0x61B, 0x61B), (0x61E, 0x61F), (0x66A, 0x66D), (0x6D4, 0x6D4),
    (0x700, 0x70D), (0x7F7, 0x7F9), (0x830, 0x83E), (0x85E, 0x85E), (0x964, 0x965),
    (0x970, 0x970), (0xAF0, 0xAF0), (0xDF4, 0xDF4), (0xE4F, 0xE4F), (0xE5A, 0xE5B),
    (0xF04, 0xF12), (0xF14, 0xF14), (0xF3A, 0xF3D), (0xF85, 0xF85), (0xFD0, 0xFD4),
    (0xFD9, 0xFDA), (0x104A, 0x104F), (0x10FB, 0x10FB), (0x1360, 0x1368), (0x1400, 0x1400),
    (0x166D, 0x166E), (0x169B, 0x169C), (0x16EB, 0x16ED), (0x1735, 0x1736), (0x17D4, 0x17D6),
    (0x17D8, 0x17DA), (0x1800, 0x180A), (0x1944, 0x1945), (0x1A1E, 0x1A1F), (0x1AA0, 0x1AA6),
    (0x1AA8, 0x1AAD), (0x1B5A, 0x1B60), (0x1BFC, 0x1BFF), (0x1C3B, 0x1C3F), (0x1C7E, 0x1C7F),
    (0x1CC0, 0x1CC7), (0x1CD3, 0x1CD3), (0x2010, 0x2027), (0x2030, 0x2043), (0x2045, 0x2051),
    (0x2053, 0x205E), (0x207D, 0x207E), (0x208D, 0x208E), (0x2308, 0x230B), (0x2329, 0x232A),
    (0x2768, 0x2775), (0x27C5, 0x27C6), (0x27E6, 0x27EF), (0x2983, 0x2998), (0x29D8, 0x29DB),
    (0x29FC, 0x29FD), (0x2CF9, 0x2CFC), (0x2CFE, 0x2CFF), (0x2D70, 0x2D70), (0x2E00, 0x2E2E),
    (0x2E30, 0x2E42), (0x3001, 0x3003), (0x3008, 0x3011), (0x3014, 0x301F), (0x3030, 0x3030),
    (0x303D, 0x303D), (0x30A0, 0x30A0), (0x30FB, 0x30FB), (0xA4FE, 0xA4FF), (0xA60D, 0xA60F),
    (0xA673, 0xA673), (0xA67E, 0xA67E), (0xA6F2, 0xA6F7), (0xA874, 0xA877), (0xA8CE, 0xA8CF),
    (0xA8F8, 0xA8FA), (0xA8FC, 0xA8FC), (0xA92E, 0xA92F), (0xA95F, 0xA95F), (0xA9C1, 0xA9CD),
    (0xA9DE, 0xA9DF), (0xAA5C, 0xAA5F), (0xAADE, 0xAADF), (0xAAF0, 0xAAF1), (0xABEB, 0xABEB),
    (0xFD3E, 0xFD3F), (0xFE10, 0xFE19), (0xFE30, 0xFE52), (0xFE54, 0xFE61), (0xFE63, 0xFE63),
    (0xFE68, 0xFE68), (0xFE6A, 0xFE6B), (0xFF01, 0xFF03), (0xFF05, 0xFF0A), (0xFF0C, 0xFF0F),
    (0xFF1A, 0xFF1B), (0xFF1F, 0xFF20), (0xFF3B, 0xFF3D), (0xFF3F, 0xFF3F), (0xFF5B, 0xFF5B),
    (0xFF5D, 0xFF5D), (0xFF5F, 0xFF65), (0x10100, 0x10102), (0x1039F, 0x1039F), (0x103D0, 0x103D0),
    (0x1056F, 0x1056F), (0x10857, 0x10857), (0x1091F, 0x1091F), (0x1093F, 0x1093F), (0x10A50, 0x10A58),
    (0x10A7F, 0x10A7F), (0x10AF0, 0x10AF6), (0x10B39, 0x10B3F), (0x10B99, 0x10B9C), (0x11047, 0x1104D),
    (0x110BB, 0x110BC), (0x110BE, 0x110C1), (0x11140, 0x11143), (0x11174, 0x11175), (0x111C5, 0x111C9),
    (0x111CD, 0x111CD), (0x111DB, 0x111DB), (0x111DD, 0x111DF), (0x11238, 0x1123D), (0x112A9, 0x112A9),
    (0x114C6, 0x114C6), (0x115C1, 0x115D7), (0x11641, 0x11643), (0x1173C, 0x1173E), (0x12470, 0x12474),
    (0x16A6E, 0x16A6F), (0x16AF5, 0x16AF5), (0x16B37, 0x16B3B), (0x16B44, 0x16B44), (0x1BC9F, 0x1BC9F),
    (0x1DA87, 0x1DA8B),
];

/// Unicode general category Mn (non-spacing marks).
#[rustfmt::skip]
const MARK_NONSPACING: &[(u32, u32)] = &[
    (0x300, 0x36F), (0x483, 0x487), (0x591, 0x5BD), (0x5BF, 0x5BF), (0x5C1, 0x5C2),
    (0x5C4, 0x5C5), (0x5C7, 0x5C7), (0x610, 0x61A), (0x64B, 0x65F), (0x670, 0x670),
    (0x6D6, 0x6DC), (0x6DF, 0x6E4), (0x6E7, 0x6E8), (0x6EA, 0x6ED), (0x711, 0x711),
    (0x730, 0x74A), (0x7A6, 0x7B0), (0x7EB, 0x7F3), (0x816, 0x819), (0x81B, 0x823),
    (0x825, 0x827), (0x829, 0x82D), (0x859, 0x85B), (0x8E3, 0x902), (0x93A, 0x93A),
    (0x93C, 0x93C), (0x941, 0x948), (0x94D, 0x94D), (0x951, 0x957), (0x962, 0x963),
    (0x981, 0x981), (0x9BC, 0x9BC), (0x9C1, 0x9C4), (0x9CD, 0x9CD), (0x9E2, 0x9E3),
    (0xA01, 0xA02), (0xA3C, 0xA3C), (0xA41, 0xA42), (0xA47, 0xA48), (0xA4B, 0xA4D),
    (0xA51, 0xA51), (0xA70, 0xA71), (0xA75, 0xA75), (0xA81, 0xA82), (0xABC, 0xABC),
    (0xAC1, 0xAC5), (0xAC7, 0xAC8), (0xACD, 0xACD), (0xAE2, 0xAE3), (0xB01, 0xB01),
    (0xB3C, 0xB3C), (0xB3F, 0xB3F), (0xB41, 0xB44), (0xB4D, 0xB4D), (0xB56, 0xB56),
    (0xB62, 0xB63), (0xB82, 0xB82), (0xBC0, 0xBC0), (0xBCD, 0xBCD), (0xC00, 0xC00),
    (0xC3E, 0xC40), (0xC46, 0xC48), (0xC4A, 0xC4D), (0xC55, 0xC56), (0xC62, 0xC63),
    (0xC81, 0xC81), (0xCBC, 0xCBC), (0xCBF, 0xCBF), (0xCC6, 0xCC6), (0xCCC, 0xCCD),
    (0xCE2, 0xCE3), (0xD01, 0xD01), (0xD41, 0xD44), (0xD4D, 0xD4D), (0xD62, 0xD63),
    (0xDCA, 0xDCA), (0xDD2, 0xDD4), (0xDD6, 0xDD6), (0xE31, 0xE31), (0xE34, 0xE3A),
    (0xE47, 0xE4E), (0xEB1, 0xEB1), (0xEB4, 0xEB9), (0xEBB, 0xEBC), (0xEC8, 0xECD),
    (0xF18, 0xF19), (0xF35, 0xF35), (0xF37, 0xF37), (0xF39, 0xF39), (0xF71, 0xF7E),
    (0xF80, 0xF84), (0xF86, 0xF87), (0xF8D, 0xF97), (0xF99, 0xFBC), (0xFC6, 0xFC6),
    (0x102D, 0x1030), (0x1032, 0x1037), (0x1039, 0x103A), (0x103D, 0x103E), (0x1058, 0x1059),
    (0x105E, 0x1060), (0x1071, 0x1074), (0x1082, 0x1082), (0x1085, 0x1086), (0x108D, 0x108D),
    (0x109D, 0x109D), (0x135D, 0x135F), (0x1712, 0x1714), (0x1732, 0x1734), (0x1752, 0x1753),
    (0x1772, 0x1773), (0x17B4, 0x17B5), (0x17B7, 0x17BD), (0x17C6, 0x17C6), (0x17C9, 0x17D3),
    (0x17DD, 0x17DD), (0x180B, 0x180D), (0x18A9, 0x18A9), (0x1920, 0x1922), (0x1927, 0x1928),
    (0x1932, 0x1932), (0x1939, 0x193B), (0x1A17, 0x1A18), (0x1A1B, 0x1A1B), (0x1A56, 0x1A56),
    (0x1A58, 0x1A5E), (0x1A60, 0x1A60), (0x1A62, 0x1A62), (0x1A65, 0x1A6C), (0x1A73, 0x1A7C),
    (0x1A7F, 0x1A7F), (0x1AB0, 0x1ABD), (0x1B00, 0x1B03), (0x1B34, 0x1B34), (0x1B36, 0x1B3A),
    (0x1B3C, 0x1B3C), (0x1B42, 0x1B42), (0x1B6B, 0x1B73), (0x1B80, 0x1B81), (0x1BA2, 0x1BA5),
    (0x1BA8, 0x1BA9), (0x1BAB, 0x1BAD), (0x1BE6, 0x1BE6), (0x1BE8, 0x1BE9), (0x1BED, 0x1BED),
    (0x1BEF, 0x1BF1), (0x1C2C, 0x1C33), (0x1C36, 0x1C37), (0x1CD0, 0x1CD2), (0x1CD4, 0x1CE0),
    (0x1CE2, 0x1CE8), (0x1CED, 0x1CED), (0x1CF4, 0x1CF4), (0x1CF8, 0x1CF9), (0x1DC0, 0x1DF5),
    (0x1DFC, 0x1DFF), (0x20D0, 0x20DC), (0x20E1, 0x20E1), (0x20E5, 0x20F0), (0x2CEF, 0x2CF1),
    (0x2D7F, 0x2D7F), (0x2DE0, 0x2DFF), (0x302A, 0x302D), (0x3099, 0x309A), (0xA66F, 0xA66F),
    (0xA674, 0xA67D), (0xA69E, 0xA69F), (0xA6F0, 0xA6F1), (0xA802, 0xA802), (0xA806, 0xA806),
    (0xA80B, 0xA80B), (0xA825, 0xA826), (0xA8C4, 0xA8C4), (0xA8E0, 0xA8F1), (0xA926, 0xA92D),
    (0xA947, 0xA951), (0xA980, 0xA982), (0xA9B3, 0xA9B3), (0xA9B6, 0xA9B9), (0xA9BC, 0xA9BC),
    (0xA9E5, 0xA9E5), (0xAA29, 0xAA2E), (0xAA31, 0xAA32), (0xAA35, 0xAA36), (0xAA43, 0xAA43),
    (0xAA4C, 0xAA4C), (0xAA7C, 0xAA7C), (0xAAB0, 0xAAB0), (0xAAB2, 0xAAB4), (0xAAB7, 0xAAB8),
    (0xAABE, 0xAABF), (0xAAC1, 0xAAC1), (0xAAEC, 0xAAED), (0xAAF6, 0xAAF6), (0xABE5, 0xABE5),
    (0xABE8, 0xABE8), (0xABED, 0xABED), (0xFB1E, 0xFB1E), (0xFE00, 0xFE0F), (0xFE20, 0xFE2F),
    (0x101FD, 0x101FD), (0x102E0, 0x102E0), (0x10376, 0x1037A), (0x10A01, 0x10A03), (0x10A05, 0x10A06),
    (0x10A0C, 0x10A0F), (0x10A38, 0x10A3A), (0x10A3F, 0x10A3F), (0x10AE5, 0x10AE6), (0x11001, 0x11001),
    (0x11038, 0x11046), (0x1107F, 0x11081), (0x110B3, 0x110B6), (0x110B9, 0x110BA), (0x11100, 0x11102),
    (0x11127, 0x1112B), (0x1112D, 0x11134), (0x11173, 0x11173), (0x11180, 0x11181), (0x111B6, 0x111BE),
    (0x111CA, 0x111CC), (0x1122F, 0x11231), (0x11234, 0x11234), (0x11236, 0x11237), (0x112DF, 0x112DF),
    (0x112E3, 0x112EA), (0x11300, 0x11301), (0x1133C, 0x1133C), (0x11340, 0x11340), (0x11366, 0x1136C),
    (0x11370, 0x11374), (0x114B3, 0x114B8), (0x114BA, 0x114BA), (0x114BF, 0x114C0), (0x114C2, 0x114C3),
    (0x115B2, 0x115B5), (0x115BC, 0x115BD), (0x115BF, 0x115C0), (0x115DC, 0x115DD), (0x11633, 0x1163A),
    (0x1163D, 0x1163D), (0x1163F, 0x11640), (0x116AB, 0x116AB), (0x116AD, 0x116AD), (0x116B0, 0x116B5),
    (0x116B7, 0x116B7), (0x1171D, 0x1171F), (0x11722, 0x11725), (0x11727, 0x1172B), (0x16AF0, 0x16AF4),
    (0x16B30, 0x16B36), (0x16F8F, 0x16F92), (0x1BC9D, 0x1BC9E), (0x1D167, 0x1D169), (0x1D17B, 0x1D182),
    (0x1D185, 0x1D18B), (0x1D1AA, 0x1D1AD), (0x1D242, 0x1D244), (0x1DA00, 0x1DA36), (0x1DA3B, 0x1DA6C),
    (0x1DA75, 0x1DA75), (0x1DA84, 0x1DA84), (0x1DA9B, 0x1DA9F), (0x1DAA1, 0x1DAAF), (0x1E8D0, 0x1E8D6),
    (0xE0100, 0xE01EF),
];

/// "Other" characters removed by text cleaning: Cc, Cf and Co (private use).
#[rustfmt::skip]
const OTHER: &[(u32, u32)] = &[
    (0x0, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x600, 0x605), (0x61C, 0x61C),
    (0x6DD, 0x6DD), (0x70F, 0x70F), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xE000, 0xF8FF), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TINY: &[&str] = &[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "de", "##ja", "vu", "un", "##aff", "##able",
        "hello", "world", ",", "!", ".", "'", "s", "$", "^", "北", "京", "a", "##a", "run", "##n", "##ning", "ecole",
        "σασ", "i",
    ];

    fn tiny() -> WordPiece {
        WordPiece::from_tokens(TINY.iter().map(|t| t.to_string()).collect(), Path::new("tiny-vocab")).unwrap()
    }

    fn toks(wp: &WordPiece, text: &str) -> Vec<String> {
        wp.tokenize(text)
    }

    fn id(wp: &WordPiece, token: &str) -> u32 {
        wp.id(token).unwrap_or_else(|| panic!("{token} not in vocab"))
    }

    #[test]
    fn special_ids_and_lookup() {
        let wp = tiny();
        assert_eq!(wp.vocab_size(), TINY.len());
        assert_eq!(wp.pad_id(), 0);
        assert_eq!(wp.unk_id(), 1);
        assert_eq!(wp.cls_id(), Some(2));
        assert_eq!(wp.sep_id(), Some(3));
        assert_eq!(wp.id("##aff"), Some(11));
        assert_eq!(wp.id("aff"), None);
        assert_eq!(wp.token(11), Some("##aff"));
        assert_eq!(wp.token(TINY.len() as u32), None);
        assert_eq!(wp.token(u32::MAX), None);
    }

    #[test]
    fn strips_accents_and_lowercases() {
        let wp = tiny();
        assert_eq!(toks(&wp, "Café Déjà vu"), ["cafe", "de", "##ja", "vu"]);
        assert_eq!(toks(&wp, "ÉCOLE"), ["ecole"]);
        // Precomposed and decomposed input agree.
        assert_eq!(toks(&wp, "Cafe\u{301}"), ["cafe"]);
        // Lowercasing is per character (no final-sigma rule), after accent stripping.
        assert_eq!(normalize("ΣΑΣ"), "σασ");
        assert_eq!(toks(&wp, "ΣΆΣ"), ["σασ"]);
        assert_eq!(normalize("İ"), "i");
        assert_eq!(normalize("Straße"), "straße");
    }

    #[test]
    fn splits_punctuation() {
        let wp = tiny();
        assert_eq!(toks(&wp, "hello,world!"), ["hello", ",", "world", "!"]);
        assert_eq!(toks(&wp, "hello's"), ["hello", "'", "s"]);
        // ASCII symbols count as punctuation in BERT even though they are not Unicode P*.
        assert_eq!(toks(&wp, "$hello^"), ["$", "hello", "^"]);
        // Unicode punctuation (Pi/Pf, Pd) is split off too; not in the tiny vocab, hence [UNK].
        assert_eq!(toks(&wp, "«hello»—world"), ["[UNK]", "hello", "[UNK]", "[UNK]", "world"]);
        // A symbol that is not punctuation (So) stays inside its word.
        assert_eq!(toks(&wp, "hello★"), ["[UNK]"]);
        assert_eq!(toks(&wp, "..."), [".", ".", "."]);
    }

    #[test]
    fn isolates_cjk_characters() {
        let wp = tiny();
        assert_eq!(toks(&wp, "北京hello"), ["北", "京", "hello"]);
        assert_eq!(toks(&wp, "北京人"), ["北", "京", "[UNK]"]);
        // Kana are not CJK ideographs: they stay in the word.
        assert_eq!(toks(&wp, "北の京"), ["北", "[UNK]", "京"]);
    }

    #[test]
    fn greedy_longest_match_and_unknown_words() {
        let wp = tiny();
        assert_eq!(toks(&wp, "unaffable"), ["un", "##aff", "##able"]);
        assert_eq!(toks(&wp, "running"), ["run", "##ning"]);
        assert_eq!(toks(&wp, "runn"), ["run", "##n"]);
        assert_eq!(toks(&wp, "xyz"), ["[UNK]"]);
        // A word that cannot be segmented completely is one [UNK], not a partial split.
        assert_eq!(toks(&wp, "unaffablez"), ["[UNK]"]);
        assert_eq!(toks(&wp, "the xyz world"), ["the", "[UNK]", "world"]);
        assert_eq!(wp.encode("unaffable"), [10, 11, 12]);
    }

    #[test]
    fn special_token_strings_in_text_are_plain_text() {
        let wp = tiny();
        assert_eq!(toks(&wp, "[PAD]"), ["[UNK]", "[UNK]", "[UNK]"]);
        let ids = wp.encode("hello [SEP] [CLS]");
        assert!(!ids.contains(&wp.pad_id()) && !ids.contains(&2) && !ids.contains(&3));
    }

    #[test]
    fn long_words_become_unk() {
        let wp = tiny();
        let hundred = "a".repeat(MAX_INPUT_CHARS_PER_WORD);
        let mut expected = vec!["a".to_string()];
        expected.extend(std::iter::repeat_n("##a".to_string(), MAX_INPUT_CHARS_PER_WORD - 1));
        assert_eq!(toks(&wp, &hundred), expected);
        let long = "a".repeat(MAX_INPUT_CHARS_PER_WORD + 1);
        assert_eq!(toks(&wp, &format!("{long} hello")), ["[UNK]", "hello"]);
        // The limit counts characters, not bytes.
        let wide = "é".repeat(MAX_INPUT_CHARS_PER_WORD);
        assert_eq!(toks(&wp, &wide), ["[UNK]"]);
    }

    #[test]
    fn cleans_control_and_whitespace() {
        let wp = tiny();
        assert_eq!(toks(&wp, "  hello\tworld\r\n"), ["hello", "world"]);
        assert_eq!(toks(&wp, "hello\u{A0}world\u{3000}hello\u{2028}world"), ["hello", "world", "hello", "world"]);
        // NUL, U+FFFD, zero-width and format characters are removed, joining the word.
        assert_eq!(
            toks(&wp, "hel\u{0}lo wor\u{FFFD}ld hel\u{200B}lo wo\u{AD}rld"),
            ["hello", "world", "hello", "world"]
        );
        // Vertical tab and form feed are Cc: removed, not treated as spaces (as in the reference).
        assert_eq!(toks(&wp, "hello\u{0B}world"), ["[UNK]"]);
        // Private-use characters (Co) are removed as well.
        assert_eq!(toks(&wp, "hel\u{F03D}lo \u{E000}"), ["hello"]);
        assert!(toks(&wp, "").is_empty());
        assert!(toks(&wp, " \t\n\u{0}\u{7}").is_empty());
    }

    #[test]
    fn encode_fixed_pads_and_truncates() {
        let wp = tiny();
        let (pad, cls, sep) = (0, 2, 3);
        let (hello, world) = (id(&wp, "hello"), id(&wp, "world"));
        assert_eq!(wp.encode_fixed("hello world", 6), [cls, hello, world, sep, pad, pad]);
        assert_eq!(wp.encode_fixed("hello world", 4), [cls, hello, world, sep]);
        assert_eq!(wp.encode_fixed("hello world", 3), [cls, hello, sep]);
        assert_eq!(wp.encode_fixed("hello world", 2), [cls, sep]);
        assert_eq!(wp.encode_fixed("hello world", 1), [hello]);
        assert_eq!(wp.encode_fixed("hello world", 0), Vec::<u32>::new());
        assert_eq!(wp.encode_fixed("", 1), [pad]);
        assert_eq!(wp.encode_fixed("", 4), [cls, sep, pad, pad]);
        // Truncation may cut a word between its pieces.
        assert_eq!(wp.encode_fixed("unaffable hello", 4), [cls, 10, 11, sep]);
        let many = "hello ".repeat(1000);
        let fixed = wp.encode_fixed(&many, 16);
        assert_eq!(fixed.len(), 16);
        assert_eq!((fixed[0], fixed[15]), (cls, sep));
        assert!(fixed[1..15].iter().all(|&i| i == hello));
    }

    #[test]
    fn encode_fixed_without_cls_sep() {
        let tokens = ["hello", "[UNK]", "[PAD]"].map(String::from).to_vec();
        let wp = WordPiece::from_tokens(tokens, Path::new("mini")).unwrap();
        assert_eq!((wp.cls_id(), wp.sep_id()), (None, None));
        assert_eq!(wp.encode_fixed("hello hello hello", 2), [0, 0]);
        assert_eq!(wp.encode_fixed("hello bye", 4), [0, 1, 2, 2]);
        assert_eq!(wp.decode(&wp.encode_fixed("hello bye", 4)), "hello [UNK]");
    }

    #[test]
    fn decode_merges_pieces_and_skips_pad() {
        let wp = tiny();
        let ids = wp.encode_fixed("Unaffable, hello!", 10);
        assert_eq!(wp.decode(&ids), "[CLS] unaffable , hello ! [SEP]");
        assert_eq!(wp.decode(&[]), "");
        assert_eq!(wp.decode(&[0, 0]), "");
        assert_eq!(wp.decode(&[13, 9999, 14]), "hello [UNK] world");
        assert_eq!(wp.decode(&[25, 13]), "a hello");
    }

    fn temp_vocab(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("genrep-wordpiece-{}-{name}.txt", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn loads_vocab_file() {
        let path = temp_vocab("ok", "[PAD]\r\n[UNK]\r\nhello  \r\n##s\n");
        let wp = WordPiece::from_vocab_file(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(wp.vocab_size(), 4);
        assert_eq!(wp.id("hello"), Some(2));
        assert_eq!(wp.tokenize("Hellos"), ["hello", "##s"]);
        assert_eq!(wp.encode_fixed("hello", 3), [2, 0, 0]);
    }

    #[test]
    fn vocab_errors() {
        let missing = Path::new("/nonexistent/genrep/vocab.txt");
        let err = WordPiece::from_vocab_file(missing).unwrap_err();
        assert!(matches!(&err, VocabError::Io { path, .. } if path == missing), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/genrep/vocab.txt"), "{err}");

        let path = temp_vocab("empty", "");
        let err = WordPiece::from_vocab_file(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(&err, VocabError::Empty { path: p } if *p == path), "{err:?}");

        let origin = Path::new("v.txt");
        let err = WordPiece::from_tokens(vec![], origin).unwrap_err();
        assert!(matches!(err, VocabError::Empty { .. }));
        let err = WordPiece::from_tokens(vec!["[UNK]".into(), "a".into()], origin).unwrap_err();
        assert!(matches!(&err, VocabError::MissingToken { token, .. } if token == "[PAD]"), "{err:?}");
        let err = WordPiece::from_tokens(vec!["[PAD]".into(), "a".into()], origin).unwrap_err();
        assert!(matches!(&err, VocabError::MissingToken { token, .. } if token == "[UNK]"), "{err:?}");
        assert_eq!(err.to_string(), "v.txt: WordPiece vocabulary lacks the required token `[UNK]`");
        let tokens = ["[PAD]", "[UNK]", "a", "b", "a"].map(String::from).to_vec();
        let err = WordPiece::from_tokens(tokens, origin).unwrap_err();
        assert!(matches!(&err, VocabError::DuplicateToken { token, line: 5, .. } if token == "a"), "{err:?}");
        assert_eq!(err.to_string(), "v.txt: line 5: duplicate WordPiece token `a`");
    }

    #[test]
    fn character_classes() {
        for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".chars() {
            assert!(is_punctuation(c), "{c:?}");
        }
        for c in ['¿', '¡', '「', '、', '—', '…', '«', '‘', '·'] {
            assert!(is_punctuation(c), "{c:?}");
        }
        for c in ['a', '0', ' ', '★', '€', '©', '😀', 'é', '北'] {
            assert!(!is_punctuation(c), "{c:?}");
        }
        assert!(is_mark_nonspacing('\u{301}') && is_mark_nonspacing('\u{5B4}') && !is_mark_nonspacing('e'));
        assert!(is_control('\u{7}') && is_control('\u{200D}') && is_control('\u{FEFF}') && is_control('\u{85}'));
        assert!(
            is_control('\u{E000}') && is_control('\u{F03D}') && is_control('\u{10FFFD}') && !is_control('\u{FFFFE}')
        );
        assert!(!is_control('\t') && !is_control('\n') && !is_control('\r') && !is_control('a'));
        assert!(is_chinese_char('北') && is_chinese_char('\u{F900}') && !is_chinese_char('の'));
    }

    /// Text mixing vocabulary words with characters from every class the pipeline treats specially.
    fn tricky_text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("hello".to_string()),
            Just("unaffable".to_string()),
            Just("a".repeat(99)),
            Just("a".repeat(150)),
            any::<char>().prop_map(String::from),
            prop::sample::select(vec![
                " ",
                "\t",
                "\n",
                "\r",
                "\0",
                "\u{FFFD}",
                "\u{0B}",
                "\u{85}",
                "\u{200B}",
                "\u{301}",
                "\u{5B4}",
                "é",
                "İ",
                "ß",
                "Σ",
                "北",
                "\u{2B820}",
                "\u{F900}",
                "の",
                "—",
                "«",
                "😀",
                "\u{1F3FD}",
                "$",
                "#",
                ".",
            ])
            .prop_map(String::from),
        ];
        prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_and_fixed_length_holds(text in any::<String>(), len in 0usize..48) {
            let wp = tiny();
            let ids = wp.encode(&text);
            prop_assert!(ids.iter().all(|&i| (i as usize) < wp.vocab_size()));
            prop_assert_eq!(wp.tokenize(&text).len(), ids.len());
            let fixed = wp.encode_fixed(&text, len);
            prop_assert_eq!(fixed.len(), len);
            prop_assert!(fixed.iter().all(|&i| (i as usize) < wp.vocab_size()));
            let _ = wp.decode(&fixed);
        }

        #[test]
        fn tricky_text_never_panics(text in tricky_text(), len in 0usize..48) {
            let wp = tiny();
            let ids = wp.encode(&text);
            let tokens = wp.tokenize(&text);
            prop_assert_eq!(tokens.len(), ids.len());
            for (token, &i) in tokens.iter().zip(&ids) {
                prop_assert_eq!(wp.token(i), Some(token.as_str()));
            }
            let fixed = wp.encode_fixed(&text, len);
            prop_assert_eq!(fixed.len(), len);
            prop_assert!(fixed.iter().all(|&i| (i as usize) < wp.vocab_size()));
            // The fixed encoding is [CLS] + a prefix of the plain encoding + [SEP] + padding.
            if len >= 2 {
                let body = (len - 2).min(ids.len());
                prop_assert_eq!(fixed[0], 2);
                prop_assert_eq!(&fixed[1..1 + body], &ids[..body]);
                prop_assert_eq!(fixed[1 + body], 3);
                prop_assert!(fixed[2 + body..].iter().all(|&i| i == 0));
            }
            let _ = wp.decode(&ids);
        }

        #[test]
        fn arbitrary_ids_decode(ids in prop::collection::vec(any::<u32>(), 0..20)) {
            let _ = tiny().decode(&ids);
        }
    }
}
