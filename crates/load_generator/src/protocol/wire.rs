//! Text frames <-> `convex_sync_types` messages. Every frame we send or
//! read goes through the crate's own JSON conversions so the wire shapes are
//! Convex's, not a copy of them. One shortcut, for the hottest message: a
//! Transition's envelope (six fields, read exactly as the crate reads them)
//! is deserialized straight from the text, and everything inside it (state
//! versions, modifications) still goes through the crate's conversions. The
//! crate's own path buffers the whole message once more to find its `type`
//! tag, which cost about half of decoding a small Transition. A test
//! checks both paths agree.

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
    if text.starts_with(TRANSITION_PREFIX)
        && let Ok(message) = decode_transition(text)
    {
        return Ok(message);
    }
    decode_with_crate(text)
}

/// How Convex's servers (and the testbed) begin every Transition.
const TRANSITION_PREFIX: &str = r#"{"type":"Transition","#;

/// The crate's decoding, for every message.
fn decode_with_crate(text: &str) -> anyhow::Result<ServerMsg> {
    let json: JsonValue = serde_json::from_str(text)?;
    ServerMsg::try_from(json)
}

/// A Transition's envelope: the fields `convex_sync_types` reads, with the
/// same types, so a frame the crate would reject is rejected here too (and
/// then handed to the crate for its own error).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransitionEnvelope {
    #[serde(rename = "type")]
    kind: String,
    start_version: JsonValue,
    end_version: JsonValue,
    modifications: Vec<JsonValue>,
    client_clock_skew: Option<i64>,
    server_ts: Option<i64>,
}

fn decode_transition(text: &str) -> anyhow::Result<ServerMsg> {
    let envelope: TransitionEnvelope = serde_json::from_str(text)?;
    anyhow::ensure!(envelope.kind == "Transition", "not a Transition");
    Ok(ServerMessage::Transition {
        start_version: envelope.start_version.try_into()?,
        end_version: envelope.end_version.try_into()?,
        modifications: envelope
            .modifications
            .into_iter()
            .map(TryInto::try_into)
            .collect::<anyhow::Result<_>>()?,
        client_clock_skew: envelope.client_clock_skew,
        server_ts: envelope
            .server_ts
            .map(convex_sync_types::Timestamp::try_from)
            .transpose()?,
    })
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
    fn transitions_decode_as_the_crate_decodes_them() {
        let frames = [
            // A one-shot query answered and an earlier one removed.
            r#"{"type":"Transition","startVersion":{"querySet":5,"identity":1,"ts":"AQAAAAAAAAA="},"endVersion":{"querySet":6,"identity":1,"ts":"AgAAAAAAAAA="},"modifications":[{"type":"QueryRemoved","queryId":3},{"type":"QueryUpdated","queryId":4,"value":[{"_id":"x","n":{"$integer":"AQAAAAAAAAA="}}],"logLines":["[LOG] hi"],"journal":null}],"clientClockSkew":-3,"serverTs":1700000000000}"#,
            // A failed query with error data and a journal; no skew or ts.
            r#"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryFailed","queryId":9,"errorMessage":"boom","logLines":[],"journal":"j1","errorData":{"code":7}}],"clientClockSkew":null,"serverTs":null}"#,
            // Fields missing that the crate treats as absent.
            r#"{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"BQAAAAAAAAA="},"modifications":[]}"#,
        ];
        for frame in frames {
            let ours = decode_transition(frame).unwrap();
            let crates = decode_with_crate(frame).unwrap();
            assert_eq!(ours, crates, "{frame}");
            assert_eq!(decode(frame).unwrap(), crates);
        }
    }

    #[test]
    fn malformed_transitions_fail_as_the_crate_fails() {
        for frame in [
            // A modification of an unknown kind.
            r#"{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":2,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"Nope","queryId":1}]}"#,
            // A timestamp that is not 8 bytes.
            r#"{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAA="},"endVersion":{"querySet":2,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[]}"#,
            // No end version.
            r#"{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[]}"#,
        ] {
            assert!(decode_with_crate(frame).is_err(), "{frame}");
            assert!(decode(frame).is_err(), "{frame}");
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
