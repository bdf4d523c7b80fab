//! notify (placeholder: filled in by its issue).
