//! A fast reader for the encoded histograms of `histograms.json` that
//! yields only the non-empty buckets.
//!
//! Why: a 1 us..1 h histogram at 3 significant digits has ~23,500 counters;
//! decoding it with `hdrhistogram` allocates and scans all of them, and a
//! one-hour run holds tens of thousands of interval histograms. The encoded
//! form is run-length coded, so walking it directly costs only the
//! non-empty buckets. The format (HdrHistogram "V2", optionally deflated):
//! a 4-byte cookie; for the compressed form a 4-byte length and a zlib
//! stream holding the plain form; the plain form's header (payload length,
//! normalising offset, significant digits, lowest and highest trackable
//! value, integer-to-double ratio) and then counters as zig-zag LEB128
//! varints, where a negative number -n stands for n empty counters.
//! Checked against `hdrhistogram`'s own decoder in the tests below.

use std::io::Read as _;

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;

// The cookies carry a word-size flag (0x10) that the reader ignores.
const V2_COOKIE: u32 = 0x1c84_9303;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9304;
const WORD_SIZE_FLAG: u32 = 0x10;

/// Non-empty buckets as (highest value equivalent to the bucket, count),
/// ascending by value: the value `hdrhistogram` reports for a percentile
/// that falls in the bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseHistogram {
    pub buckets: Vec<(u64, u64)>,
}

impl SparseHistogram {
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|b| b.1).sum()
    }
}

pub fn decode(text: &str) -> anyhow::Result<SparseHistogram> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .context("histogram is not valid base64")?;
    ensure!(bytes.len() >= 8, "histogram is truncated");
    let cookie = u32::from_be_bytes(bytes[0..4].try_into().expect("4 bytes"));
    match cookie & !WORD_SIZE_FLAG {
        V2_COMPRESSED_COOKIE => {
            let len = u32::from_be_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
            let body = bytes.get(8..8 + len).context("histogram is truncated")?;
            let mut plain = Vec::with_capacity(len * 4);
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut plain)
                .context("histogram's zlib stream is corrupt")?;
            decode_plain(&plain)
        }
        V2_COOKIE => decode_plain(&bytes),
        other => bail!("unknown histogram cookie {other:#x}"),
    }
}

fn decode_plain(bytes: &[u8]) -> anyhow::Result<SparseHistogram> {
    const HEADER: usize = 40;
    ensure!(bytes.len() >= HEADER, "histogram header is truncated");
    let u32_at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    ensure!(
        u32_at(0) & !WORD_SIZE_FLAG == V2_COOKIE,
        "not a V2 histogram"
    );
    let payload_len = u32_at(4) as usize;
    ensure!(u32_at(8) == 0, "normalising offsets are not supported");
    let digits = u32_at(12);
    let lowest = u64_at(16);
    ensure!(
        (1..=5).contains(&digits) && lowest >= 1,
        "invalid histogram parameters"
    );
    let payload = bytes
        .get(HEADER..HEADER + payload_len)
        .context("histogram payload is truncated")?;
    let layout = Layout::new(lowest, digits);
    let mut buckets = Vec::new();
    let mut index: u64 = 0;
    let mut pos = 0;
    while pos < payload.len() {
        let (raw, used) = read_varint(&payload[pos..])?;
        pos += used;
        let n = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        if n < 0 {
            index += n.unsigned_abs();
        } else {
            if n > 0 {
                buckets.push((layout.highest_equivalent(index), n as u64));
            }
            index += 1;
        }
    }
    Ok(SparseHistogram { buckets })
}

/// LEB128 as HdrHistogram writes it: at most 9 bytes, the ninth whole.
fn read_varint(bytes: &[u8]) -> anyhow::Result<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Ok((value | (u64::from(b) << 56), 9));
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    bail!("histogram payload ends inside a number")
}

/// Where counter `index` sits in value space.
struct Layout {
    unit_magnitude: u32,
    sub_bucket_half_count_magnitude: u32,
    sub_bucket_half_count: u64,
}

impl Layout {
    fn new(lowest: u64, digits: u32) -> Self {
        let largest_single_unit = 2 * 10u64.pow(digits);
        let sub_bucket_count_magnitude = (largest_single_unit as f64).log2().ceil() as u32;
        let half_magnitude = sub_bucket_count_magnitude.max(1) - 1;
        Layout {
            unit_magnitude: 63 - lowest.leading_zeros(),
            sub_bucket_half_count_magnitude: half_magnitude,
            sub_bucket_half_count: 1 << half_magnitude,
        }
    }

    fn highest_equivalent(&self, index: u64) -> u64 {
        let mut bucket = (index >> self.sub_bucket_half_count_magnitude) as i64 - 1;
        let mut sub_bucket =
            (index & (self.sub_bucket_half_count - 1)) + self.sub_bucket_half_count;
        if bucket < 0 {
            sub_bucket -= self.sub_bucket_half_count;
            bucket = 0;
        }
        let shift = bucket as u32 + self.unit_magnitude;
        let lowest = sub_bucket << shift;
        // The bucket's width doubles with each bucket, except the first
        // half-bucket shares the width of bucket 0.
        lowest + (1u64 << shift) - 1
    }
}

/// The value at quantile `q` of buckets sorted by value, with
/// `hdrhistogram`'s rule (the first bucket whose running count reaches
/// `q * total`, at least one).
pub fn value_at_quantile(sorted: &[(u64, u64)], total: u64, q: f64) -> Option<u64> {
    if total == 0 {
        return None;
    }
    let wanted = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for &(value, count) in sorted {
        seen += count;
        if seen >= wanted {
            return Some(value);
        }
    }
    sorted.last().map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng as _, SeedableRng as _};
    use results_format::{decode_histogram, encode_histogram, new_latency_histogram};

    #[test]
    fn matches_hdrhistogram_bucket_for_bucket() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut h = new_latency_histogram();
        for _ in 0..20_000 {
            let exp: f64 = rng.random_range(0.0..9.5);
            h.saturating_record(10f64.powf(exp) as u64);
        }
        h.record_n(1, 5).unwrap();
        h.saturating_record(results_format::HIGHEST_TRACKABLE_US);
        let text = encode_histogram(&h).unwrap();
        let ours = decode(&text).unwrap();
        let theirs = decode_histogram(&text).unwrap();
        let expected: Vec<(u64, u64)> = theirs
            .iter_recorded()
            .map(|v| {
                (
                    theirs.highest_equivalent(v.value_iterated_to()),
                    v.count_at_value(),
                )
            })
            .collect();
        assert_eq!(ours.buckets, expected);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                value_at_quantile(&ours.buckets, ours.total(), q),
                Some(theirs.highest_equivalent(theirs.value_at_quantile(q))),
                "q={q}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode("!!").is_err());
        assert!(decode("aGVsbG8gd29ybGQ=").is_err());
    }
}
