"""Text analysis without a model: search terms (:mod:`.terms`), speaker labels
(:mod:`.speakers`) and entity names (:mod:`.entities`), sharing one stop-word list
(:mod:`.stopwords`)."""
