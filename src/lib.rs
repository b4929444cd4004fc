//! Test and benchmark host of the sparse-losses workspace. It has no API of its own; it
//! compiles the README's example as a doc-test, so that the README stays true.
#![doc = include_str!("../README.md")]
