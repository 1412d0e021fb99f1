"""HTTP API: starts runs and reads their state."""
