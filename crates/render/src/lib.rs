//! # genrep-render
//!
//! Rendering of explanations for people (its own crate so that a library user who only wants
//! scores does not compile `image`): PNG grids for image tasks and Markdown tables for text
//! tasks.
//!
//! * [`image_rgb`] turns one normalised example of an image split back into an RGB image.
//! * [`explanation_grid`] draws the test image, its top proponents (green) and top opponents
//!   (red) with captions, using a small embedded 5x7 bitmap font (no font files needed).
//! * [`explanation_markdown`] lists the top proponents and opponents of a text prediction.
//! * [`save_png`] writes a PNG atomically.
//!
//! Every function returns a [`RenderError`] (never panics) on out-of-range indices, the wrong
//! kind of split, or malformed [`Examples`].

use genrep_data::{Examples, Inputs};
pub mod chart;

pub use chart::{Bar, BarChart, Chart, ChartError, LineChart, Series};
use genrep_explain::{Attribution, Polarity, Ranked};
use image::{Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// Errors while rendering or saving an explanation.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An example index outside its split.
    #[error("{split} index {index} is out of range (the split has {len} examples)")]
    IndexOutOfRange {
        /// Which split (`test`, `train` or `examples`).
        split: &'static str,
        /// The offending index.
        index: usize,
        /// Number of examples in the split.
        len: usize,
    },

    /// An image rendering was asked of a split that holds token ids.
    #[error("the {split} split is not an image split (it holds token ids); use explanation_markdown for text tasks")]
    NotImages {
        /// Which split.
        split: &'static str,
    },

    /// A text rendering was asked of a split without raw texts.
    #[error("the {split} split is not a text split (it has no raw texts); use explanation_grid for image tasks")]
    NotText {
        /// Which split.
        split: &'static str,
    },

    /// The attribution does not have one score per training example.
    #[error("the attribution has {scores} scores but the train split has {train} examples")]
    ScoresLength {
        /// Length of `Attribution::scores`.
        scores: usize,
        /// Number of training examples.
        train: usize,
    },

    /// A split whose fields are inconsistent (data too short, missing normalisation constants,
    /// unsupported channel count, ...).
    #[error("malformed {split} split: {what}")]
    Malformed {
        /// Which split.
        split: &'static str,
        /// What is wrong.
        what: String,
    },

    /// The rendering would be unreasonably large.
    #[error("the rendering would be {width}x{height} pixels, more than the limit of {limit} pixels")]
    TooLarge {
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
        /// Maximum number of pixels.
        limit: u64,
    },

    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// PNG encoding failed.
    #[error("cannot encode {path} as PNG: {source}")]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },
}

type Result<T> = std::result::Result<T, RenderError>;

/// Largest image, in pixels, that [`explanation_grid`] will draw (256 Mpx, 768 MB as RGB).
pub const MAX_PIXELS: u64 = 1 << 28;

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

/// Shape and normalisation of an image split, validated.
struct ImageSplit<'a> {
    channels: usize,
    height: usize,
    width: usize,
    data: &'a [f32],
    mean: &'a [f32],
    std: &'a [f32],
}

fn image_split<'a>(ex: &'a Examples, split: &'static str) -> Result<ImageSplit<'a>> {
    let Inputs::Images { channels, height, width, data, mean, std } = &ex.inputs else {
        return Err(RenderError::NotImages { split });
    };
    let (channels, height, width) = (*channels, *height, *width);
    let bad = |what: String| RenderError::Malformed { split, what };
    if channels != 1 && channels != 3 {
        return Err(bad(format!("{channels} channels (expected 1 for grayscale or 3 for RGB)")));
    }
    if height == 0 || width == 0 {
        return Err(bad(format!("empty image shape {height}x{width}")));
    }
    if u32::try_from(height).is_err() || u32::try_from(width).is_err() {
        return Err(bad(format!("image shape {height}x{width} is too large")));
    }
    if mean.len() < channels || std.len() < channels {
        return Err(bad(format!("{channels} channels but {} means and {} standard deviations", mean.len(), std.len())));
    }
    Ok(ImageSplit { channels, height, width, data, mean, std })
}

