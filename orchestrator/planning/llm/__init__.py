"""The LLM planner: a language model reads the request into actions; the dependency
synthesiser and the graph decide the order, exactly as for the offline planner."""
