"""What to ask for: the diagram model, graph and walks, documents, jobs and prompts, replies."""
