//! kerascam gradcam-core (under construction).
