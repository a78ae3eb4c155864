//! `cargo xtask bless`: writes a golden file from many runs of a lesson,
//! keeping every hole and block the current golden has, and only if the runs
//! agree.

use crate::golden::{self, Golden, Item};

/// The golden text one run's stdout calls for: each golden item that still
/// matches keeps its text (holes, blocks and comments included); every other
/// line is written with holes for its pids, durations and addresses. Items
/// are kept by a longest alignment, so one new line does not lose the rest.
pub fn golden_for(existing: Option<&Golden>, output: &str, exit: i32) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let Some(golden) = existing else {
        let mut out = Vec::new();
        if exit != 0 {
            out.push(format!("#@ exit: {exit}"));
        }
        out.extend(lines.iter().map(|l| golden::autohole(l)));
        return out;
    };
    let items = &golden.items;
    let fits = |i: usize, j: usize| -> Option<usize> {
        match &items[i] {
            Item::Line(p) => (j < lines.len() && p.matches_shape(lines[j])).then_some(1),
            Item::Block(b) => {
                let end = j + b.len();
                let only_this = Golden {
                    items: vec![items[i].clone()],
                    ..golden.clone()
                };
                (end <= lines.len()
                    && golden::check(&only_this, &(lines[j..end].join("\n") + "\n")).is_ok())
                .then_some(b.len())
            }
        }
    };
    // kept[i][j]: the most items kept when aligning items[i..] with lines[j..].
    let (n, m) = (items.len(), lines.len());
    let mut kept = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            let mut best = kept[i + 1][j];
            if j < m {
                best = best.max(kept[i][j + 1]);
            }
            if let Some(len) = fits(i, j) {
                best = best.max(1 + kept[i + 1][j + len]);
            }
            kept[i][j] = best;
        }
    }
    let mut out = golden::header(golden, |l| !l.starts_with("#@ exit:"));
    if exit != 0 {
        out.insert(0, format!("#@ exit: {exit}"));
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n
            && let Some(len) = fits(i, j)
            && kept[i][j] == 1 + kept[i + 1][j + len]
        {
            match &items[i] {
                Item::Line(p) => {
                    out.extend(p.comments.iter().cloned());
                    out.push(p.text.clone());
                }
                Item::Block(b) => out.extend(golden::render_block(b, true)),
            }
            i += 1;
            j += len;
        } else if i < n && kept[i][j] == kept[i + 1][j] {
            i += 1; // This item no longer appears in the output: drop it.
        } else {
            out.push(golden::autohole(lines[j]));
            j += 1;
        }
    }
    out.extend(golden.trailing_comments.iter().cloned());
    out
}

/// Compares the goldens that several runs call for. `Ok` with the text when
/// all agree; otherwise the lines that varied, for the author to decide on.
///
/// # Errors
/// The lines that varied between the candidates, when they disagree.
pub fn agree(candidates: &[Vec<String>]) -> Result<String, Vec<String>> {
    let first = &candidates[0];
    let mut varied = Vec::new();
    for (run, other) in candidates.iter().enumerate().skip(1) {
        if other != first {
            let diff = crate::diff::unified(first, other, "run 1", &format!("run {}", run + 1));
            varied.extend(
                diff.lines()
                    .filter(|l| {
                        l.starts_with(['-', '+']) && !l.starts_with("---") && !l.starts_with("+++")
                    })
                    .map(String::from),
            );
        }
    }
    if varied.is_empty() {
        return Ok(first.join("\n") + "\n");
    }
    varied.sort();
    varied.dedup();
    Err(varied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_golden_gets_holes() {
        let text = golden_for(None, "pid=12 took 3ms\nfib = 55\n", 0);
        assert_eq!(text, ["pid=[PID] took [ELAPSED]", "fib = 55"]);
        assert_eq!(golden_for(None, "usage\n", 2), ["#@ exit: 2", "usage"]);
    }

    #[test]
    fn existing_holes_blocks_and_comments_are_kept() {
        let g = golden::parse("#@ timeout: 5s\n#@# the parent\nparent [PID:p]\n#@ any-order\na [INT]\nb\n#@ end\nold line\nend\n")
            .unwrap();
        let text = golden_for(Some(&g), "parent 77\nb\na 3\nnew pid=5\nend\n", 0);
        assert_eq!(
            text,
            [
                "#@ timeout: 5s",
                "#@# the parent",
                "parent [PID:p]",
                "#@ any-order",
                "a [INT]",
                "b",
                "#@ end",
                "new pid=[PID]",
                "end"
            ]
        );
    }

    #[test]
    fn runs_that_disagree_name_the_varying_lines() {
        let a = vec!["x".to_string(), "1".to_string()];
        let b = vec!["x".to_string(), "2".to_string()];
        assert_eq!(agree(&[a.clone(), a.clone()]).unwrap(), "x\n1\n");
        assert_eq!(agree(&[a, b]).unwrap_err(), ["+2", "-1"]);
    }
}
