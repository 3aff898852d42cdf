//! Latency histograms and their text encoding: HdrHistogram's compressed V2
//! format, base64 (standard alphabet, padded), so files can be read by any
//! HdrHistogram implementation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};

/// Every latency the project records is in microseconds.
pub type LatencyHistogram = Histogram<u64>;

/// 1 us ..= 1 h at 3 significant digits, as the issue tracker specifies.
pub const LOWEST_DISCERNIBLE_US: u64 = 1;
pub const HIGHEST_TRACKABLE_US: u64 = 3_600 * 1_000_000;
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram with the project's standard range. Values above the range are
/// clamped by callers with `saturating_record`.
pub fn new_latency_histogram() -> LatencyHistogram {
    Histogram::new_with_bounds(
        LOWEST_DISCERNIBLE_US,
        HIGHEST_TRACKABLE_US,
        SIGNIFICANT_DIGITS,
    )
    .expect("static histogram bounds are valid")
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("histogram is not a valid HdrHistogram V2 payload: {0}")]
    Deserialize(String),
    #[error("could not encode histogram: {0}")]
    Serialize(String),
}

pub fn encode_histogram(histogram: &LatencyHistogram) -> Result<String, CodecError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| CodecError::Serialize(format!("{e:?}")))?;
    Ok(STANDARD.encode(bytes))
}

pub fn decode_histogram(text: &str) -> Result<LatencyHistogram, CodecError> {
    let bytes = STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| CodecError::Deserialize(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = new_latency_histogram();
        for v in [1u64, 17, 950, 12_345, 2_000_000, HIGHEST_TRACKABLE_US] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let decoded = decode_histogram(&encode_histogram(&h).unwrap()).unwrap();
        assert_eq!(decoded.len(), h.len());
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(decoded.value_at_quantile(q), h.value_at_quantile(q));
        }
        assert_eq!(decoded.max(), h.max());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode_histogram("!!!"),
            Err(CodecError::Base64(_))
        ));
        assert!(matches!(
            decode_histogram("aGVsbG8gd29ybGQ="),
            Err(CodecError::Deserialize(_))
        ));
    }
}
