//! Hard-wrapping for read-only text (a dry-run, a report) so that nothing is cut off at the
//! popup's edge on an 80-column terminal: a dry-run must show exactly what it would call.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// `text` broken into lines at most `width` columns wide, preferring spaces; a continuation
/// is indented two columns past its line's own indent so it reads as part of it.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.width() <= width || width < 8 {
            out.push(line.to_string());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let pad = " ".repeat((indent + 2).min(width / 2));
        let mut rest = line;
        let mut first = true;
        while !rest.is_empty() {
            let room = if first { width } else { width - pad.len() };
            let (head, tail) = split_at_width(rest, room);
            out.push(if first {
                head.trim_end().to_string()
            } else {
                format!("{pad}{}", head.trim_end())
            });
            rest = tail.trim_start();
            first = false;
        }
    }
    out
}

/// The longest head of `s` that fits in `room` columns, broken after a space when one
/// falls in its second half.
fn split_at_width(s: &str, room: usize) -> (&str, &str) {
    let mut used = 0;
    let mut cut = s.len();
    let mut space = None;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            cut = i;
            break;
        }
        used += w;
        if c == ' ' && used > room / 2 {
            space = Some(i + 1);
        }
    }
    if cut == s.len() {
        return (s, "");
    }
    // A character wider than the whole room still has to go somewhere.
    let at = space
        .unwrap_or(cut)
        .max(s.chars().next().map_or(0, char::len_utf8));
    s.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_left_alone() {
        assert_eq!(wrap("a b\n  c", 10), ["a b", "  c"]);
    }

    #[test]
    fn long_lines_break_at_spaces_and_keep_every_character() {
        let sql = "   → SQL mariadb-0: STOP SLAVE; SET GLOBAL read_only=ON; CHANGE MASTER TO x";
        let lines = wrap(sql, 30);
        assert!(lines.iter().all(|l| l.width() <= 30), "{lines:?}");
        assert_eq!(lines[0], "   → SQL mariadb-0: STOP");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("     ")),
            "{lines:?}"
        );
        let joined: String = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        assert_eq!(joined, sql.trim());
    }

    #[test]
    fn a_word_longer_than_the_line_is_cut_by_width() {
        let lines = wrap("x".repeat(25).as_str(), 10);
        assert_eq!(lines, ["xxxxxxxxxx", "  xxxxxxxx", "  xxxxxxx"]);
        let wide = wrap("가나다라마바사아자차", 10);
        assert!(wide.iter().all(|l| l.width() <= 10), "{wide:?}");
        assert_eq!(wide.concat().replace(' ', ""), "가나다라마바사아자차");
    }
}
