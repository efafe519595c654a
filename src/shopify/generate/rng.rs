//! Portable, seedable randomness keyed by record.
//!
//! Every record draws from its own generator, seeded from (seed, stream, shop, index), so any
//! record can be rebuilt alone (an order can rebuild its customer's email; an emulator can
//! serve page 7 without pages 1 to 6) and the output is identical on every platform and with
//! every version of the `rand` crate. The generator is SplitMix64: tiny, fast, and good enough
//! for test data.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijective scramble of 64 bits.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of several numbers (order matters).
pub fn hash(parts: &[u64]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64;
    for &p in parts {
        h = mix(h ^ p).wrapping_add(GOLDEN);
    }
    h
}

/// A number in `[0, 1)` from a hash, for stateless decisions.
pub fn unit_of(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Which kind of record a generator belongs to (keeps the streams independent).
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    Person = 1,
    Customer = 2,
    Order = 3,
    Company = 4,
    Catalog = 5,
    Share = 6,
    Shuffle = 7,
    Permutation = 8,
}

#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64, stream: Stream, shop: u64, index: u64) -> Rng {
        Rng {
            state: hash(&[seed, stream as u64, shop, index]),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// A copy of one of `items`.
    pub fn one<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// One of `items`, with probability proportional to its weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (item, w) in items {
            let w = u64::from(*w);
            if r < w {
                return item;
            }
            r -= w;
        }
        &items[items.len() - 1].0
    }

    /// In `0..n`, skewed towards 0: rank `r` is drawn with density ∝ 1/√r (a few heavy
    /// hitters, a long tail), the shape of orders per customer and sales per product.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((u * u * n as f64) as u64).min(n.saturating_sub(1))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A bijection of `0..n` (`x ↦ a·x + b mod n`), to scatter ranks over indexes without a table.
#[derive(Debug, Clone, Copy)]
pub struct Affine {
    n: u64,
    a: u64,
    b: u64,
}

impl Affine {
    pub fn new(n: u64, salt: u64) -> Affine {
        if n <= 1 {
            return Affine {
                n: n.max(1),
                a: 1,
                b: 0,
            };
        }
        let h = mix(salt);
        // Near the golden ratio of n, so neighbours land far apart.
        let mut a = ((n as f64 * 0.618_033_988_7) as u64 + h % 97).max(1) % n;
        while a == 0 || gcd(a, n) != 1 {
            a = (a + 1) % n;
        }
        Affine {
            n,
            a,
            b: mix(h) % n,
        }
    }

    pub fn apply(&self, x: u64) -> u64 {
        ((u128::from(self.a) * u128::from(x % self.n) + u128::from(self.b)) % u128::from(self.n))
            as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_maps_are_bijections() {
        for n in [1u64, 2, 7, 60, 97, 100, 1024] {
            let p = Affine::new(n, n * 3);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = p.apply(x) as usize;
                assert!(!seen[y], "n={n} x={x}");
                seen[y] = true;
            }
        }
    }

    #[test]
    fn draws_stay_in_range_and_depend_only_on_the_key() {
        let mut a = Rng::new(1, Stream::Order, 0, 5);
        let mut b = Rng::new(1, Stream::Order, 0, 5);
        let mut c = Rng::new(1, Stream::Order, 0, 6);
        let xs: Vec<u64> = (0..50).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..50).map(|_| b.below(10)).collect();
        let zs: Vec<u64> = (0..50).map(|_| c.below(10)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
        assert!(xs.iter().all(|x| *x < 10));
        let mut r = Rng::new(2, Stream::Customer, 1, 1);
        assert!((0..1000).all(|_| r.skewed(3) < 3));
        assert!((0..1000).all(|_| (4..=6).contains(&r.between(4, 6))));
    }
}
