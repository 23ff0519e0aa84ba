//! Rendering of explanations against synthetic splits: exact inversion of the normalisation,
//! documented grid dimensions, errors instead of panics, Markdown escaping, atomic PNG saving.

use genrep_data::{Examples, Inputs};
use genrep_explain::Attribution;
use genrep_render::{explanation_grid, explanation_markdown, image_rgb, save_png, RenderError};

const MNIST_MEAN: f32 = 0.1307;
const MNIST_STD: f32 = 0.3081;
const CIFAR_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
const CIFAR_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// Raw pixel `k` of example `i` (deterministic, covers 0..=255).
fn raw(i: usize, k: usize) -> u8 {
    ((i * 37 + k * 11) % 256) as u8
}

/// `n` images of shape `c x h x w` normalised exactly like `genrep_data::task` does.
fn images(n: usize, c: usize, h: usize, w: usize, mean: &[f32], std: &[f32]) -> Examples {
    let plane = h * w;
    let mut data = Vec::with_capacity(n * c * plane);
    for i in 0..n {
        for k in 0..c * plane {
            let ch = k / plane;
            data.push((raw(i, k) as f32 / 255.0 - mean[ch]) / std[ch]);
        }
    }
    Examples {
        inputs: Inputs::Images { channels: c, height: h, width: w, data, mean: mean.to_vec(), std: std.to_vec() },
        labels: (0..n).map(|i| i % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}

fn mnist(n: usize) -> Examples {
    images(n, 1, 28, 28, &[MNIST_MEAN], &[MNIST_STD])
}

fn texts(texts: &[&str]) -> Examples {
    let n = texts.len();
    Examples {
        inputs: Inputs::Tokens { seq_len: 4, ids: vec![0; 4 * n], vocab_size: 10 },
        labels: (0..n).map(|i| i % 2).collect(),
        source_index: (0..n).collect(),
        texts: Some(texts.iter().map(|s| s.to_string()).collect()),
    }
}

fn attribution(test_index: usize, n: usize) -> Attribution {
    let scores: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).sin()).collect();
    Attribution {
        method: "tracking:ntk-final".into(),
        test_index,
        explained_class: 1,
        versus: None,
        score: 1.5,
        scores,
    }
}

fn names() -> Vec<String> {
    vec!["three".to_string(), "eight".to_string()]
}

#[test]
fn image_rgb_inverts_the_normalisation_exactly() {
    let gray = mnist(3);
    for i in 0..3 {
        let img = image_rgb(&gray, i).unwrap();
        assert_eq!(img.dimensions(), (28, 28));
        for (k, px) in img.pixels().enumerate() {
            let v = raw(i, k);
            assert_eq!(px.0, [v, v, v], "example {i} pixel {k}");
        }
    }
    let rgb = images(2, 3, 32, 32, &CIFAR_MEAN, &CIFAR_STD);
    let img = image_rgb(&rgb, 1).unwrap();
    assert_eq!(img.dimensions(), (32, 32));
    let plane = 32 * 32;
    for (k, px) in img.pixels().enumerate() {
        assert_eq!(px.0, [raw(1, k), raw(1, plane + k), raw(1, 2 * plane + k)], "pixel {k}");
    }
}

#[test]
fn image_rgb_clamps_out_of_range_values() {
    let mut ex = mnist(1);
    if let Inputs::Images { data, .. } = &mut ex.inputs {
        data[0] = 1e6;
        data[1] = -1e6;
        data[2] = f32::NAN;
        data[3] = f32::INFINITY;
    }
    let img = image_rgb(&ex, 0).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [255; 3]);
    assert_eq!(img.get_pixel(1, 0).0, [0; 3]);
    assert_eq!(img.get_pixel(2, 0).0, [0; 3]);
    assert_eq!(img.get_pixel(3, 0).0, [255; 3]);
}

