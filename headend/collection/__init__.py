"""The collection engine (issue 6): plans per terminal class (:mod:`.plans`), the engine that runs them
(:mod:`.engine`) and terminal-initiated reports (:mod:`.reports`). See docs/collection.md "Plans"."""
