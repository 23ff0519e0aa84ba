//! Every parser rejects malformed input with a typed error naming the file, never a panic.

use flate2::{write::GzEncoder, Compression};
use genrep_data::{agnews, cifar, jigsaw, mnist, source, task, DataDir, DataError, Split, TaskSpec};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

fn p(name: &str) -> PathBuf {
    PathBuf::from(format!("/fixture/{name}"))
}

fn idx_images(n: u32, rows: u32, cols: u32, body: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x0803u32, n, rows, cols] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, body));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0x0801u32.to_be_bytes());
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn msg(e: DataError) -> String {
    e.to_string()
}

#[test]
fn idx_good_and_bad() {
    let ok = mnist::parse_idx_images(&p("a"), &idx_images(2, 2, 3, 12)).unwrap();
    assert_eq!((ok.0, ok.1, ok.2, ok.3.len()), (2, 2, 3, 12));
    let e = msg(mnist::parse_idx_images(&p("imgs"), &idx_images(2, 2, 3, 11)).unwrap_err());
    assert!(e.contains("/fixture/imgs") && e.contains("2 images of 2x3") && e.contains("11 data bytes"), "{e}");
    let mut wrong = idx_images(1, 1, 1, 1);
    wrong[3] = 0x01;
    let e = msg(mnist::parse_idx_images(&p("m"), &wrong).unwrap_err());
    assert!(e.contains("magic 0x00000801") && e.contains("expected 0x00000803"), "{e}");
    let e = msg(mnist::parse_idx_images(&p("short"), &[0, 0, 8]).unwrap_err());
    assert!(e.contains("shorter than the 16-byte IDX header"), "{e}");
    let e = msg(mnist::parse_idx_labels(&p("l"), &idx_labels(&[1, 2, 10])).unwrap_err());
    assert!(e.contains("record 2: label 10 out of range"), "{e}");
    let mut lab = idx_labels(&[1, 2]);
    lab.pop();
    let e = msg(mnist::parse_idx_labels(&p("l"), &lab).unwrap_err());
    assert!(e.contains("header says 2 labels but the file holds 1"), "{e}");
}

#[test]
fn cifar_size_and_label_checks() {
    let mut px = Vec::new();
    let mut lb = Vec::new();
    let e = msg(cifar::parse_batch(&p("c"), &vec![0u8; cifar::RECORD + 1], &mut px, &mut lb).unwrap_err());
    assert!(e.contains("not a positive multiple of the 3073-byte record"), "{e}");
    let mut rec = vec![0u8; 2 * cifar::RECORD];
    rec[cifar::RECORD] = 11;
    let e = msg(cifar::parse_batch(&p("c"), &rec, &mut px, &mut lb).unwrap_err());
    assert!(e.contains("record 1: label 11 out of range"), "{e}");
    assert!(lb.is_empty(), "a rejected batch leaves no partial labels");
}

#[test]
fn gzip_truncated_or_fake() {
    let full = gz(&idx_labels(&[1, 2, 3]));
    let cut = full[..full.len() - 6].to_vec();
    let e = msg(source::decode_maybe_gz(&p("x.gz"), cut).unwrap_err());
    assert!(e.contains("/fixture/x.gz") && e.contains("corrupt or truncated gzip"), "{e}");
    let e = msg(source::decode_maybe_gz(&p("y.gz"), b"plain text".to_vec()).unwrap_err());
    assert!(e.contains("gzip magic"), "{e}");
    assert_eq!(source::decode_maybe_gz(&p("z.gz"), full).unwrap(), idx_labels(&[1, 2, 3]));
}

