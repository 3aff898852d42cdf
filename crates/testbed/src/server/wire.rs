//! Server messages to JSON text.
//!
//! `convex_sync_types` converts a `ServerMessage` into a `serde_json::Value`
//! first, and its `json!` literals deep-copy every query result on the way
//! (`to_value(&value)`), then the tree is serialised. For Transitions (the
//! hot message: every query answer) that copy and the temporary maps were
//! the top cost of a light query, so Transitions are written straight to
//! text here, in exactly the layout the crate produces (the tests compare
//! the two byte for byte). Every other message goes through the crate.

use std::io::Write;

use convex_sync_types::{ServerMessage, StateModification};
use serde::Serialize;
use serde_json::Value;

/// The JSON text of `message`, identical to
/// `serde_json::Value::from(message).to_string()`.
pub fn encode(message: ServerMessage<Value>) -> String {
    match message {
        ServerMessage::Transition {
            start_version,
            end_version,
            modifications,
            client_clock_skew,
            server_ts,
        } => {
            let mut out = Vec::with_capacity(256);
            out.extend_from_slice(br#"{"type":"Transition","startVersion":"#);
            write_json(&mut out, &Value::from(start_version));
            out.extend_from_slice(br#","endVersion":"#);
            write_json(&mut out, &Value::from(end_version));
            out.extend_from_slice(br#","modifications":["#);
            for (i, modification) in modifications.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_modification(&mut out, modification);
            }
            out.extend_from_slice(br#"],"clientClockSkew":"#);
            write_json(&mut out, &client_clock_skew);
            out.extend_from_slice(br#","serverTs":"#);
            write_json(&mut out, &Value::from(server_ts));
            out.push(b'}');
            String::from_utf8(out).expect("serde_json writes UTF-8")
        }
        other => Value::from(other).to_string(),
    }
}

fn write_modification(out: &mut Vec<u8>, modification: StateModification<Value>) {
    match modification {
        StateModification::QueryUpdated {
            query_id,
            value,
            log_lines,
            journal,
        } => {
            out.extend_from_slice(br#"{"type":"QueryUpdated","queryId":"#);
            write_json(out, &query_id);
            out.extend_from_slice(br#","value":"#);
            write_json(out, &value);
            out.extend_from_slice(br#","logLines":"#);
            write_json(out, &log_lines);
            out.extend_from_slice(br#","journal":"#);
            write_json(out, &journal);
            out.push(b'}');
        }
        // Rare (failures, removals) and small: the crate's own conversion.
        other => write_json(out, &Value::from(other)),
    }
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serialising these types into memory cannot fail (string keys only).
    serde_json::to_writer(&mut *out, value).expect("serialisable to JSON");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use convex_sync_types::types::LogLinesMessage;
    use convex_sync_types::{QueryId, StateVersion, Timestamp};
    use serde_json::json;

    fn reference(message: ServerMessage<Value>) -> String {
        Value::from(message).to_string()
    }

    fn version(query_set: u32, ts: u64) -> StateVersion {
        StateVersion {
            query_set,
            identity: 3,
            ts: Timestamp::try_from(ts).unwrap(),
        }
    }

    fn transition(
        modifications: Vec<StateModification<Value>>,
        skew: Option<i64>,
        server_ts: Option<u64>,
    ) -> ServerMessage<Value> {
        ServerMessage::Transition {
            start_version: version(4, 1_700_000_000_000_000_000),
            end_version: version(5, 1_700_000_000_123_456_789),
            modifications,
            client_clock_skew: skew,
            server_ts: server_ts.map(|ts| Timestamp::try_from(ts).unwrap()),
        }
    }

    fn sample_modifications() -> Vec<StateModification<Value>> {
        vec![
            StateModification::QueryUpdated {
                query_id: QueryId::new(7),
                value: json!([{"_id": "abc", "_creationTime": 1.5e12, "body": "h\u{e9}llo \"q\"\n",
                    "rand": 0.25, "nested": {"z": 1, "a": [null, true, -3]}}]),
                log_lines: LogLinesMessage(vec!["[LOG] 'x'".into()]),
                journal: None,
            },
            StateModification::QueryFailed {
                query_id: QueryId::new(8),
                error_message: "Injected fault".into(),
                log_lines: LogLinesMessage(vec![]),
                journal: None,
                error_data: Some(json!({"code": 1})),
            },
            StateModification::QueryRemoved {
                query_id: QueryId::new(9),
            },
            StateModification::QueryUpdated {
                query_id: QueryId::new(10),
                value: Value::Null,
                log_lines: LogLinesMessage(vec![]),
                journal: Some("j".into()),
            },
        ]
    }

    #[test]
    fn transitions_match_the_crate_byte_for_byte() {
        let cases = [
            transition(
                sample_modifications(),
                Some(-12),
                Some(1_700_000_000_999_999_999),
            ),
            transition(sample_modifications(), None, None),
            transition(Vec::new(), Some(0), None),
        ];
        for case in cases {
            assert_eq!(encode(case.clone()), reference(case));
        }
    }

    #[test]
    fn other_messages_use_the_crate() {
        let ping: ServerMessage<Value> = ServerMessage::Ping;
        assert_eq!(encode(ping.clone()), reference(ping));
        let response = ServerMessage::MutationResponse {
            request_id: 3,
            result: Ok(json!({"k": [1, 2]})),
            ts: Some(Timestamp::try_from(42u64).unwrap()),
            log_lines: LogLinesMessage(vec![]),
        };
        assert_eq!(encode(response.clone()), reference(response));
    }
}
