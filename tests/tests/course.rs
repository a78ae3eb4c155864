//! The course's own checks, in one place: every lesson and every exercise
//! has its files, what is generated is up to date, the READMEs name what
//! exists. Adding a lesson or an exercise is a few files and `cargo xtask
//! codegen`; these tests say what is missing.

use harness::exercises::{all, find};
use harness::workspace::{self, shown};

#[test]
fn every_generated_part_is_up_to_date() {
    let stale = harness::codegen::stale().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        stale.is_empty(),
        "out of date: {}; run `cargo xtask codegen` and commit what it writes",
        stale
            .iter()
            .map(|p| shown(p))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn every_lesson_has_its_readme_golden_python_twin_and_a_row_in_the_course_readme() {
    let lessons = workspace::lessons().expect("cargo metadata");
    let course_readme =
        std::fs::read_to_string(workspace::root().join("README.md")).expect("README.md");
    for lesson in lessons {
        for file in [
            "README.md",
            "golden.stdout",
            "python/lesson.py",
            "tests/cli.rs",
        ] {
            assert!(
                lesson.dir.join(file).is_file(),
                "lesson {} has no {file}",
                lesson.name
            );
        }
        assert!(
            !lesson.title.is_empty(),
            "lesson {} has no description in Cargo.toml",
            lesson.name
        );
        assert!(
            !lesson.python.is_empty(),
            "lesson {} has no [package.metadata.course] python",
            lesson.name
        );
        let main_rs = std::fs::read_to_string(lesson.dir.join("src/main.rs")).expect("main.rs");
        assert!(
            main_rs.contains("start_lesson(env!(\"CARGO_PKG_NAME\"))"),
            "lesson {}'s main must call start_lesson(env!(\"CARGO_PKG_NAME\"))",
            lesson.name
        );
        let row = format!("| [{}](lessons/{}/) |", lesson.name, lesson.name);
        assert!(
            course_readme.contains(&row),
            "README.md's lesson table has no row for {}",
            lesson.name
        );
    }
}

#[test]
fn no_golden_line_is_wider_than_100_columns() {
    let root = workspace::root();
    let mut goldens = Vec::new();
    for folder in ["lessons", "exercises"] {
        let mut stack = vec![root.join(folder)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable folder").flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() && name != "target" {
                    stack.push(path);
                } else if name.starts_with("golden.std") {
                    goldens.push(path);
                }
            }
        }
    }
    assert!(
        goldens.len() >= 6 + 12,
        "found {} golden files",
        goldens.len()
    );
    for golden in goldens {
        let text = std::fs::read_to_string(&golden).expect("golden");
        for (number, line) in text.lines().enumerate() {
            if line.starts_with("#@") {
                continue;
            }
            assert!(
                line.chars().count() <= 100,
                "{}:{}: {} columns (at most 100): {line}",
                golden.display(),
                number + 1,
                line.chars().count()
            );
        }
    }
}

#[test]
fn every_lesson_has_two_exercises_and_three_ship_with_a_race() {
    let exercises = all().unwrap();
    for lesson in workspace::lessons().unwrap() {
        let count = exercises.iter().filter(|e| e.lesson == lesson.name).count();
        assert!(count >= 2, "lesson {} has {count} exercises", lesson.name);
    }
    let racy_shipped = exercises
        .iter()
        .filter(|e| e.hint_section("When it races").is_some())
        .count();
    assert!(racy_shipped >= 3, "{racy_shipped}");
    let fixtures = exercises.iter().filter(|e| e.racy.is_some()).count();
    assert!(fixtures >= 3, "{fixtures}");
}

#[test]
fn exercises_are_found_by_id_short_id_name_and_folder() {
    let exercises = all().unwrap();
    for query in [
        "02.1",
        "2.1",
        "flush-before-fork",
        "02-fork/1-flush-before-fork",
    ] {
        assert_eq!(find(&exercises, query).unwrap().id, "02.1", "{query}");
    }
    let error = find(&exercises, "9.9").unwrap_err();
    assert!(error.contains("01.1"), "{error}");
}

#[test]
fn the_readme_and_each_lesson_readme_list_its_exercises() {
    let root = workspace::root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for exercise in all().unwrap() {
        let source = shown(&exercise.source());
        assert!(readme.contains(&source), "README.md lacks {source}");
        let lesson = root
            .join("lessons")
            .join(&exercise.lesson)
            .join("README.md");
        let text = std::fs::read_to_string(&lesson).unwrap();
        let check = format!("cargo xtask check {}", exercise.id);
        assert!(text.contains(&check), "{} lacks `{check}`", shown(&lesson));
    }
}

#[test]
fn hints_have_a_body_and_a_section_for_hangs() {
    for exercise in all().unwrap() {
        assert!(exercise.hint().len() > 40, "{}", exercise.id);
        assert!(
            exercise.hint_section("When it hangs").is_some(),
            "{}: hint.md needs a `## When it hangs` section",
            exercise.id
        );
    }
}
