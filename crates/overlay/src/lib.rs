//! kerascam overlay (under construction).