#[test]
fn agnews_csv_errors() {
    let ok = agnews::parse(&p("ag"), b"\"3\",\"T\",\"D\\ x\"\n\"1\",\"a\",\"b\"\n").unwrap();
    assert_eq!(ok.labels, vec![2, 0]);
    assert_eq!(ok.texts[0], "T D  x");
    let e = msg(agnews::parse(&p("ag"), b"\"1\",\"a\",\"b\"\n\"5\",\"a\",\"b\"\n").unwrap_err());
    assert!(e.contains("label 5 out of range"), "{e}");
    let e = msg(agnews::parse(&p("ag"), b"\"1\",\"a\",\"b\"\n\"2\",\"a\"\n").unwrap_err());
    assert!(e.contains("line 2") && e.contains("2 fields; expected 3"), "{e}");
    let e = msg(agnews::parse(&p("ag"), b"\"x\",\"a\",\"b\"\n").unwrap_err());
    assert!(e.contains("line 1") && e.contains("not an integer"), "{e}");
    let e = msg(agnews::parse(&p("ag"), b"\"1\",\"a\xff\",\"b\"\n").unwrap_err());
    assert!(e.contains("invalid UTF-8"), "{e}");
}

#[test]
fn jigsaw_csv_errors() {
    let head =
        "\"id\",\"comment_text\",\"toxic\",\"severe_toxic\",\"obscene\",\"threat\",\"insult\",\"identity_hate\"\n";
    let ok = format!("{head}\"a1\",\"two\nlines\",1,0,0,0,1,0\n");
    let c = jigsaw::parse(&p("j"), ok.as_bytes()).unwrap();
    assert_eq!(c[0].text, "two\nlines");
    assert_eq!(c[0].labels, [1, 0, 0, 0, 1, 0]);
    let bad = format!("{head}\"a1\",\"x\",2,0,0,0,1,0\n");
    let e = msg(jigsaw::parse(&p("j"), bad.as_bytes()).unwrap_err());
    assert!(e.contains("line 2") && e.contains("`toxic` is `2`"), "{e}");
    let e = msg(jigsaw::parse(&p("j"), b"\"a1\",\"x\",1,0,0,0,1,0\n").unwrap_err());
    assert!(e.contains("header is"), "{e}");
    let e = msg(jigsaw::parse(&p("j"), b"").unwrap_err());
    assert!(e.contains("empty file"), "{e}");
}

