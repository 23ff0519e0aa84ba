//! The seeded minibatch order, and training with exclusions.
//!
//! Epoch `e` shuffles `0..n` with a ChaCha8 generator seeded from `(seed, e)` and cuts the
//! permutation into consecutive batches. Excluded examples are removed from their batch but
//! every other batch stays exactly as it was, so a retrain after deleting points differs from
//! the original run only by the deletion (same steps, same learning rates, same partners).

use crate::config::ExclusionProtocol;
use crate::error::{Result, TrainError};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The batches of one epoch, as indices into the training set.
pub fn epoch_batches(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    // Distinct, reproducible stream per epoch.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(epoch as u64 + 1));
    order.shuffle(&mut rng);
    order.chunks(batch_size).map(|c| c.to_vec()).collect()
}

/// The batches of one epoch with the points flagged in `excluded` left out, under `protocol`
/// (see [`ExclusionProtocol`]). Empty batches are kept (as empty steps) under `ShrinkBatches`.
pub fn epoch_batches_without(
    n: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
    excluded: &[bool],
    protocol: ExclusionProtocol,
) -> Vec<Vec<usize>> {
    match protocol {
        ExclusionProtocol::ShrinkBatches => epoch_batches(n, batch_size, seed, epoch)
            .into_iter()
            .map(|b| b.into_iter().filter(|&i| !excluded[i]).collect())
            .collect(),
        ExclusionProtocol::Refill => {
            let kept: Vec<usize> =
                epoch_batches(n, n.max(1), seed, epoch).concat().into_iter().filter(|&i| !excluded[i]).collect();
            kept.chunks(batch_size.max(1)).map(|c| c.to_vec()).collect()
        }
    }
}

/// A membership mask of excluded indices, checking that each is in range.
pub fn exclusion_mask(n: usize, excluded: &[usize]) -> Result<Vec<bool>> {
    let mut mask = vec![false; n];
    for &i in excluded {
        if i >= n {
            return Err(TrainError::Exclusion { index: i, n });
        }
        mask[i] = true;
    }
    Ok(mask)
}