impl ImageSplit<'_> {
    /// Undoes the normalisation of example `index` (whose bounds the caller checked).
    fn rgb(&self, index: usize, split: &'static str) -> Result<RgbImage> {
        let plane = self.height.saturating_mul(self.width);
        let range = plane.checked_mul(self.channels).and_then(|size| {
            let start = index.checked_mul(size)?;
            Some(start..start.checked_add(size)?)
        });
        let Some(pixels) = range.and_then(|r| self.data.get(r)) else {
            return Err(RenderError::Malformed {
                split,
                what: format!(
                    "{} values of data are too few for example {index} of shape {}x{}x{}",
                    self.data.len(),
                    self.channels,
                    self.height,
                    self.width
                ),
            });
        };
        let to_u8 = |v: f32, c: usize| -> u8 {
            // NaN casts to 0; the clamp keeps everything else in range.
            ((v * self.std[c] + self.mean[c]) * 255.0).round().clamp(0.0, 255.0) as u8
        };
        // Both dimensions fit u32 (checked in `image_split`).
        let mut img = RgbImage::new(self.width as u32, self.height as u32);
        for (k, px) in img.pixels_mut().enumerate() {
            *px = if self.channels == 1 {
                let g = to_u8(pixels[k], 0);
                Rgb([g, g, g])
            } else {
                Rgb([to_u8(pixels[k], 0), to_u8(pixels[plane + k], 1), to_u8(pixels[2 * plane + k], 2)])
            };
        }
        Ok(img)
    }
}

fn check_index(ex: &Examples, index: usize, split: &'static str) -> Result<()> {
    if index >= ex.len() {
        return Err(RenderError::IndexOutOfRange { split, index, len: ex.len() });
    }
    Ok(())
}

/// Example `index` of an image split as an RGB image of the split's `width x height`: the
/// normalisation `(x/255 - mean[c]) / std[c]` is undone, values are rounded and clamped to
/// `0..=255` (NaN becomes 0), and grayscale (1 channel) is replicated to R, G and B.
///
/// Errors: [`RenderError::IndexOutOfRange`] when `index >= examples.len()`,
/// [`RenderError::NotImages`] for a token split, [`RenderError::Malformed`] when the data is
/// shorter than `(index + 1) * channels * height * width`, the channel count is not 1 or 3, or
/// `mean`/`std` have fewer than `channels` entries.
pub fn image_rgb(examples: &Examples, index: usize) -> Result<RgbImage> {
    let split = image_split(examples, "examples")?;
    check_index(examples, index, "examples")?;
    split.rgb(index, "examples")
}

// ---------------------------------------------------------------------------------------------
// Bitmap font
// ---------------------------------------------------------------------------------------------

