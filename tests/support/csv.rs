//! A strict RFC 4180 reader, for tests to check what `export --format csv` wrote: CRLF
//! between records, quoted fields with doubled quotes, nothing lenient. Used by the library's
//! unit tests (by path) and by the integration tests (`mod support`).

/// Every record of `text`, field by field; panics on anything RFC 4180 does not allow.
pub fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '\n', "a bare LF outside quotes");
                field.push(c);
            }
        }
    }
    assert!(
        record.is_empty() && field.is_empty() && !quoted,
        "the last record is unterminated"
    );
    records
}
