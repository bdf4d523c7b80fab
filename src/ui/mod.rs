//! ui (placeholder: filled in by its issue).