/// 5x7 glyphs of ASCII 32..=126, one `u8` per row (top first), bit 4 = leftmost column; rows 7
/// and 8 hold the descenders of `g j p q y`.
const FONT: [[u8; 9]; 95] = [
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // ' '
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00, 0x00], // '!'
    [0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // '"'
    [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00, 0x00], // '#'
    [0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00, 0x00], // '$'
    [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00, 0x00], // '%'
    [0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00, 0x00], // '&'
    [0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // '\''
    [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00, 0x00], // '('
    [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00, 0x00], // ')'
    [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00, 0x00], // '*'
    [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00, 0x00], // '+'
    [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08, 0x00, 0x00], // ','
    [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00, 0x00], // '-'
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00, 0x00], // '.'
    [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00, 0x00], // '/'
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00, 0x00], // '0'
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00], // '1'
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00], // '2'
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00, 0x00], // '3'
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00, 0x00], // '4'
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00, 0x00], // '5'
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00, 0x00], // '6'
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00, 0x00], // '7'
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00, 0x00], // '8'
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00, 0x00], // '9'
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00, 0x00], // ':'
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00, 0x00], // ';'
    [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00, 0x00], // '<'
    [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00], // '='
    [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00, 0x00], // '>'
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00, 0x00], // '?'
    [0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00, 0x00], // '@'
    [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x00, 0x00], // 'A'
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00, 0x00], // 'B'
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00], // 'C'
    [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00, 0x00], // 'D'
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00, 0x00], // 'E'
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00], // 'F'
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00, 0x00], // 'G'
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00, 0x00], // 'H'
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00], // 'I'
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00, 0x00], // 'J'
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00, 0x00], // 'K'
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00, 0x00], // 'L'
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00, 0x00], // 'M'
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00, 0x00], // 'N'
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00], // 'O'
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00, 0x00], // 'P'
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00, 0x00], // 'Q'
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00, 0x00], // 'R'
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00, 0x00], // 'S'
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00], // 'T'
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00], // 'U'
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00], // 'V'
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00, 0x00], // 'W'
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00, 0x00], // 'X'
    [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x00, 0x00], // 'Y'
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00, 0x00], // 'Z'
    [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00, 0x00], // '['
    [0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00, 0x00], // '\\'
    [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00, 0x00], // ']'
    [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // '^'
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x00, 0x00], // '_'
    [0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // '`'
    [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00, 0x00], // 'a'
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00, 0x00], // 'b'
    [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00, 0x00], // 'c'
    [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00, 0x00], // 'd'
    [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00, 0x00], // 'e'
    [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00, 0x00], // 'f'
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E], // 'g'
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00], // 'h'
    [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00], // 'i'
    [0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C], // 'j'
    [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00, 0x00], // 'k'
    [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00, 0x00], // 'l'
    [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11, 0x00, 0x00], // 'm'
    [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00, 0x00], // 'n'
    [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00, 0x00], // 'o'
    [0x00, 0x00, 0x1E, 0x11, 0x11, 0x11, 0x1E, 0x10, 0x10], // 'p'
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x01], // 'q'
    [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00, 0x00], // 'r'
    [0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E, 0x00, 0x00], // 's'
    [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00, 0x00], // 't'
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00, 0x00], // 'u'
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00, 0x00], // 'v'
    [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00, 0x00], // 'w'
    [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00, 0x00], // 'x'
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E], // 'y'
    [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00, 0x00], // 'z'
    [0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00, 0x00], // '{'
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x00], // '|'
    [0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00, 0x00], // '}'
    [0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00, 0x00], // '~'
];

/// Integer magnification of the bitmap font in the grid.
const TEXT_SCALE: u32 = 2;
/// Horizontal advance of one character (5 columns + 1 spacing, magnified).
const CHAR_W: u32 = 6 * TEXT_SCALE;
/// Height of one text line (7 rows + 2 descender rows + 1 spacing, magnified).
const LINE_H: u32 = 10 * TEXT_SCALE;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const INK: Rgb<u8> = Rgb([20, 20, 20]);
const GREY: Rgb<u8> = Rgb([110, 110, 110]);
const GREEN: Rgb<u8> = Rgb([0, 160, 60]);
const DARK_GREEN: Rgb<u8> = Rgb([0, 110, 40]);
const RED: Rgb<u8> = Rgb([210, 30, 30]);
const DARK_RED: Rgb<u8> = Rgb([170, 0, 0]);
const BLUE: Rgb<u8> = Rgb([40, 90, 200]);

/// Glyph of `c`; characters outside printable ASCII are drawn as `?`.
fn glyph(c: char) -> &'static [u8; 9] {
    let i = c as u32;
    if (32..=126).contains(&i) {
        &FONT[(i - 32) as usize]
    } else {
        &FONT[(b'?' - 32) as usize]
    }
}

/// Draws one line of text with its top-left corner at `(x, y)`; pixels outside the image are
/// skipped.
fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, color: Rgb<u8>) {
    let (w, h) = img.dimensions();
    for (n, c) in text.chars().enumerate() {
        let x0 = x as u64 + n as u64 * CHAR_W as u64;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..5u64 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..TEXT_SCALE as u64 {
                    for dx in 0..TEXT_SCALE as u64 {
                        let px = x0 + col * TEXT_SCALE as u64 + dx;
                        let py = y as u64 + row as u64 * TEXT_SCALE as u64 + dy;
                        if px < w as u64 && py < h as u64 {
                            img.put_pixel(px as u32, py as u32, color);
                        }
                    }
                }
            }
        }
    }
}

