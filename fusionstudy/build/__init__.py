"""Building the book: the task graph and papermill (:mod:`.study`), its pages (:mod:`.pages`), the console,
provenance, peak memory, HTML/PDF publishing and the pinned values with their tolerances (:mod:`.pin`)."""