#[test]
fn image_rgb_errors_instead_of_panicking() {
    let ex = mnist(2);
    assert!(matches!(image_rgb(&ex, 2), Err(RenderError::IndexOutOfRange { index: 2, len: 2, .. })));
    assert!(matches!(image_rgb(&ex, usize::MAX), Err(RenderError::IndexOutOfRange { .. })));
    assert!(matches!(image_rgb(&texts(&["a"]), 0), Err(RenderError::NotImages { .. })));

    // Data shorter than the labels claim.
    let mut short = mnist(2);
    if let Inputs::Images { data, .. } = &mut short.inputs {
        data.truncate(28 * 28 + 5);
    }
    assert!(image_rgb(&short, 0).is_ok());
    assert!(matches!(image_rgb(&short, 1), Err(RenderError::Malformed { .. })));

    // Inconsistent shapes and constants.
    let mut no_std = mnist(1);
    if let Inputs::Images { std, .. } = &mut no_std.inputs {
        std.clear();
    }
    assert!(matches!(image_rgb(&no_std, 0), Err(RenderError::Malformed { .. })));
    let two_channels = images(1, 2, 4, 4, &[0.5, 0.5], &[0.5, 0.5]);
    assert!(matches!(image_rgb(&two_channels, 0), Err(RenderError::Malformed { .. })));
    let empty = images(1, 1, 0, 4, &[0.5], &[0.5]);
    assert!(matches!(image_rgb(&empty, 0), Err(RenderError::Malformed { .. })));
    let mut huge = mnist(1);
    if let Inputs::Images { height, width, .. } = &mut huge.inputs {
        *height = usize::MAX / 2;
        *width = usize::MAX / 2;
    }
    assert!(image_rgb(&huge, 0).is_err());
}

#[test]
fn grid_dimensions_are_as_documented() {
    let (test, train) = (mnist(3), mnist(6));
    let attr = attribution(1, 6);
    // 28x28: m = 4, tile = 118, col = 120; width = 8 + cols * 128, height = 8 + 118 + 8 + 2 * 206.
    for (k, cols) in [(3, 4), (0, 4), (4, 4), (5, 5), (6, 6), (10, 6), (usize::MAX, 6)] {
        let img = explanation_grid(&attr, &test, &train, &names(), k).unwrap();
        assert_eq!(img.dimensions(), (8 + cols * 128, 546), "k = {k}");
    }
    assert_eq!(explanation_grid(&attr, &test, &train, &names(), 3).unwrap().dimensions(), (520, 546));

    // 32x32 RGB: m = 3, tile = 102, col = 120; height = 8 + 102 + 8 + 2 * (20 + 102 + 60 + 8).
    let (test, train) = (images(2, 3, 32, 32, &CIFAR_MEAN, &CIFAR_STD), images(8, 3, 32, 32, &CIFAR_MEAN, &CIFAR_STD));
    let attr = attribution(0, 8);
    let img = explanation_grid(&attr, &test, &train, &names(), 3).unwrap();
    assert_eq!(img.dimensions(), (520, 498));
    let img = explanation_grid(&attr, &test, &train, &names(), 7).unwrap();
    assert_eq!(img.dimensions(), (8 + 7 * 128, 498));
}

#[test]
fn grid_draws_the_test_image_upscaled_with_borders() {
    let (test, train) = (mnist(3), mnist(6));
    let attr = attribution(2, 6);
    let grid = explanation_grid(&attr, &test, &train, &names(), 3).unwrap();
    let small = image_rgb(&test, 2).unwrap();
    // The test image sits at (8 + 3, 8 + 3), magnified 4x with nearest neighbour.
    for y in 0..112 {
        for x in 0..112 {
            assert_eq!(grid.get_pixel(11 + x, 11 + y), small.get_pixel(x / 4, y / 4), "({x}, {y})");
        }
    }
    // Best proponent tile: row 2 starts at 8 + 118 + 8, its image below an 20-px title line.
    let best = attr.top_k(1, genrep_explain::Polarity::Proponents)[0].index;
    let tile = image_rgb(&train, best).unwrap();
    let y0 = 8 + 118 + 8 + 20;
    assert_eq!(grid.get_pixel(8, y0).0, [0, 160, 60], "green border");
    assert_eq!(grid.get_pixel(11, y0 + 3), tile.get_pixel(0, 0));
    // Best opponent tile, one row (206 px + 8) lower, red border.
    assert_eq!(grid.get_pixel(8, y0 + 214).0, [210, 30, 30], "red border");
}

#[test]
fn grid_errors_instead_of_panicking() {
    let (test, train) = (mnist(3), mnist(6));
    let out_of_range = attribution(3, 6);
    assert!(matches!(
        explanation_grid(&out_of_range, &test, &train, &names(), 3),
        Err(RenderError::IndexOutOfRange { split: "test", index: 3, len: 3 })
    ));
    let wrong_length = attribution(0, 5);
    assert!(matches!(
        explanation_grid(&wrong_length, &test, &train, &names(), 3),
        Err(RenderError::ScoresLength { scores: 5, train: 6 })
    ));
    let text = texts(&["a", "b", "c"]);
    assert!(matches!(
        explanation_grid(&attribution(0, 6), &text, &train, &names(), 3),
        Err(RenderError::NotImages { split: "test" })
    ));
    // Unknown class names, non-finite scores and an empty training split still render.
    let mut odd = attribution(0, 6);
    odd.explained_class = 99;
    odd.score = f64::NAN;
    odd.scores[0] = f64::INFINITY;
    odd.scores[1] = 1e-9;
    odd.method = "é".repeat(500);
    assert!(explanation_grid(&odd, &test, &train, &[], 3).is_ok());
    // A grid beyond MAX_PIXELS is refused before anything is drawn.
    let many = mnist(4000);
    assert!(matches!(
        explanation_grid(&attribution(0, 4000), &test, &many, &names(), 4000),
        Err(RenderError::TooLarge { width: 512_008, height: 546, .. })
    ));
    let empty = mnist(0);
    let img = explanation_grid(&attribution(0, 0), &test, &empty, &names(), 3).unwrap();
    assert_eq!(img.dimensions(), (520, 546));
}

