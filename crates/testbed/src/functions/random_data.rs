//! Random field values for the rows the search and vector functions write,
//! shaped like the functions project's (`functions/convex/common.ts`):
//! real words so full-text search has something to tokenise, and
//! embeddings of 1536 numbers in [0, 1).

use rand::Rng;
use serde_json::Value;

use crate::text_indexes::EMBEDDING_DIMENSIONS;

const WORDS: &[&str] = &[
    "acorn", "anchor", "basket", "beacon", "blossom", "bridge", "cactus", "candle", "cobalt",
    "copper", "desert", "dragon", "engine", "feather", "fjord", "forest", "garden", "glacier",
    "granite", "grove", "hammer", "hazel", "horizon", "igloo", "indigo", "ivory", "jasmine",
    "juniper", "kayak", "kernel", "kettle", "ladder", "lagoon", "lemon", "magnet", "mango",
    "marble", "mirror", "mosaic", "nebula", "needle", "olive", "onyx", "orchard", "oyster",
    "parrot", "pencil", "pepper", "planet", "prairie", "pumpkin", "quill", "reef", "ribbon",
    "rocket", "shadow", "silver", "sparrow", "summit", "thunder", "tiger", "tulip", "tunnel",
    "umbrella", "urchin", "utopia", "valley", "vapor", "violet", "vortex", "walnut", "whistle",
    "window", "wren", "yarrow", "yogurt", "zebra", "zinc",
];

/// `count` random words joined by spaces.
pub fn random_words(count: usize) -> String {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A random embedding as a Convex array of float64s.
pub fn random_embedding() -> Value {
    let mut rng = rand::rng();
    Value::Array(
        (0..EMBEDDING_DIMENSIONS)
            .map(|_| Value::from(rng.random::<f64>()))
            .collect(),
    )
}
