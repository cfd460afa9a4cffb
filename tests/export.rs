//! Export tests (written below).
