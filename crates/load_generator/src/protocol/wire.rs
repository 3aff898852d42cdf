//! Text frames <-> `convex_sync_types` messages. Every frame we send or
//! read goes through the crate's own JSON conversions so the wire shapes are
//! Convex's, not a copy of them.

use std::collections::HashMap;

use convex_sync_types::{ClientMessage, ServerMessage, UdfPath};
use serde_json::Value as JsonValue;

/// A Convex value as it travels (Convex-encoded JSON, `$integer` etc. left
/// as is). A newtype because `ServerMessage<V>` wants `TryFrom<JsonValue,
/// Error = anyhow::Error>`.
#[derive(Debug, Clone, PartialEq)]
pub struct WireValue(pub JsonValue);

impl TryFrom<JsonValue> for WireValue {
    type Error = anyhow::Error;
    fn try_from(value: JsonValue) -> anyhow::Result<Self> {
        Ok(WireValue(value))
    }
}

impl From<WireValue> for JsonValue {
    fn from(value: WireValue) -> JsonValue {
        value.0
    }
}

pub type ServerMsg = ServerMessage<WireValue>;

pub fn encode(message: ClientMessage) -> anyhow::Result<String> {
    Ok(JsonValue::try_from(message)?.to_string())
}

pub fn decode(text: &str) -> anyhow::Result<ServerMsg> {
    let json: JsonValue = serde_json::from_str(text)?;
    ServerMsg::try_from(json)
}

/// Function paths as Convex spells them; bad paths are caught before a
/// frame is built so the error names the path.
pub fn parse_path(path: &str) -> anyhow::Result<UdfPath> {
    path.parse()
        .map_err(|e| anyhow::anyhow!("invalid function path {path:?}: {e}"))
}

/// `Args travel as a one-element JSON array holding an object`.
pub fn serialized_args(
    args: JsonValue,
) -> anyhow::Result<convex_sync_types::types::SerializedArgs> {
    Ok(convex_sync_types::types::SerializedArgs::from_args(vec![
        args,
    ])?)
}

/// Reassembles `TransitionChunk`s (large transitions split by the server)
/// into the full `Transition` text.
#[derive(Default)]
pub struct ChunkAssembler {
    partial: HashMap<String, Vec<String>>,
}

impl ChunkAssembler {
    /// Adds one chunk; returns the full transition text once complete.
    pub fn push(
        &mut self,
        transition_id: String,
        part_number: u32,
        total_parts: u32,
        chunk: String,
    ) -> anyhow::Result<Option<String>> {
        let parts = self.partial.entry(transition_id.clone()).or_default();
        anyhow::ensure!(
            part_number as usize == parts.len(),
            "transition chunk {part_number} of {total_parts} arrived out of order (expected {})",
            parts.len()
        );
        parts.push(chunk);
        if parts.len() == total_parts as usize {
            let parts = self.partial.remove(&transition_id).unwrap_or_default();
            Ok(Some(parts.concat()))
        } else {
            Ok(None)
        }
    }
}

/// Decodes a Convex `{"$integer": base64 LE}` or a plain number as i64.
pub fn decode_int64(value: &JsonValue) -> Option<i64> {
    use base64::Engine;
    match value {
        JsonValue::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        JsonValue::Object(map) => {
            let text = map.get("$integer")?.as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?;
            let bytes: [u8; 8] = bytes.try_into().ok()?;
            Some(i64::from_le_bytes(bytes))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mutation_frame_carries_args_as_one_element_array() {
        let frame = encode(ClientMessage::Mutation {
            request_id: 7,
            udf_path: parse_path("insert:insertMessage").unwrap(),
            args: serialized_args(json!({"a": 1})).unwrap(),
            component_path: None,
        })
        .unwrap();
        let json: JsonValue = serde_json::from_str(&frame).unwrap();
        assert_eq!(json["type"], "Mutation");
        assert_eq!(json["requestId"], 7);
        assert_eq!(json["udfPath"], "insert:insertMessage");
        assert_eq!(json["args"], json!([{"a": 1}]));
    }

    #[test]
    fn mutation_response_ts_decodes_from_base64_le() {
        let text = r#"{"type":"MutationResponse","requestId":3,"success":true,"result":null,"ts":"AQAAAAAAAAA=","logLines":[]}"#;
        match decode(text).unwrap() {
            ServerMessage::MutationResponse { request_id, ts, .. } => {
                assert_eq!(request_id, 3);
                assert_eq!(u64::from(ts.unwrap()), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn chunks_reassemble_in_order_and_reject_gaps() {
        let mut assembler = ChunkAssembler::default();
        assert_eq!(assembler.push("t".into(), 0, 2, "ab".into()).unwrap(), None);
        assert_eq!(
            assembler.push("t".into(), 1, 2, "cd".into()).unwrap(),
            Some("abcd".to_string())
        );
        assert!(assembler.push("u".into(), 1, 2, "x".into()).is_err());
    }

    #[test]
    fn int64_decodes_both_encodings() {
        assert_eq!(decode_int64(&json!({"$integer": "AQAAAAAAAAA="})), Some(1));
        assert_eq!(decode_int64(&json!(42)), Some(42));
        assert_eq!(decode_int64(&json!("x")), None);
    }

    #[test]
    fn bad_path_error_names_the_path() {
        let err = parse_path("a b:c::").unwrap_err().to_string();
        assert!(err.contains("a b:c::"), "{err}");
    }
}
