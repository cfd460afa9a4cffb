//! Exchange simulator.
