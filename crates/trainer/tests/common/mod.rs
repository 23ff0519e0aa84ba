//! Shared fixtures of the trainer tests: a toy image task and a small CNN.
#![allow(dead_code)]

use genrep_data::{Examples, Inputs};
use genrep_models::{ModelSpec, VisionCnnConfig};
use genrep_trainer::{OptimizerConfig, TrainConfig};

/// Random 1x8x8 noise images with a bright 2x2 patch: in the left half for label 1, the right
/// half for label 0.
pub fn toy(n: usize, seed: u64) -> Examples {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..n {
        let mut img: Vec<f32> = (0..64).map(|_| 0.5 * next()).collect();
        let label = usize::from(next() > 0.0);
        let row = ((next() + 0.5) * 6.99) as usize; // 0..=6
        let col = ((next() + 0.5) * 2.99) as usize + if label == 1 { 0 } else { 4 }; // patch within its half
        for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            img[(row + dr) * 8 + col + dc] += 2.0;
        }
        labels.push(label);
        data.extend(img);
    }
    Examples {
        inputs: Inputs::Images { channels: 1, height: 8, width: 8, data, mean: vec![0.0], std: vec![1.0] },
        labels,
        source_index: (0..n).collect(),
        texts: None,
    }
}

pub fn spec() -> ModelSpec {
    ModelSpec::VisionCnn(VisionCnnConfig { channels: [4, 6], kernel: 3, ..VisionCnnConfig::new(1, 8, 8, 2) })
}

pub fn cfg() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size: 10,
        lr: 0.1,
        optimizer: OptimizerConfig::sgd(),
        weight_decay: 0.0,
        seed: 3,
        checkpoint_every_epoch: false,
        last_layer_l2: 0.0,
        exclusion: Default::default(),
        schedule: Default::default(),
    }
}

/// `n` deterministic 1x8x8 images (a fixed hash pattern) with two classes: the backend and engine
/// comparisons train on them.
pub fn images(n: usize) -> Examples {
    let data: Vec<f32> = (0..n * 64).map(|i| (((i * 2654435761) % 1000) as f32 / 1000.0) - 0.5).collect();
    Examples {
        inputs: Inputs::Images { channels: 1, height: 8, width: 8, data, mean: vec![0.0], std: vec![1.0] },
        labels: (0..n).map(|i| (i * 7 + i / 3) % 2).collect(),
        source_index: (0..n).collect(),
        texts: None,
    }
}
