//! A unified diff of a golden and a lesson's output, by the `similar` crate
//! (Myers' algorithm; no dependencies of its own), capped so that a lesson
//! that floods its output still gets a readable failure.

/// Renders `expected` against `actual` as a unified diff with 3 lines of
/// context. Empty when they are equal.
pub fn unified(
    expected: &[String],
    actual: &[String],
    expected_name: &str,
    actual_name: &str,
) -> String {
    if expected == actual {
        return String::new();
    }
    let (old, new) = (as_text(expected), as_text(actual));
    // Myers' algorithm costs O(N·D): two long texts that differ everywhere
    // would take minutes. Past the deadline `similar` settles for a diff
    // that is correct but not the shortest, so any failure is reported at
    // once; only the first lines are shown anyway.
    let diff = similar::TextDiff::configure()
        .timeout(DIFF_TIME)
        .diff_lines(&old, &new);
    let out = diff
        .unified_diff()
        .context_radius(3)
        .header(expected_name, actual_name)
        .to_string();
    cap_lines(out, MAX_DIFF_LINES)
}

/// Lines joined, each ending in a newline (so no "no newline at end of
/// file" marker appears).
fn as_text(lines: &[String]) -> String {
    lines.iter().flat_map(|l| [l.as_str(), "\n"]).collect()
}

/// How long the diff may look for the shortest edit script.
const DIFF_TIME: std::time::Duration = std::time::Duration::from_millis(500);

/// The most lines a diff shows: enough to see what went wrong; the whole
/// output is saved to a file (a 100 000-line golden would otherwise fill
/// the terminal).
const MAX_DIFF_LINES: usize = 80;

/// `text` cut after `max` lines, with a last line that says how many more.
fn cap_lines(text: String, max: usize) -> String {
    let total = text.lines().count();
    if total <= max {
        return text;
    }
    let mut out: String = text.lines().take(max).flat_map(|l| [l, "\n"]).collect();
    out += &format!("... and {} more lines of diff\n", total - max);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    /// Two 100 000-line texts that differ on every line: the worst case of
    /// Myers' algorithm, which took minutes of CPU before the diff had a
    /// deadline. The bound is wide (the deadline is half a second): it only
    /// tells a deadline from none.
    #[test]
    fn a_huge_diff_that_differs_everywhere_is_ready_within_seconds() {
        let expected: Vec<String> = (0..100_000).map(|i| format!("line {i}")).collect();
        let actual: Vec<String> = (0..100_000).map(|i| format!("other {}", i * 7)).collect();
        let started = std::time::Instant::now();
        let diff = unified(&expected, &actual, "golden", "output");
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
        assert!(diff.contains("more lines of diff"), "{diff}");
        assert!(diff.starts_with("--- golden\n+++ output\n"), "{diff}");
    }

    #[test]
    fn equal_texts_give_no_diff() {
        assert_eq!(unified(&lines("a\nb"), &lines("a\nb"), "x", "y"), "");
    }

    #[test]
    fn a_changed_line_shows_as_minus_and_plus_with_context() {
        let diff = unified(
            &lines("1\n2\n3\n4\n5\n6\n7\n8\n9"),
            &lines("1\n2\n3\n4\nfive\n6\n7\n8\n9"),
            "golden",
            "output",
        );
        assert_eq!(
            diff,
            "--- golden\n+++ output\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn missing_and_extra_lines() {
        let diff = unified(&lines("a\nb\nc"), &lines("a\nc\nd"), "g", "o");
        assert_eq!(diff, "--- g\n+++ o\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n");
    }

    #[test]
    fn a_long_diff_is_cut_and_says_how_much_is_left() {
        let expected: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let actual: Vec<String> = (0..1000).map(|i| format!("other {i}")).collect();
        let diff = unified(&expected, &actual, "golden", "output");
        assert_eq!(diff.lines().count(), MAX_DIFF_LINES + 1);
        assert!(diff.ends_with("more lines of diff\n"), "{diff}");
    }
}
