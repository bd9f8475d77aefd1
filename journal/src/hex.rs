//! Lower-case hex, as digests and blob values are printed.

/// `bytes` as lower-case hex, two digits per byte (a 32-byte digest gives 64 characters).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