/// How many characters fit in `width` pixels.
fn chars_fitting(width: u32) -> usize {
    ((width + TEXT_SCALE) / CHAR_W) as usize
}

/// `text` cut to at most `max` characters, ending in `~` when cut.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('~');
    s
}

/// Greedy word wrap to lines of at most `max` characters; words longer than a line are broken
/// across lines.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if max == 0 {
        return lines;
    }
    let mut line: Vec<char> = Vec::new();
    for word in text.split_whitespace() {
        let mut word: &[char] = &word.chars().collect::<Vec<_>>();
        let room = if line.is_empty() { max } else { max.saturating_sub(line.len() + 1) };
        if word.len() > room && (word.len() <= max || room < 4) && !line.is_empty() {
            lines.push(std::mem::take(&mut line).into_iter().collect());
        }
        if !line.is_empty() {
            line.push(' ');
        }
        loop {
            let take = word.len().min(max - line.len());
            line.extend_from_slice(&word[..take]);
            word = &word[take..];
            if word.is_empty() {
                break;
            }
            lines.push(std::mem::take(&mut line).into_iter().collect());
        }
    }
    if !line.is_empty() {
        lines.push(line.into_iter().collect());
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Grid
// ---------------------------------------------------------------------------------------------

/// Target edge of an upscaled image: the magnification is `max(1, TILE_TARGET / max(h, w))`.
const TILE_TARGET: usize = 112;
/// Border width around each image.
const BORDER: u32 = 3;
/// Padding between and around everything.
const PAD: u32 = 8;
/// Minimum column width (10 caption characters).
const MIN_COL_W: u32 = 120;
/// Minimum number of columns, so the header text fits beside the test image.
const MIN_COLS: u32 = 4;
/// Minimum number of text lines beside the test image.
const HEADER_LINES: u32 = 4;
/// Caption lines under each training image: index, label, score.
const CAPTION_LINES: u32 = 3;

/// Integer magnification of an image of `max_side` pixels (`max_side > 0`).
fn magnification(max_side: usize) -> u32 {
    (TILE_TARGET / max_side).max(1) as u32
}

/// Class name of `label`, or the bare number when `class_names` has no entry for it.
fn class_name(class_names: &[String], label: usize) -> String {
    class_names.get(label).cloned().unwrap_or_else(|| label.to_string())
}

/// A score with 3 decimals (`+0.123`, `-1.500`), or 2 significant decimals in scientific
/// notation (`+1.23e-5`) when it is very small or very large; `signed` adds `+` to positives.
fn format_score(v: f64, signed: bool) -> String {
    let a = v.abs();
    let sci = a.is_finite() && a != 0.0 && !(1e-3..1e4).contains(&a);
    match (sci, signed) {
        (true, true) => format!("{v:+.2e}"),
        (true, false) => format!("{v:.2e}"),
        (false, true) => format!("{v:+.3}"),
        (false, false) => format!("{v:.3}"),
    }
}

/// Copies `src` magnified `s` times (nearest neighbour) into `dst` at `(x, y)`, framed by a
/// `BORDER`-pixel border of `color`; returns nothing, clips at the edges.
fn draw_tile(dst: &mut RgbImage, src: &RgbImage, s: u32, x: u32, y: u32, color: Rgb<u8>) {
    let (w, h) = (src.width() * s + 2 * BORDER, src.height() * s + 2 * BORDER);
    let (dw, dh) = dst.dimensions();
    for ty in 0..h {
        for tx in 0..w {
            let (px, py) = (x + tx, y + ty);
            if px >= dw || py >= dh {
                continue;
            }
            let inside = tx >= BORDER && ty >= BORDER && tx < w - BORDER && ty < h - BORDER;
            let c = if inside { *src.get_pixel((tx - BORDER) / s, (ty - BORDER) / s) } else { color };
            dst.put_pixel(px, py, c);
        }
    }
}

/// An explanation of one image prediction as a picture, ready for [`save_png`].
///
/// Layout (white background, 5x7 font magnified 2x, so one character is 12 px wide and one
/// text line 20 px high):
///
/// * Header: the test image `attr.test_index` of `test`, magnified `m = max(1, 112 / max(h, w))`
///   times with nearest neighbour (4x for 28x28 MNIST, 3x for 32x32 CIFAR-10) in a blue border,
///   and beside it `test #i pred <class> s=<score>`, `true <label>` and `method <name>`.
/// * Row 2: `top k proponents`, then the `min(k, n)` training examples with the largest
///   attributions ([`Attribution::top_k`] with [`Polarity::Proponents`]), best first, in green
///   borders, each captioned with `#<train index>`, its label name and its score (`+0.123`).
/// * Row 3: the same for opponents (most negative first), in red borders (`-0.456`). This is
///   `top_k` with [`Polarity::Opponents`], so if fewer than `k` scores are negative the row
///   ends with the smallest positive ones (their `+` sign shows it).
///
/// Dimensions, with `tile = m * max(h, w) + 6` (the image plus its 3-pixel borders, for square
/// images), `col = max(tile, 120)`, `cols = max(min(k, n), 4)` where `n = train.len()`:
///
/// * width  = `8 + cols * (col + 8)`
/// * height = `8 + max(tile, 80) + 8 + 2 * (20 + tile + 60 + 8)`
///
/// e.g. 28x28 images with `k <= 4`: 520 x 546, with `k = 6`: 776 x 546; 32x32 images with
/// `k <= 4`: 520 x 498. For non-square images, or test and train splits of different shapes,
/// `m` uses the largest side of both splits, `col` the wider of the two tiles (`m * w + 6`), the
/// header the test tile's height and the rows the train tile's height (`m * h + 6`). Labels
/// without an entry in `class_names` are shown as numbers; texts too long for their space are
/// wrapped (header) or cut with `~` (captions).
///
/// Errors: [`RenderError::IndexOutOfRange`] when `attr.test_index >= test.len()`,
/// [`RenderError::ScoresLength`] when `attr.scores.len() != train.len()`,
/// [`RenderError::NotImages`] when either split holds tokens, [`RenderError::Malformed`] for
/// inconsistent splits (see [`image_rgb`]), [`RenderError::TooLarge`] beyond [`MAX_PIXELS`].
pub fn explanation_grid(
    attr: &Attribution,
    test: &Examples,
    train: &Examples,
    class_names: &[String],
    k: usize,
) -> Result<RgbImage> {
    let test_split = image_split(test, "test")?;
    let train_split = image_split(train, "train")?;
    check_index(test, attr.test_index, "test")?;
    if attr.scores.len() != train.len() {
        return Err(RenderError::ScoresLength { scores: attr.scores.len(), train: train.len() });
    }
    let pros = attr.top_k(k, Polarity::Proponents);
    let cons = attr.top_k(k, Polarity::Opponents);
    let shown = pros.len() as u64;

    // Layout, in u64 until the size check (the splits' sides fit u32, products may not).
    let max_side = test_split.height.max(test_split.width).max(train_split.height).max(train_split.width);
    let m = magnification(max_side) as u64;
    let test_tile = (m * test_split.width as u64 + 2 * BORDER as u64, m * test_split.height as u64 + 2 * BORDER as u64);
    let train_tile =
        (m * train_split.width as u64 + 2 * BORDER as u64, m * train_split.height as u64 + 2 * BORDER as u64);
    let (pad, line_h) = (PAD as u64, LINE_H as u64);
    let col = train_tile.0.max(test_tile.0).max(MIN_COL_W as u64);
    let cols = shown.max(MIN_COLS as u64);
    let width = cols.saturating_mul(col + pad).saturating_add(pad);
    let header_h = test_tile.1.max(HEADER_LINES as u64 * line_h);
    let row_h = line_h + train_tile.1 + CAPTION_LINES as u64 * line_h;
    let height = (pad + header_h + pad).saturating_add(2 * (row_h + pad));
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(RenderError::TooLarge { width, height, limit: MAX_PIXELS });
    }
    // Everything below fits u32: width * height <= 2^28.
    let (m, col, header_h) = (m as u32, col as u32, header_h as u32);
    let train_tile_h = train_tile.1 as u32;
    let mut img = RgbImage::from_pixel(width as u32, height as u32, WHITE);

    // Header.
    let test_img = test_split.rgb(attr.test_index, "test")?;
    draw_tile(&mut img, &test_img, m, PAD, PAD, BLUE);
    let text_x = PAD + col + PAD;
    let text_chars = chars_fitting((width as u32).saturating_sub(text_x + PAD));
    let pred = class_name(class_names, attr.explained_class);
    let truth = class_name(class_names, test.labels[attr.test_index]);
    let mut lines: Vec<(String, Rgb<u8>)> = Vec::new();
    let caption = format!("test #{} pred {} s={}", attr.test_index, pred, format_score(attr.score, false));
    lines.extend(wrap(&caption, text_chars).into_iter().map(|l| (l, INK)));
    lines.extend(wrap(&format!("true {truth}"), text_chars).into_iter().map(|l| (l, GREY)));
    lines.extend(wrap(&format!("method {}", attr.method), text_chars).into_iter().map(|l| (l, GREY)));
    let max_lines = (header_h / LINE_H) as usize;
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some((last, _)) = lines.last_mut() {
            // Mark the cut: `~` after the last line, replacing its last character when full.
            let mut chars: Vec<char> = last.chars().collect();
            chars.truncate(text_chars.saturating_sub(1));
            chars.push('~');
            *last = chars.into_iter().collect();
        }
    }
    for (n, (line, color)) in lines.iter().enumerate() {
        draw_text(&mut img, text_x, PAD + n as u32 * LINE_H, line, *color);
    }

    // Proponent and opponent rows.
    let rows = [("proponents", &pros, GREEN, DARK_GREEN), ("opponents", &cons, RED, DARK_RED)];
    let caption_chars = chars_fitting(col);
    for (r, (name, ranked, border, ink)) in rows.iter().enumerate() {
        let y0 = PAD + header_h + PAD + r as u32 * (row_h as u32 + PAD);
        let title = if ranked.is_empty() { format!("{name}: none") } else { format!("top {} {name}", ranked.len()) };
        draw_text(&mut img, PAD, y0, &fit(&title, chars_fitting(width as u32 - 2 * PAD)), *ink);
        for (c, Ranked { index, phi: score }) in ranked.iter().enumerate() {
            let x = PAD + c as u32 * (col + PAD);
            let y = y0 + LINE_H;
            let tile = train_split.rgb(*index, "train")?;
            draw_tile(&mut img, &tile, m, x, y, *border);
            let label = train.labels.get(*index).map_or_else(|| "?".to_string(), |&l| class_name(class_names, l));
            let caption = [(format!("#{index}"), INK), (label, GREY), (format_score(*score, true), *ink)];
            let cy = y + train_tile_h + 3;
            for (n, (text, color)) in caption.iter().enumerate() {
                draw_text(&mut img, x, cy + n as u32 * LINE_H, &fit(text, caption_chars), *color);
            }
        }
    }
    Ok(img)
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// Characters of each training text shown in the tables.
const TABLE_TEXT_CHARS: usize = 200;
/// Characters of the test text shown.
const TEST_TEXT_CHARS: usize = 1000;

