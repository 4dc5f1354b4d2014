//! Seeded randomness for the drill world.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
pub(crate) const KUBE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// One part of the world's random stream. Each part draws from its own ChaCha stream, so a
/// new draw in one part does not reshuffle everything the other parts do.
#[derive(Debug, Clone)]
pub(crate) struct Dice(ChaCha8Rng);

impl Dice {
    pub fn new(seed: u64, stream: u64) -> Dice {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Dice(rng)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-1, 1).
    pub fn wobble(&mut self) -> f64 {
        self.unit() * 2.0 - 1.0
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, n); 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in [lo, hi], both ends included.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo) + 1;
        lo.saturating_add(((u128::from(self.0.next_u64()) * u128::from(span)) >> 64) as i64)
    }

    /// An index drawn with the given weights; 0 when they are all zero.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return 0;
        }
        let mut roll = self.below(total as usize) as u64;
        for (i, &w) in weights.iter().enumerate() {
            if roll < u64::from(w) {
                return i;
            }
            roll -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }

    /// A Poisson count, for events that arrive independently at `mean` per draw. Knuth's
    /// method is plenty for the small means the world uses.
    pub fn poisson(&mut self, mean: f64) -> u32 {
        let limit = (-mean.max(0.0)).exp();
        let mut product = self.unit();
        let mut k = 0;
        while product > limit && k < 64 {
            product *= self.unit();
            k += 1;
        }
        k
    }

    /// `len` characters from `alphabet`, e.g. the `x2x7q` of a pod name.
    pub fn token(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| {
                char::from(
                    alphabet
                        .get(self.below(alphabet.len()))
                        .copied()
                        .unwrap_or(b'x'),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_repeat_per_seed_and_differ_between_streams() {
        let draw = |seed, stream| {
            let mut d = Dice::new(seed, stream);
            (0..8).map(|_| d.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 1), draw(7, 1));
        assert_ne!(draw(7, 1), draw(7, 2));
        assert_ne!(draw(7, 1), draw(8, 1));
    }

    #[test]
    fn draws_stay_in_range() {
        let mut d = Dice::new(1, 0);
        for _ in 0..2000 {
            assert!((0.0..1.0).contains(&d.unit()));
            assert!(d.below(7) < 7);
            assert!((-3..=3).contains(&d.between(-3, 3)));
            assert_ne!(d.weighted(&[0, 5, 0, 1]), 0);
        }
        assert_eq!(d.below(0), 0);
        let mean = (0..4000).map(|_| f64::from(d.poisson(0.7))).sum::<f64>() / 4000.0;
        assert!((0.6..0.8).contains(&mean), "{mean}");
        assert_eq!(d.token(KUBE_ALPHABET, 5).len(), 5);
    }
}
