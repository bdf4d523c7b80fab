//! feed (placeholder: filled in by its issue).