/// `text` cut to `max` characters (with `…` when cut) and made safe inside a Markdown table
/// cell or paragraph: `\`, `|`, `` ` ``, `*`, `_`, `[`, `]` are backslash-escaped, `<`, `>`, `&`
/// become entities, and line breaks become `<br>`.
fn md_escape(text: &str, max: usize) -> String {
    let n = text.chars().count();
    let mut out = String::with_capacity(text.len().min(max * 2) + 8);
    let mut chars = text.chars().take(max).peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    if n > max {
        out.push('…');
    }
    out
}

fn md_table(out: &mut String, title: &str, ranked: &[Ranked], train: &Examples, texts: &[String], names: &[String]) {
    out.push_str(&format!("\n#### {title}\n\n"));
    if ranked.is_empty() {
        out.push_str("_none_\n");
        return;
    }
    out.push_str("| rank | train index | label | score | text |\n|---:|---:|---|---:|---|\n");
    for (rank, r) in ranked.iter().enumerate() {
        let label = train.labels.get(r.index).map_or_else(|| "?".to_string(), |&l| class_name(names, l));
        let text = texts.get(r.index).map_or("", String::as_str);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            rank + 1,
            r.index,
            md_escape(&label, TABLE_TEXT_CHARS),
            format_score(r.phi, true),
            md_escape(text, TABLE_TEXT_CHARS)
        ));
    }
}

