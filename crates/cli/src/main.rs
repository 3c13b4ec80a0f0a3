//! The `kerascam` command-line tool.
fn main() {}
