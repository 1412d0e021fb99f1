"""Planning: from a request in plain language to a plan of steps."""
