//! Runs rules over cases and emits events.
