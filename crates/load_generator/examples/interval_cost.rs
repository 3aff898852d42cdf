//! Prints the encoded size of one interval histogram for a busy interval:
//! `cargo run -p load_generator --example interval_cost -- [samples]`.
//! Used for the per-interval memory figure in ARCHITECTURE.md.

use rand::{Rng, SeedableRng};

fn main() {
    let samples: u64 = std::env::args()
        .nth(1)
        .map_or(5_000, |a| a.parse().unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut h = results_format::new_latency_histogram();
    for _ in 0..samples {
        // Log-uniform over 100 us .. 2 s: a worst case for compression.
        let exp: f64 = rng.random_range(2.0..6.3);
        h.record(10f64.powf(exp) as u64).unwrap();
    }
    let encoded = results_format::encode_histogram(&h).unwrap();
    println!(
        "{samples} samples spread over 100 us..2 s: {} bytes encoded (base64)",
        encoded.len()
    );
}
