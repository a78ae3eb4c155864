//! Cross-lesson tests live in `tests/`; this crate's binaries (`src/bin/`)
//! are misbehaving fake lessons that prove `verify` catches what it should.
