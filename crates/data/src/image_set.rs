//! In-memory labelled image collections (raw bytes, channel-major), as loaded from disk.

/// A set of `len()` images of `channels x height x width` bytes each (CHW order) with labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Number of colour channels (1 for MNIST, 3 for CIFAR-10).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// `len() * channels * height * width` bytes, image-major, then channel, row, column.
    pub pixels: Vec<u8>,
    /// One label per image, in `0..class_names.len()`.
    pub labels: Vec<u8>,
    /// Human-readable class names, indexed by label.
    pub class_names: Vec<String>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image (`channels * height * width`).
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The raw bytes of image `i` (CHW); `None` if out of range.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let s = self.image_size();
        self.pixels.get(i * s..(i + 1) * s)
    }

    /// Number of images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        crate::class_counts(self.labels.iter().map(|&l| l as usize), self.class_names.len())
    }
}
