//! bus (placeholder: filled in by its issue).