#[test]
fn task_spec_parsing() {
    assert_eq!("mnist:3-vs-8".parse::<TaskSpec>().unwrap().pair, Some((3, 8)));
    assert_eq!("cifar10:cat-vs-dog".parse::<TaskSpec>().unwrap().pair, Some((3, 5)));
    assert_eq!("agnews:world-vs-sports".parse::<TaskSpec>().unwrap().pair, Some((0, 1)));
    assert_eq!("agnews:sci/tech-vs-2".parse::<TaskSpec>().unwrap().pair, Some((3, 2)));
    assert_eq!("toxicity".parse::<TaskSpec>().unwrap().pair, None);
    let spec: TaskSpec = "cifar10:3-vs-5".parse().unwrap();
    assert_eq!(spec.to_string(), "cifar10:cat-vs-dog");
    assert_eq!(spec.to_string().parse::<TaskSpec>().unwrap(), spec, "Display round-trips");
    for (bad, needle) in [
        ("imagenet", "unknown dataset `imagenet`"),
        ("mnist:3-8", "expected `dataset:A-vs-B`"),
        ("mnist:3-vs-3", "must differ"),
        ("mnist:3-vs-10", "unknown class `10`"),
        ("cifar10:cat-vs-unicorn", "unknown class `unicorn`"),
        ("toxicity:0-vs-1", "already binary"),
    ] {
        let e = bad.parse::<TaskSpec>().unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

#[test]
fn missing_files_name_the_path_and_the_hint() {
    let tmp = std::env::temp_dir().join(format!("genrep-empty-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = DataDir::at(&tmp);
    let e = msg(mnist::load(&dir, Split::Train).unwrap_err());
    assert!(e.contains("train-images-idx3-ubyte") && e.contains("GENREP_DATA"), "{e}");
    let e = msg(task::build(&dir, &"toxicity".parse().unwrap(), &Default::default()).unwrap_err());
    assert!(e.contains("vocab.txt"), "{e}");
    let e = msg(DataDir::resolve(Some(Path::new("/no/such/dir"))).unwrap_err());
    assert!(e.contains("/no/such/dir") && e.contains("--data-dir"), "{e}");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn a_real_layout_with_a_corrupt_file_is_reported() {
    let tmp = std::env::temp_dir().join(format!("genrep-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("mnist")).unwrap();
    std::fs::write(tmp.join("mnist/train-images-idx3-ubyte.gz"), &gz(&idx_images(2, 28, 28, 2 * 784))[..20]).unwrap();
    std::fs::write(tmp.join("mnist/train-labels-idx1-ubyte"), idx_labels(&[1, 2])).unwrap();
    let e = msg(mnist::load(&DataDir::at(&tmp), Split::Train).unwrap_err());
    assert!(e.contains("train-images-idx3-ubyte.gz") && e.contains("gzip"), "{e}");
    std::fs::write(tmp.join("mnist/train-images-idx3-ubyte.gz"), gz(&idx_images(2, 28, 28, 2 * 784))).unwrap();
    let set = mnist::load(&DataDir::at(&tmp), Split::Train).unwrap();
    assert_eq!(set.labels, vec![1, 2], "raw (non-gz) label file found by the plain name");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn balancing_caps_at_the_smallest_class_and_an_absent_class_is_an_error() {
    let opts = genrep_data::TaskOptions { balance_train: true, ..Default::default() };
    let labels = [0u8, 1, 1, 1, 2, 2];
    assert_eq!(opts.train_cap(&labels, &[1, 2]), Some(2));
    assert_eq!(opts.train_cap(&labels, &[0, 1, 2]), Some(1));
    let capped = genrep_data::TaskOptions { train_per_class: Some(1), ..opts.clone() };
    assert_eq!(capped.train_cap(&labels, &[1, 2]), Some(1));
    let plain = genrep_data::TaskOptions::default();
    assert_eq!(plain.train_cap(&labels, &[1, 2]), None, "off by default");

    // MNIST files holding only digits 1 and 2: balancing 1-vs-3 leaves nothing to train on.
    let tmp = std::env::temp_dir().join(format!("genrep-balance-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("mnist")).unwrap();
    for split in ["train", "t10k"] {
        std::fs::write(tmp.join(format!("mnist/{split}-images-idx3-ubyte")), idx_images(2, 28, 28, 2 * 784)).unwrap();
        std::fs::write(tmp.join(format!("mnist/{split}-labels-idx1-ubyte")), idx_labels(&[1, 2])).unwrap();
    }
    let spec: TaskSpec = "mnist:1-vs-3".parse().unwrap();
    let e = msg(task::build(&DataDir::at(&tmp), &spec, &opts).unwrap_err());
    assert!(e.contains("mnist:1-vs-3") && e.contains("no training examples"), "{e}");
    let t = task::build(&DataDir::at(&tmp), &spec, &plain).unwrap();
    assert_eq!(t.train.class_counts(2), vec![1, 0], "without balancing the one digit 1 is kept");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn task_specs_read_back_from_json_are_validated() {
    let ok: TaskSpec = serde_json::from_str(r#"{"dataset":"mnist","pair":[3,8]}"#).unwrap();
    assert_eq!(ok.to_string(), "mnist:3-vs-8");
    for (json, needle) in [
        (r#"{"dataset":"mnist","pair":[3,42]}"#, "out of range"),
        (r#"{"dataset":"cifar10","pair":[10,1]}"#, "out of range"),
        (r#"{"dataset":"mnist","pair":[3,3]}"#, "must differ"),
        (r#"{"dataset":"toxicity","pair":[0,1]}"#, "already binary"),
        (r#"{"dataset":"imagenet","pair":null}"#, "unknown variant"),
    ] {
        let e = serde_json::from_str::<TaskSpec>(json).unwrap_err().to_string();
        assert!(e.contains(needle), "{json}: {e}");
    }
}

#[test]
fn test_images_of_another_size_and_an_empty_test_split_are_errors() {
    let tmp = std::env::temp_dir().join(format!("genrep-shapes-{}", std::process::id()));
    std::fs::create_dir_all(tmp.join("mnist")).unwrap();
    std::fs::write(tmp.join("mnist/train-images-idx3-ubyte"), idx_images(2, 28, 28, 2 * 784)).unwrap();
    std::fs::write(tmp.join("mnist/train-labels-idx1-ubyte"), idx_labels(&[1, 2])).unwrap();
    std::fs::write(tmp.join("mnist/t10k-images-idx3-ubyte"), idx_images(2, 28, 30, 2 * 840)).unwrap();
    std::fs::write(tmp.join("mnist/t10k-labels-idx1-ubyte"), idx_labels(&[1, 2])).unwrap();
    let spec: TaskSpec = "mnist:1-vs-2".parse().unwrap();
    let e = msg(task::build(&DataDir::at(&tmp), &spec, &Default::default()).unwrap_err());
    assert!(e.contains("test images") && e.contains("1x28x30") && e.contains("1x28x28"), "{e}");
    // Test files holding neither class of the task.
    std::fs::write(tmp.join("mnist/t10k-images-idx3-ubyte"), idx_images(2, 28, 28, 2 * 784)).unwrap();
    std::fs::write(tmp.join("mnist/t10k-labels-idx1-ubyte"), idx_labels(&[5, 6])).unwrap();
    let e = msg(task::build(&DataDir::at(&tmp), &spec, &Default::default()).unwrap_err());
    assert!(e.contains("mnist:1-vs-2") && e.contains("no test examples"), "{e}");
    std::fs::remove_dir_all(&tmp).ok();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn task_spec_parsing_never_panics_and_round_trips(s in "[a-z0-9:/_ -]{0,24}|(mnist|cifar10|agnews|toxicity):[a-z0-9]{0,6}-vs-[a-z0-9]{0,6}") {
        if let Ok(spec) = s.parse::<TaskSpec>() {
            prop_assert_eq!(spec.to_string().parse::<TaskSpec>().unwrap(), spec.clone());
            prop_assert!(spec.validate().is_ok());
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4000)) {
        let _ = mnist::parse_idx_images(&p("r"), &bytes);
        let _ = mnist::parse_idx_labels(&p("r"), &bytes);
        let _ = cifar::parse_batch(&p("r"), &bytes, &mut Vec::new(), &mut Vec::new());
        let _ = agnews::parse(&p("r"), &bytes);
        let _ = jigsaw::parse(&p("r"), &bytes);
        let _ = source::decode_maybe_gz(&p("r.gz"), bytes.clone());
        let mut g = vec![0x1f, 0x8b];
        g.extend_from_slice(&bytes);
        let _ = source::decode_maybe_gz(&p("r.gz"), g);
    }

    #[test]
    fn truncated_valid_files_are_errors_not_panics(cut in 0usize..200) {
        let imgs = idx_images(3, 4, 4, 48);
        let labs = idx_labels(&[0, 1, 2]);
        let full_gz = gz(&imgs);
        if cut < imgs.len() {
            prop_assert!(mnist::parse_idx_images(&p("t"), &imgs[..cut]).is_err());
        }
        if cut < labs.len() {
            prop_assert!(mnist::parse_idx_labels(&p("t"), &labs[..cut]).is_err());
        }
        if cut < full_gz.len() {
            prop_assert!(source::decode_maybe_gz(&p("t.gz"), full_gz[..cut].to_vec()).is_err());
        }
        let rec = vec![1u8; 2 * cifar::RECORD];
        let c = cut * 31 % rec.len();
        if !c.is_multiple_of(cifar::RECORD) {
            prop_assert!(cifar::parse_batch(&p("t"), &rec[..c], &mut Vec::new(), &mut Vec::new()).is_err());
        }
    }

    #[test]
    fn task_spec_parsing_never_panics(s in "\\PC{0,30}") {
        let _ = s.parse::<TaskSpec>();
    }
}
