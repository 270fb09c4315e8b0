//! Targets: the in-process reference, a remote URL, a target profile file.
