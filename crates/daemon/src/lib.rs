//! The 24/7 collector.
