//! Snapshot export archive: one folder per table holding `documents.jsonl`
//! (one Convex-JSON document per line), the layout of a Convex snapshot
//! export zip. The caller supplies the documents as of the snapshot
//! timestamp; this module only encodes and decodes the archive.
//!
//! The `zip` crate (2.x) needs a seekable writer, so exports are written to
//! a file (or memory) and then streamed to the client.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, Write};

use serde_json::Value;
use zip::write::SimpleFileOptions;

/// Name of the per-table file inside each table folder.
pub const DOCUMENTS_FILE: &str = "documents.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotZipError {
    #[error("table name {0:?} cannot be a folder in a snapshot zip")]
    BadTableName(String),
    #[error("table {0:?} appears twice in one snapshot")]
    DuplicateTable(String),
    #[error("snapshot zip entry {entry:?} line {line}: {message}")]
    BadEntry {
        entry: String,
        line: usize,
        message: String,
    },
    #[error("snapshot zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("snapshot zip I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Table names become folder names; refuse anything that could escape or
/// collide (Convex table names are identifiers, so nothing real is lost).
fn check_table_name(name: &str) -> Result<(), SnapshotZipError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SnapshotZipError::BadTableName(name.to_string()))
    }
}

/// Write `tables` (name, documents) into a zip on `writer`; returns the
/// writer. Empty tables still get a folder with an empty `documents.jsonl`,
/// so the archive lists every table that existed at the snapshot.
pub fn write_snapshot_zip<W, N, D, V>(
    writer: W,
    tables: impl IntoIterator<Item = (N, D)>,
) -> Result<W, SnapshotZipError>
where
    W: Write + Seek,
    N: AsRef<str>,
    D: IntoIterator<Item = V>,
    V: std::borrow::Borrow<Value>,
{
    let mut zip = zip::ZipWriter::new(writer);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let mut seen = std::collections::BTreeSet::new();
    let mut line = Vec::new();
    for (name, documents) in tables {
        let name = name.as_ref();
        check_table_name(name)?;
        if !seen.insert(name.to_string()) {
            return Err(SnapshotZipError::DuplicateTable(name.to_string()));
        }
        zip.add_directory(format!("{name}/"), options)?;
        zip.start_file(format!("{name}/{DOCUMENTS_FILE}"), options)?;
        for document in documents {
            line.clear();
            serde_json::to_writer(&mut line, document.borrow()).map_err(std::io::Error::from)?;
            line.push(b'\n');
            zip.write_all(&line)?;
        }
    }
    Ok(zip.finish()?)
}

/// Read a snapshot zip back into table name -> documents (in file order).
/// Used by tests and by anyone checking an export; entries other than
/// `<table>/documents.jsonl` are ignored.
pub fn read_snapshot_zip<R: Read + Seek>(
    reader: R,
) -> Result<BTreeMap<String, Vec<Value>>, SnapshotZipError> {
    let mut archive = zip::ZipArchive::new(reader)?;
    let mut tables = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i)?;
        let entry_name = entry.name().to_string();
        if entry.is_dir() {
            let table = entry_name.trim_end_matches('/');
            tables.entry(table.to_string()).or_insert_with(Vec::new);
            continue;
        }
        let Some(table) = entry_name.strip_suffix(&format!("/{DOCUMENTS_FILE}")) else {
            continue;
        };
        let table = table.to_string();
        let mut documents = Vec::new();
        for (index, text) in BufReader::new(entry).lines().enumerate() {
            let text = text?;
            if text.trim().is_empty() {
                continue;
            }
            let value = serde_json::from_str(&text).map_err(|e| SnapshotZipError::BadEntry {
                entry: entry_name.clone(),
                line: index + 1,
                message: e.to_string(),
            })?;
            documents.push(value);
        }
        tables.insert(table, documents);
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;

    #[test]
    fn round_trip_keeps_every_document_and_table() {
        let messages = vec![
            json!({"_id": "a1", "_creationTime": 1.5, "body": "hi", "rand": {"$integer": "AQAAAAAAAAA="}}),
            json!({"_id": "a2", "_creationTime": 2.5, "body": "line\nbreak \u{e9}"}),
        ];
        let empty: Vec<Value> = Vec::new();
        let tables = vec![("messages", messages.clone()), ("openclaurd", empty)];
        let bytes = write_snapshot_zip(Cursor::new(Vec::new()), tables)
            .unwrap()
            .into_inner();
        let read = read_snapshot_zip(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read["messages"], messages);
        assert!(read["openclaurd"].is_empty());

        // The raw layout: folder entries and one JSON document per line.
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut names: Vec<String> = archive.file_names().map(String::from).collect();
        names.sort();
        assert_eq!(
            names,
            vec![
                "messages/",
                "messages/documents.jsonl",
                "openclaurd/",
                "openclaurd/documents.jsonl"
            ]
        );
        let mut text = String::new();
        archive
            .by_name("messages/documents.jsonl")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn bad_and_duplicate_table_names_are_refused() {
        for bad in ["", "../etc", "a/b", ".hidden", "sp ace"] {
            let err = write_snapshot_zip(Cursor::new(Vec::new()), [(bad, Vec::<Value>::new())])
                .unwrap_err();
            assert!(
                matches!(err, SnapshotZipError::BadTableName(_)),
                "{bad}: {err}"
            );
        }
        let err = write_snapshot_zip(
            Cursor::new(Vec::new()),
            [("t", Vec::<Value>::new()), ("t", Vec::new())],
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "table \"t\" appears twice in one snapshot");
    }

    #[test]
    fn corrupt_line_is_reported_with_entry_and_line() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            zip.start_file("t/documents.jsonl", SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"{\"a\":1}\nnot json\n").unwrap();
            zip.finish().unwrap();
        }
        let err = read_snapshot_zip(Cursor::new(buf.into_inner()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t/documents.jsonl") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn large_table_compresses_and_reads_back() {
        let docs: Vec<Value> = (0..2000)
            .map(|i| json!({"_id": format!("id{i}"), "ballastArray": vec![i; 100]}))
            .collect();
        let bytes = write_snapshot_zip(Cursor::new(Vec::new()), [("messages", &docs)])
            .unwrap()
            .into_inner();
        let raw: usize = docs.iter().map(|d| d.to_string().len() + 1).sum();
        assert!(
            bytes.len() < raw / 5,
            "deflate should shrink repetitive rows"
        );
        assert_eq!(
            read_snapshot_zip(Cursor::new(bytes)).unwrap()["messages"],
            docs
        );
    }
}
