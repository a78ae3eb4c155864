//! `cargo xtask compare`: two outputs side by side, or one after the other
//! when the terminal is too narrow for two readable columns.

/// Lays out two titled texts: side by side if `width` allows two columns of
/// at least 78 characters, else one after the other.
pub fn render(
    left_title: &str,
    left: &str,
    right_title: &str,
    right: &str,
    width: usize,
) -> String {
    let column = (width.saturating_sub(3)) / 2;
    if column < 78 {
        return format!("--- {left_title}\n{left}\n--- {right_title}\n{right}\n");
    }
    let left_lines: Vec<String> = std::iter::once(left_title.to_string())
        .chain(left.lines().map(String::from))
        .collect();
    let right_lines: Vec<String> = std::iter::once(right_title.to_string())
        .chain(right.lines().map(String::from))
        .collect();
    let rows = left_lines.len().max(right_lines.len());
    let mut out = String::new();
    for i in 0..rows {
        let l = left_lines.get(i).map_or("", String::as_str);
        let r = right_lines.get(i).map_or("", String::as_str);
        out += &format!("{} | {}\n", fit(l, column), fit(r, column).trim_end());
    }
    out
}

/// `text` cut or padded to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        format!("{text}{}", " ".repeat(width - count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_get_one_after_the_other() {
        let out = render("Python", "a\nb", "Rust", "c", 100);
        assert_eq!(out, "--- Python\na\nb\n--- Rust\nc\n");
    }

    #[test]
    fn wide_terminals_get_two_columns_of_equal_width() {
        let out = render("Python", "a\nb", "Rust", "c", 200);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Python ") && lines[0].ends_with(" | Rust"));
        assert_eq!(lines[1].find(" | "), lines[2].find(" | "));
        assert!(lines[2].ends_with(" | "));
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("µµ", 2), "µµ");
    }
}
