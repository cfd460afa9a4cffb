//! Export benchmark (written below).
fn main() {}
