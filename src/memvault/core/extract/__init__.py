"""Profile extraction: an optional LLM reads each new memory behind the write and records
the lasting facts it states in the profile (see :mod:`.worker` for the queue's consumer,
:mod:`.client` for the model, :mod:`.schema` for the answer, :mod:`.apply` for the rules).
Off unless ``llm.model`` is configured; an add never waits for it."""

from memvault.core.extract.worker import Extraction

__all__ = ["Extraction"]
