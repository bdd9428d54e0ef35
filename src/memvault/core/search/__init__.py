"""Search: the stages between a query and ranked memories.

:mod:`.pipeline` runs them in order (validate → working → retrieve → explain → context →
budget); :mod:`.retrieve` is hybrid retrieval over episodic memory (lexical, speakers,
vector), which combines rankings with :mod:`.fusion` and spreads scores along sessions with
:mod:`.timeline`; :mod:`.working` searches the caller's session; :mod:`.explain` says why
each hit was found and scores it on one scale for every query; :mod:`.budget` fits the hits
in the character budget by shortening long ones to excerpts (:mod:`.excerpt`), never by
dropping them. A new stage goes in a module of its own, called from
:func:`.pipeline.run` (a stage of the result) or :func:`.retrieve.retrieve` (a stage of the
ranking).
"""
