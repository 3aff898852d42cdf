//! Document ids. Like Convex's, an id string is base32 (lowercase
//! Crockford alphabet) of: the table number as a varint, 16 random bytes,
//! and a 2-byte Fletcher-16 checksum. So an id names its table and a typo
//! is detected, as in Convex; the exact byte layout is our own.

use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId {
    pub table: u32,
    pub internal: [u8; 16],
}

impl DocId {
    pub fn random(table: u32) -> DocId {
        DocId {
            table,
            internal: rand::random(),
        }
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(23);
        let mut n = self.table;
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
        bytes.extend_from_slice(&self.internal);
        let sum = fletcher16(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        base32_encode(&bytes)
    }

    /// Parses an id string; the error says why it is not an id.
    pub fn decode(s: &str) -> Result<DocId, String> {
        let invalid = |why: &str| format!("Invalid ID \"{s}\": {why}");
        let bytes = base32_decode(s).ok_or_else(|| invalid("not base32"))?;
        if bytes.len() < 19 {
            return Err(invalid("too short"));
        }
        let (body, footer) = bytes.split_at(bytes.len() - 2);
        if fletcher16(body).to_le_bytes() != footer {
            return Err(invalid("checksum mismatch"));
        }
        let mut table: u32 = 0;
        let mut shift = 0;
        let mut pos = 0;
        loop {
            let byte = *body
                .get(pos)
                .ok_or_else(|| invalid("truncated table number"))?;
            pos += 1;
            if shift > 28 {
                return Err(invalid("table number too large"));
            }
            table |= u32::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let internal: [u8; 16] = body[pos..]
            .try_into()
            .map_err(|_| invalid("wrong length"))?;
        Ok(DocId { table, internal })
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

fn fletcher16(bytes: &[u8]) -> u16 {
    let (mut a, mut b) = (0u16, 0u16);
    for &byte in bytes {
        a = (a + u16::from(byte)) % 255;
        b = (b + a) % 255;
    }
    (b << 8) | a
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_detect_corruption() {
        for table in [1, 2, 127, 128, 300_000] {
            let id = DocId::random(table);
            let text = id.encode();
            assert_eq!(DocId::decode(&text), Ok(id));
            let mut corrupted = text.into_bytes();
            corrupted[5] = if corrupted[5] == b'a' { b'b' } else { b'a' };
            let corrupted = String::from_utf8(corrupted).unwrap();
            assert!(DocId::decode(&corrupted).is_err(), "{corrupted} decoded");
        }
        assert!(
            DocId::decode("not an id!")
                .unwrap_err()
                .contains("not an id!")
        );
    }
}
