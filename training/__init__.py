"""Training recipes, split files and the tools that turn a run record into a model card."""
