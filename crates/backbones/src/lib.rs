//! kerascam backbones (under construction).
