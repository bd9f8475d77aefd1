//! Ids as labj compares and prints them (experiment, variant, task ids).

/// Invisible characters that change how text is displayed (bidi controls, zero-width).
pub(crate) fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x061C | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064
        | 0x2066..=0x206F | 0xFEFF)
}

/// The form under which two ids count as the same: Unicode-lowercased. (`a` and `A`
/// would collide as trial directory names on case-insensitive filesystems.)
pub(crate) fn normalized_id(id: &str) -> String {
    id.to_lowercase()
}

/// An id as printed in messages: escaped, so control characters or bidi marks in user
/// input can never rewrite a terminal line.
pub fn escape_id(id: &str) -> String {
    id.chars()
        .flat_map(|c| {
            if c.is_control() || is_format_char(c) {
                format!("\\u{{{:x}}}", c as u32).chars().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