/// An explanation of one text prediction as Markdown: a heading with the method, the test
/// text (cut to 1000 characters) with its true label, predicted class and explained score,
/// then two tables, "Top proponents" and "Top opponents" (`min(k, n)` rows each, from
/// [`Attribution::top_k`]), with columns rank, train index, label, score and text (cut to 200
/// characters with `…`). Texts and labels are escaped: `|` becomes `\|`, line breaks `<br>`,
/// other Markdown and HTML specials are escaped too. With `k = 0` the tables read `_none_`.
///
/// Errors: [`RenderError::IndexOutOfRange`] when `attr.test_index >= test.len()`,
/// [`RenderError::ScoresLength`] when `attr.scores.len() != train.len()`,
/// [`RenderError::NotText`] when either split has no `texts`, [`RenderError::Malformed`] when
/// `texts` and `labels` differ in length.
pub fn explanation_markdown(
    attr: &Attribution,
    test: &Examples,
    train: &Examples,
    class_names: &[String],
    k: usize,
) -> Result<String> {
    let texts_of = |ex: &'_ Examples, split: &'static str| -> Result<Vec<String>> {
        let texts = ex.texts.as_ref().ok_or(RenderError::NotText { split })?;
        if texts.len() != ex.len() {
            return Err(RenderError::Malformed {
                split,
                what: format!("{} texts but {} labels", texts.len(), ex.len()),
            });
        }
        Ok(texts.clone())
    };
    let test_texts = texts_of(test, "test")?;
    let train_texts = texts_of(train, "train")?;
    check_index(test, attr.test_index, "test")?;
    if attr.scores.len() != train.len() {
        return Err(RenderError::ScoresLength { scores: attr.scores.len(), train: train.len() });
    }
    let i = attr.test_index;
    let mut out = format!("### Test #{i} (method `{}`)\n\n", attr.method.replace('`', "'"));
    out.push_str(&format!(
        "**Predicted:** {} (score s = {}) · **true label:** {}\n\n",
        md_escape(&class_name(class_names, attr.explained_class), TABLE_TEXT_CHARS),
        format_score(attr.score, false),
        md_escape(&class_name(class_names, test.labels[i]), TABLE_TEXT_CHARS),
    ));
    out.push_str(&format!("> {}\n", md_escape(&test_texts[i], TEST_TEXT_CHARS)));
    let pros = attr.top_k(k, Polarity::Proponents);
    let cons = attr.top_k(k, Polarity::Opponents);
    md_table(&mut out, "Top proponents", &pros, train, &train_texts, class_names);
    md_table(&mut out, "Top opponents", &cons, train, &train_texts, class_names);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Saving
// ---------------------------------------------------------------------------------------------

/// Writes `img` as a PNG to `path` atomically ([`genrep_models::write_atomic`]: a temporary
/// sibling, fsynced and renamed over `path`), so readers never see a partial image. The parent
/// directory is created if needed. Errors ([`RenderError::Io`], [`RenderError::Encode`]) name
/// `path`.
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    if path.file_name().is_none() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no file name");
        return Err(RenderError::Io { path: path.to_path_buf(), source: e });
    }
    let mut buf = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut buf))
        .map_err(|source| RenderError::Encode { path: path.to_path_buf(), source })?;
    genrep_models::write_atomic(path, &buf).map_err(|source| RenderError::Io { path: path.to_path_buf(), source })
}

