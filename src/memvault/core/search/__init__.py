"""Search: the stages between a query and ranked memories.

:mod:`.pipeline` runs them in order (validate → working → retrieve → context → budget);
:mod:`.retrieve` is hybrid retrieval over episodic memory (lexical, speakers, vector), which
combines rankings with :mod:`.fusion` and spreads scores along sessions with
:mod:`.timeline`; :mod:`.working` searches the caller's session; :mod:`.budget` cuts the
result to its character budget. A new stage goes in a module of its own, called from
:func:`.pipeline.run` (a stage of the result) or :func:`.retrieve.retrieve` (a stage of the
ranking).
"""
