"""Experiments built on the engine: the architecture-knowledge experiment
(:mod:`akd.studies.arch_knowledge`)."""