/// A sensitivity map (Yeh et al. 2018, Section 4.4) as a picture: the test image (blue
/// border), the training image (green border if `value > 0`, red otherwise) and the gradient
/// `grad` (`[C, H, W]` of the test image, summed over channels) as a heatmap: red where
/// increasing the pixel raises the representer value, blue where it lowers it, white at zero,
/// scaled by the largest magnitude. `caption` goes underneath.
pub fn sensitivity_map(
    test: &Examples,
    t: usize,
    train: &Examples,
    i: usize,
    grad: &[f32],
    value: f64,
    caption: &str,
) -> Result<RgbImage> {
    let a = image_rgb(test, t)?;
    let b = image_rgb(train, i)?;
    let (w, h) = a.dimensions();
    let hw = (w * h) as usize;
    if grad.is_empty() || !grad.len().is_multiple_of(hw) {
        return Err(RenderError::Malformed {
            split: "sensitivity",
            what: format!("{} gradient values for a {w}x{h} image", grad.len()),
        });
    }
    let per_pixel: Vec<f32> = (0..hw).map(|p| grad.iter().skip(p).step_by(hw).sum()).collect();
    let max = per_pixel.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    let heat = RgbImage::from_fn(w, h, |x, y| {
        let v = per_pixel[(y * w + x) as usize] / max;
        let fade = (255.0 * (1.0 - v.abs().min(1.0))) as u8;
        if v >= 0.0 {
            Rgb([255, fade, fade])
        } else {
            Rgb([fade, fade, 255])
        }
    });
    let s = magnification(w.max(h) as usize);
    let tile = w.max(h) * s + 2 * BORDER;
    let width = 8 + 3 * (tile.max(220) + 8);
    let height = 8 + tile + 8 + 3 * LINE_H + 8;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let col = tile.max(220) + 8;
    draw_tile(&mut img, &a, s, 8, 8, Rgb([40, 90, 220]));
    draw_tile(&mut img, &b, s, 8 + col, 8, if value > 0.0 { Rgb([30, 160, 60]) } else { Rgb([200, 40, 40]) });
    draw_tile(&mut img, &heat, s, 8 + 2 * col, 8, Rgb([128, 128, 128]));
    let y = 8 + tile + 8;
    let black = Rgb([0, 0, 0]);
    draw_text(&mut img, 8, y, &fit(&format!("test #{t}"), chars_fitting(col)), black);
    draw_text(&mut img, 8 + col, y, &fit(&format!("train #{i} {value:+.3}"), chars_fitting(col)), black);
    draw_text(&mut img, 8 + 2 * col, y, &fit("d value / d pixel", chars_fitting(col)), black);
    for (k, line) in wrap(caption, chars_fitting(width - 16)).iter().take(2).enumerate() {
        draw_text(&mut img, 8, y + LINE_H * (k as u32 + 1), line, black);
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_the_width_and_keeps_every_character() {
        let text = "test #12 pred automobile s=1.5 method influence:last-layer(damping=0.001) x";
        for max in 1..40 {
            let lines = wrap(text, max);
            assert!(lines.iter().all(|l| l.chars().count() <= max), "{max}: {lines:?}");
            let joined: String = lines.concat().chars().filter(|c| !c.is_whitespace()).collect();
            let expected: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(joined, expected, "{max}");
        }
        assert!(wrap(text, 0).is_empty());
        assert!(wrap("", 10).is_empty());
    }

    #[test]
    fn scores_and_cuts_are_formatted_compactly() {
        assert_eq!(format_score(0.123_4, true), "+0.123");
        assert_eq!(format_score(-0.456, true), "-0.456");
        assert_eq!(format_score(2.5e-5, true), "+2.50e-5");
        assert_eq!(format_score(-123_456.0, false), "-1.23e5");
        assert_eq!(format_score(0.0, true), "+0.000");
        assert_eq!(format_score(f64::NAN, true), "NaN");
        assert_eq!(fit("automobile!", 10), "automobil~");
        assert_eq!(fit("cat", 10), "cat");
        assert_eq!(fit("cat", 0), "");
        assert_eq!(md_escape("a|b\r\nc<d>", 200), "a\\|b<br>c&lt;d&gt;");
        assert_eq!(md_escape("ééé", 2), "éé…");
    }

    #[test]
    fn every_printable_ascii_character_has_a_distinct_glyph() {
        let mut seen = std::collections::HashSet::new();
        for c in ' '..='~' {
            assert!(seen.insert(*glyph(c)), "{c:?} duplicates another glyph");
            assert!(glyph(c).iter().all(|row| row < &0x20), "{c:?} is wider than 5 columns");
        }
        assert_eq!(glyph('é'), glyph('?'));
    }
}
