"""The daily loop: select, instruct, review, replace, read, reconcile, decide, evaluate models."""
