//! The exercises: where they are (the catalogue, `harness::exercises`),
//! how they are graded ([`grade`], under the conditions of [`stress`]), and
//! what the learner has solved ([`progress`]).

pub mod grade;
pub mod progress;
pub mod stress;

pub use harness::exercises::{Answer, Exercise, Kind, all, find, folder};
pub use harness::workspace::shown;