#[test]
fn markdown_lists_proponents_and_opponents_with_escaping() {
    let test = texts(&["the match | ended\n2-1", "other"]);
    let long = "x".repeat(500);
    let train = texts(&["a | b", "line one\nline two", &long, "plain", "back\\slash"]);
    let attr = Attribution {
        method: "representer".into(),
        test_index: 0,
        explained_class: 1,
        versus: None,
        score: 2.0,
        scores: vec![0.9, -0.8, 0.1, -0.05, 0.3],
    };
    let md = explanation_markdown(&attr, &test, &train, &names(), 2).unwrap();
    assert!(md.contains("the match \\| ended<br>2-1"), "{md}");
    assert!(md.contains("| 1 | 0 | three | +0.900 | a \\| b |"), "{md}");
    assert!(md.contains("| 2 | 4 | three | +0.300 | back\\\\slash |"), "{md}");
    assert!(md.contains("| 1 | 1 | eight | -0.800 | line one<br>line two |"), "{md}");
    assert!(md.contains("Top proponents") && md.contains("Top opponents"));
    assert!(md.contains("eight") && md.contains("s = 2.000"));
    // Every table row has exactly 6 unescaped pipes (5 cells).
    for line in md.lines().filter(|l| l.starts_with("| ")) {
        let unescaped = line.char_indices().filter(|&(i, c)| c == '|' && !line[..i].ends_with('\\')).count();
        assert_eq!(unescaped, 6, "{line}");
    }
    // Long texts are cut to 200 characters.
    let all = explanation_markdown(&attr, &test, &train, &names(), 10).unwrap();
    assert!(all.contains(&format!("{}…", "x".repeat(200))));
    assert!(!all.contains(&"x".repeat(201)));
    assert_eq!(all.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| rank")).count(), 10);
    let none = explanation_markdown(&attr, &test, &train, &names(), 0).unwrap();
    assert_eq!(none.matches("_none_").count(), 2);
}

#[test]
fn markdown_errors_instead_of_panicking() {
    let test = texts(&["a", "b"]);
    let train = texts(&["c", "d", "e"]);
    assert!(matches!(
        explanation_markdown(&attribution(2, 3), &test, &train, &names(), 2),
        Err(RenderError::IndexOutOfRange { split: "test", index: 2, len: 2 })
    ));
    assert!(matches!(
        explanation_markdown(&attribution(0, 4), &test, &train, &names(), 2),
        Err(RenderError::ScoresLength { scores: 4, train: 3 })
    ));
    assert!(matches!(
        explanation_markdown(&attribution(0, 3), &mnist(2), &train, &names(), 2),
        Err(RenderError::NotText { split: "test" })
    ));
    let mut short = texts(&["c", "d", "e"]);
    short.texts.as_mut().unwrap().pop();
    assert!(matches!(
        explanation_markdown(&attribution(0, 3), &test, &short, &names(), 2),
        Err(RenderError::Malformed { split: "train", .. })
    ));
}

#[test]
fn save_png_round_trips_atomically() {
    let dir = std::env::temp_dir().join(format!("genrep-render-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("grid.png");
    let grid = explanation_grid(&attribution(0, 6), &mnist(1), &mnist(6), &names(), 3).unwrap();
    save_png(&grid, &path).unwrap();
    // Overwriting works too.
    save_png(&grid, &path).unwrap();
    let back = image::open(&path).unwrap().to_rgb8();
    assert_eq!(back.dimensions(), grid.dimensions());
    assert_eq!(back, grid);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary file left behind: {leftovers:?}");

    // A parent that is a file cannot be created: an error naming the path.
    std::fs::write(dir.join("not-a-dir"), b"x").unwrap();
    let missing = dir.join("not-a-dir").join("x.png");
    match save_png(&grid, &missing) {
        Err(err @ RenderError::Io { .. }) => assert!(err.to_string().contains("not-a-dir"), "{err}"),
        other => panic!("expected an io error, got {other:?}"),
    }
    assert!(save_png(&grid, std::path::Path::new("/")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
