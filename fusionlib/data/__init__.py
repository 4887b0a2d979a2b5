"""Data: the synthetic cohort and the container every arm consumes (:mod:`.cohort`), thermal maps (:mod:`.thermal`),
the clinical CSV's schema and features (:mod:`.schema`, :mod:`.features`), the public DFU files and their readers
(:mod:`.datasets`, :mod:`.dfu`) and patient-grouped splits (:mod:`.splits`)."""
